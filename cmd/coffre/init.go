package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/keyring"
)

// runInit implements coffre init.
func (m *Main) runInit(ctx context.Context, args []string) error {
	fl := m.newFlagSet("init", "init [--data-dir DIR] [--database-url URL] [--tenant T] [--origin NAME] [--schema FILE]")
	c := storeFlags(fl, true)
	tenant := fl.String("tenant", defaultTenant, "tenant of the first admin token")
	origin := fl.String("origin", "", "name of the audit log, in its signed checkpoints, e.g. coffre.example.org/audit (default coffre/ and 8 random hex digits)")
	if err := fl.parse(args); err != nil {
		return err
	}
	if err := m.resolve(c); err != nil {
		return err
	}
	if !vault.ValidTenantID(*tenant) {
		return usagef("init: invalid --tenant: use 1 to 63 lower-case letters, digits, - or _")
	}
	if *origin == "" {
		*origin = defaultOrigin()
	} else if err := checkOrigin("init", *origin); err != nil {
		return err
	}
	store, svc, token, err := m.initialise(ctx, c, *tenant, *origin)
	if err != nil {
		return err
	}
	defer store.Close()
	defer svc.Close()
	fmt.Fprintln(m.Stdout, token)
	m.initNotice(c, *tenant, *origin)
	return nil
}

// initNotice tells, on Stderr, what init made and what to do with the
// token just printed.
func (m *Main) initNotice(c *storeConfig, tenant, origin string) {
	where := "SQLite database " + c.dbPath()
	if c.postgres() {
		where = "PostgreSQL database"
	}
	key := "root key in " + c.keyPath() + " (mode 0600: back it up, it is never shown)"
	if m.Getenv(EnvRootKey) != "" {
		key = "root key from $" + EnvRootKey
	}
	fmt.Fprintf(m.Stderr, "coffre: initialised a vault: %s; %s; tenant %q.\n", where, key, tenant)
	fmt.Fprintf(m.Stderr, "coffre: the audit log %q signs its checkpoints with the key in %s (mode 0600: back it up); auditors verify them with coffre audit public-key.\n",
		origin, c.auditKeyPath())
	fmt.Fprintf(m.Stderr, "coffre: the line on standard output is an admin token for tenant %q, shown only this once: store it now.\n", tenant)
	fmt.Fprintf(m.Stderr, "coffre: more tokens: coffre token create --tenant %s --role agent --purpose casework\n", tenant)
}

// initialise makes a new vault: the data folder (0700), a root key file
// (0600) unless COFFRE_ROOT_KEY gives the key, the audit log's signing key
// pair named origin (audit.key 0600, audit.pub), the database with its
// migrations, the tenant and a first admin token. It never overwrites a
// key: it refuses a data folder that has one, a SQLite database without a
// key, and a tenant that exists already. On failure it removes what it
// created. The caller owns the returned store and service.
func (m *Main) initialise(ctx context.Context, c *storeConfig, tenant, origin string) (_ vault.Store, _ *vault.Service, token string, err error) {
	schema, err := c.schema()
	if err != nil {
		return nil, nil, "", err
	}
	envKey := m.Getenv(EnvRootKey) != ""
	if exists(c.keyPath()) {
		return nil, nil, "", fmt.Errorf("data folder %s is already initialised: it holds a root key, which init never overwrites", c.dataDir)
	}
	if !c.postgres() && exists(c.dbPath()) && !envKey {
		return nil, nil, "", fmt.Errorf("data folder %s holds a database but no root key: restore %s or set %s", c.dataDir, rootKeyFile, EnvRootKey)
	}
	if exists(c.auditKeyPath()) {
		return nil, nil, "", fmt.Errorf("data folder %s is already initialised: it holds an audit signing key, which init never overwrites", c.dataDir)
	}

	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	// The data folder holds the audit signing key even when the root key
	// comes from the environment and the database is PostgreSQL.
	if fi, serr := os.Stat(c.dataDir); errors.Is(serr, fs.ErrNotExist) {
		if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
			return nil, nil, "", fmt.Errorf("cannot create the data folder: %w", err)
		}
		dir := c.dataDir
		undo = append(undo, func() { os.RemoveAll(dir) })
	} else if serr != nil {
		return nil, nil, "", fmt.Errorf("data folder: %w", serr)
	} else if !fi.IsDir() {
		return nil, nil, "", fmt.Errorf("%s is not a folder", c.dataDir)
	}

	var key keyring.RootKey
	if envKey {
		if key, err = m.rootKey(c); err != nil {
			return nil, nil, "", err
		}
	} else {
		if key, err = keyring.CreateRootKeyFile(c.keyPath()); err != nil {
			return nil, nil, "", fmt.Errorf("cannot create the root key file: %w", err)
		}
		path := c.keyPath()
		undo = append(undo, func() { os.Remove(path) })
	}
	defer key.Destroy()

	if err := m.createAuditKey(c, origin); err != nil {
		return nil, nil, "", err
	}
	undo = append(undo, func() {
		os.Remove(c.auditKeyPath())
		os.Remove(c.auditPubPath())
	})

	if !c.postgres() && !exists(c.dbPath()) {
		db := c.dbPath()
		undo = append(undo, func() {
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				os.Remove(db + suffix)
			}
		})
	}
	store, err := m.openStore(ctx, c)
	if err != nil {
		return nil, nil, "", err
	}
	undo = append(undo, func() { store.Close() })
	// A database that already holds a signed audit log needs that log's
	// key, not the new one.
	if cp, cerr := store.LatestCheckpoint(ctx); cerr != nil {
		return nil, nil, "", fmt.Errorf("init: %w", cerr)
	} else if cp != nil {
		return nil, nil, "", fmt.Errorf("the database already holds a signed audit log: put its key (%s and %s) in the data folder instead of initialising", auditKeyFile, auditPubFile)
	}
	svc, err := m.newService(ctx, c, store, key, schema)
	if err != nil {
		return nil, nil, "", err
	}
	if _, terr := store.Tenant(ctx, tenant); terr == nil {
		return nil, nil, "", fmt.Errorf("tenant %q already exists in the database: use coffre token create to get a token", tenant)
	} else if vault.ErrorCode(terr) != vault.ENOTFOUND {
		return nil, nil, "", fmt.Errorf("init: %w", terr)
	}
	undo = append(undo, func() { svc.Close() })
	token, _, err = svc.IssueToken(ctx, vault.TokenSpec{TenantID: tenant, Role: vault.RoleAdmin})
	if err != nil {
		return nil, nil, "", fmt.Errorf("init: %w", err)
	}
	return store, svc, token, nil
}
