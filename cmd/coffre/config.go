package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/keyring"
	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/sqlite"
)

// Environment variables. A flag given on the command line wins over its
// variable.
const (
	// EnvDataDir names the data folder (--data-dir).
	EnvDataDir = "COFFRE_DATA_DIR"
	// EnvDatabaseURL names a PostgreSQL database (--database-url); without
	// it the store is SQLite in the data folder.
	EnvDatabaseURL = "COFFRE_DATABASE_URL"
	// EnvRootKey holds the root key (standard base64 of 32 bytes). It takes
	// precedence over the data folder's root.key; when both exist they must
	// hold the same key.
	EnvRootKey = "COFFRE_ROOT_KEY"
	// EnvPolicyDir names the directory of the policy bundle (--policy-dir);
	// without it the default policy built into the binary applies.
	EnvPolicyDir = "COFFRE_POLICY_DIR"
	// EnvToken holds the bearer token of coffre bench (--token).
	EnvToken = "COFFRE_TOKEN"
)

// Files of a data folder.
const (
	defaultDataDir = "coffre-data"
	rootKeyFile    = "root.key"
	sqliteFile     = "coffre.db"
	defaultTenant  = "default"
)

// storeConfig says where the vault's data lives.
type storeConfig struct {
	dataDir     string
	databaseURL string
	schemaFile  string
	policyDir   string
}

// storeFlags registers --data-dir, --database-url and, with schema set,
// --schema.
func storeFlags(fl *flagSet, schema bool) *storeConfig {
	c := &storeConfig{}
	fl.storeEnv = true
	fl.StringVar(&c.dataDir, "data-dir", "", "data folder holding root.key and the SQLite database (default $"+EnvDataDir+" or ./"+defaultDataDir+")")
	fl.StringVar(&c.databaseURL, "database-url", "", "PostgreSQL URL postgres://… (default $"+EnvDatabaseURL+"; without one, SQLite in the data folder)")
	if schema {
		fl.StringVar(&c.schemaFile, "schema", "", "field schema file (JSON; default: the shipped civic CRM schema)")
	}
	return c
}

// policyFlag registers --policy-dir.
func policyFlag(fl *flagSet, c *storeConfig) {
	fl.StringVar(&c.policyDir, "policy-dir", "", "directory of the Rego policy bundle (default $"+EnvPolicyDir+", else the default policy built in)")
}

// resolve fills defaults from the environment and checks the values.
func (m *Main) resolve(c *storeConfig) error {
	if c.dataDir == "" {
		c.dataDir = m.Getenv(EnvDataDir)
	}
	if c.dataDir == "" {
		c.dataDir = defaultDataDir
	}
	if c.databaseURL == "" {
		c.databaseURL = m.Getenv(EnvDatabaseURL)
	}
	if c.policyDir == "" {
		c.policyDir = m.Getenv(EnvPolicyDir)
	}
	if u := c.databaseURL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		// Never echo the URL: it may hold a password.
		return usagef("the database URL must be a PostgreSQL URL (postgres://user@host:5432/db); leave it unset for SQLite in the data folder")
	}
	return nil
}

func (c *storeConfig) postgres() bool  { return c.databaseURL != "" }
func (c *storeConfig) keyPath() string { return filepath.Join(c.dataDir, rootKeyFile) }
func (c *storeConfig) dbPath() string  { return filepath.Join(c.dataDir, sqliteFile) }
func (c *storeConfig) storeKind() string {
	if c.postgres() {
		return "postgres"
	}
	return "sqlite"
}

// schema loads the field schema.
func (c *storeConfig) schema() (*vault.Schema, error) {
	if c.schemaFile == "" {
		return vault.DefaultSchema(), nil
	}
	f, err := os.Open(c.schemaFile)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	defer f.Close()
	s, err := vault.ReadSchema(f)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %s", c.schemaFile, vault.ErrorMessage(err))
	}
	return s, nil
}

// errNoRootKey means neither COFFRE_ROOT_KEY nor root.key gives a key.
var errNoRootKey = errors.New("no root key")

// rootKey returns the root key: COFFRE_ROOT_KEY if set (after checking it
// agrees with root.key when that exists too), else the data folder's
// root.key. errNoRootKey when there is neither.
func (m *Main) rootKey(c *storeConfig) (keyring.RootKey, error) {
	env := m.Getenv(EnvRootKey)
	var fileKey keyring.RootKey
	var fileErr error
	fileKey, fileErr = keyring.LoadRootKeyFile(c.keyPath())
	switch {
	case errors.Is(fileErr, fs.ErrNotExist):
		fileErr = errNoRootKey
	case errors.Is(fileErr, keyring.ErrInsecureKeyFile):
		return keyring.RootKey{}, fmt.Errorf("%s can be read by other users: run chmod 600 on it", c.keyPath())
	case fileErr != nil:
		return keyring.RootKey{}, fmt.Errorf("cannot read the root key file %s: %v", c.keyPath(), errors.Unwrap(fileErr))
	}
	if env == "" {
		return fileKey, fileErr
	}
	k, err := keyring.ParseRootKey(env)
	if err != nil {
		return keyring.RootKey{}, fmt.Errorf("%s is not a root key (standard base64 of 32 bytes)", EnvRootKey)
	}
	if fileErr == nil {
		same := k.Equal(fileKey)
		fileKey.Destroy()
		if !same {
			k.Destroy()
			return keyring.RootKey{}, fmt.Errorf("%s and %s hold different root keys: unset one of them", EnvRootKey, c.keyPath())
		}
	}
	return k, nil
}

// needsInit reports whether there is no vault yet: the data folder does
// not exist, and either the store is SQLite (which lives in that folder)
// or no root key is given in the environment (a PostgreSQL vault whose key
// comes from the environment needs no data folder).
func (m *Main) needsInit(c *storeConfig) bool {
	if _, err := os.Stat(c.dataDir); !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	return !c.postgres() || m.Getenv(EnvRootKey) == ""
}

// openStore opens (and migrates) the store c names.
func (m *Main) openStore(ctx context.Context, c *storeConfig) (vault.Store, error) {
	if c.postgres() {
		db, err := postgres.Open(ctx, c.databaseURL)
		if vault.ErrorCode(err) == vault.EUNAVAILABLE {
			// The store says no more than "unavailable"; a direct
			// connection tells the operator why (it names the user,
			// database and host, never the password).
			if conn, cerr := pgx.Connect(ctx, c.databaseURL); cerr != nil {
				return nil, fmt.Errorf("cannot connect to the PostgreSQL database: %v", cerr)
			} else {
				conn.Close(ctx)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("cannot open the PostgreSQL database: %w", err)
		}
		return db, nil
	}
	if fi, err := os.Stat(c.dataDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("data folder %s does not exist: run coffre init (or coffre serve) first", c.dataDir)
	}
	db, err := sqlite.Open(ctx, c.dbPath())
	if err != nil {
		return nil, fmt.Errorf("cannot open the SQLite database: %w", err)
	}
	return db, nil
}

// newService returns the service over store with the root key, its
// decisions made by the policy of c.
func (m *Main) newService(ctx context.Context, c *storeConfig, store vault.Store, key keyring.RootKey, schema *vault.Schema) (*vault.Service, error) {
	kr, err := keyring.New(key)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	authz, err := m.policyEngine(ctx, c, schema)
	if err != nil {
		return nil, err
	}
	svc := vault.NewService(store, kr, authz, schema)
	svc.Now = m.Now
	return svc, nil
}

// openVault opens the store and service of an initialised vault. With
// wrap set, the service runs over wrap(store); the store returned is the
// one to close.
func (m *Main) openVault(ctx context.Context, c *storeConfig, wrap func(vault.Store) vault.Store) (vault.Store, *vault.Service, error) {
	schema, err := c.schema()
	if err != nil {
		return nil, nil, err
	}
	key, err := m.rootKey(c)
	if errors.Is(err, errNoRootKey) {
		return nil, nil, fmt.Errorf("no root key: %s does not exist and %s is unset (run coffre init first)", c.keyPath(), EnvRootKey)
	} else if err != nil {
		return nil, nil, err
	}
	defer key.Destroy()
	store, err := m.openStore(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	inner := store
	if wrap != nil {
		inner = wrap(store)
	}
	svc, err := m.newService(ctx, c, inner, key, schema)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, svc, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
