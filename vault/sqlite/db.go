package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/vault"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migration/*.up.sql
var migrations embed.FS

// busyTimeout is how long a connection waits for a lock held by another
// process on the same file before failing. Within one process there is a
// single writer, so it only matters when two processes share the file, or
// for the brief exclusive moments of WAL recovery and checkpointing.
const busyTimeout = 10 * time.Second

// DB is a vault.Store in one SQLite file. It is safe for concurrent use.
type DB struct {
	path    string
	now     func() time.Time
	readers int

	// w is the single writer: one connection, BEGIN IMMEDIATE.
	w *sql.DB
	// r is the pool of read-only connections.
	r *sql.DB
	// st are the prepared statements of the hot paths.
	st stmts

	// noAudit makes the writes leave out their audit entry. It is set only
	// by the benchmarks, to measure what the entry costs a write.
	noAudit bool
}

// stmts are the statements of the hot paths, prepared once at Open on the
// pool that runs them. database/sql keeps a statement prepared on each
// connection it ran on and Tx.StmtContext reuses it, so creating or
// reading a contact parses no SQL. They are prepared up front, never
// lazily: preparing on the one-connection writer while a transaction holds
// it would wait forever.
type stmts struct {
	// On the writer.
	insertContact, insertLookup, insertToken, findUnique, appendEntry, sequenceEntries *sql.Stmt
	// On the readers.
	contact, contactLookups, contactTokens, findContacts, lookupsIn, tokensIn *sql.Stmt
}

// prepare prepares the statements of pool.
func prepare(ctx context.Context, pool *sql.DB, list map[**sql.Stmt]string) error {
	for stmt, query := range list {
		var err error
		if *stmt, err = pool.PrepareContext(ctx, query); err != nil {
			return fmt.Errorf("prepare %q: %w", query, err)
		}
	}
	return nil
}

// close closes the statements that were prepared.
func (st *stmts) close() {
	for _, s := range []*sql.Stmt{st.insertContact, st.insertLookup, st.insertToken, st.findUnique, st.appendEntry,
		st.sequenceEntries, st.contact, st.contactLookups, st.contactTokens, st.findContacts, st.lookupsIn, st.tokensIn} {
		if s != nil {
			s.Close()
		}
	}
}

var _ vault.Store = (*DB)(nil)

// Option configures a DB at Open.
type Option func(*DB)

// WithNow sets the clock used for the times a caller left zero (a record's
// CreatedAt and UpdatedAt, an audit entry's Time, …) and for the migration
// log. The default is time.Now.
func WithNow(now func() time.Time) Option {
	return func(db *DB) {
		if now != nil {
			db.now = now
		}
	}
}

// WithReaders sets the size of the read connection pool; the default is
// GOMAXPROCS, at least 4.
func WithReaders(n int) Option {
	return func(db *DB) {
		if n > 0 {
			db.readers = n
		}
	}
}

// Open opens the store in the SQLite file at path, creating it (mode 0600)
// if it does not exist, and applies pending migrations. The directory must
// exist. It returns EINVALID for a path that is not a plain file name
// (":memory:", a "file:" URI, a name with '?' or '#').
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	const op = "sqlite.Open"
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Database path must be a plain file name."))
	}
	db := &DB{path: path, now: time.Now, readers: max(4, runtime.GOMAXPROCS(0))}
	for _, opt := range opts {
		opt(db)
	}

	// Create the file ourselves so that it, and the -wal and -shm files
	// SQLite derives from it, are readable by the owner only.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}

	if err := db.open(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return db, nil
}

func (db *DB) open(ctx context.Context) (err error) {
	timeout := strconv.FormatInt(busyTimeout.Milliseconds(), 10)
	db.w, err = sql.Open("sqlite", db.path+"?_txlock=immediate&_busy_timeout="+timeout+
		"&_foreign_keys=1&_journal_mode=WAL&_synchronous=FULL&_pragma=secure_delete(1)")
	if err != nil {
		return err
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)
	var mode string
	if err := db.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	if err := prepare(ctx, db.w, map[**sql.Stmt]string{
		&db.st.insertContact:   qInsertContact,
		&db.st.insertLookup:    qInsertLookup,
		&db.st.insertToken:     qInsertToken,
		&db.st.findUnique:      qFindUnique,
		&db.st.appendEntry:     qAppendEntry,
		&db.st.sequenceEntries: qSequenceEntries,
	}); err != nil {
		return err
	}

	db.r, err = sql.Open("sqlite", db.path+"?_busy_timeout="+timeout+"&_foreign_keys=1&_query_only=1")
	if err != nil {
		return err
	}
	db.r.SetMaxOpenConns(db.readers)
	db.r.SetMaxIdleConns(db.readers)
	db.r.SetConnMaxLifetime(0)
	db.r.SetConnMaxIdleTime(time.Minute)
	return prepare(ctx, db.r, map[**sql.Stmt]string{
		&db.st.contact:        qContact,
		&db.st.contactLookups: qContactLookups,
		&db.st.contactTokens:  qContactTokens,
		&db.st.findContacts:   qFindContacts,
		&db.st.lookupsIn:      qLookupsIn,
		&db.st.tokensIn:       qTokensIn,
	})
}

// Close closes the store; the last connection to close checkpoints the
// write-ahead log into the file and removes it. Calls in progress fail.
func (db *DB) Close() error {
	db.st.close()
	var errs []error
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite.Close: %w", err)
	}
	return nil
}

// Ping reports whether the store can serve requests, by reaching the file
// through the read pool. It does not wait for the writer, which a long
// bulk load may hold for a while: writes queue behind it rather than fail.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.r.PingContext(ctx); err != nil {
		return fail(ctx, "sqlite.Ping", err)
	}
	return nil
}

// migration is one embedded schema change. Its name, as recorded in
// schema_migrations, is the file's without ".up.sql" ("001_initial").
type migration struct {
	version int
	name    string
	file    string
}

// listMigrations returns the embedded migrations in version order.
func listMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migration/*.up.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := make(map[int]string)
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNN_name.up.sql", base)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same version", other, base)
		}
		seen[v] = base
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(base, ".up.sql"), file: name})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// Migrate applies the embedded migrations the file lacks, in order, each
// in its own transaction together with its row in schema_migrations. It is
// idempotent. It fails if the file was migrated by a newer version of
// Coffre (it records a migration this binary does not know).
func (db *DB) Migrate(ctx context.Context) error {
	const op = "sqlite.Migrate"
	ms, err := listMigrations()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fail(ctx, op, err)
	}
	var newest int
	if err := db.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return fail(ctx, op, err)
	}
	if len(ms) > 0 && newest > ms[len(ms)-1].version {
		return fmt.Errorf("%s: database schema version %d is newer than this program's %d", op, newest, ms[len(ms)-1].version)
	}
	for _, m := range ms {
		if err := db.migrate(ctx, m); err != nil {
			return fmt.Errorf("%s: %s: %w", op, m.name, mapError(ctx, err))
		}
	}
	return nil
}

// migrate applies m unless it is recorded as applied.
func (db *DB) migrate(ctx context.Context, m migration) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		return nil
	}
	src, err := migrations.ReadFile(m.file)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(src)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, db.now().UnixMicro()); err != nil {
		return err
	}
	return tx.Commit()
}

// beginWrite starts a write transaction on the single writer connection.
// The DSN's _txlock makes it BEGIN IMMEDIATE, so the write lock is taken
// up front and a transaction never fails to upgrade a read lock.
func (db *DB) beginWrite(ctx context.Context) (*sql.Tx, error) {
	return db.w.BeginTx(ctx, nil)
}

// beginRead starts a read transaction: a consistent snapshot for reads
// spanning several statements.
func (db *DB) beginRead(ctx context.Context) (*sql.Tx, error) {
	return db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
}

// Times are stored as INTEGER microseconds since the Unix epoch, UTC.

func toMicro(t time.Time) int64 { return t.UnixMicro() }

func fromMicro(us int64) time.Time { return time.UnixMicro(us).UTC() }

// toNullMicro stores the zero time as NULL.
func toNullMicro(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicro(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicro(n.Int64)
}

// orNow returns t, or now when t is zero.
func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nonNil returns b, or an empty slice for nil, which the driver would
// store as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
