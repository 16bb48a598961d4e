package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/vault"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// busyTimeout is how long a connection waits for a lock held by another
// process on the same file before failing. Within one process there is a
// single writer, so it only matters when two processes share the file, or
// for the brief exclusive moments of WAL recovery.
const busyTimeout = 10 * time.Second

// Page caches, in KiB. SQLite's default, 2 MiB per connection, holds the
// upper levels of the b-trees of a small vault only: with 100,000 contacts
// every bulk-load insert and many reads went to the file for a page. The
// writer's cache holds the pages of a load's random index inserts (the
// index tables of a million contacts); a reader's the inner pages of every
// b-tree and the recently read rows. The operating system caches the file
// besides, so a miss costs a system call, not a disk read.
const (
	writerCacheKiB = 64 << 10
	readerCacheKiB = 8 << 10
)

// DB is a vault.Store in one SQLite file. It is safe for concurrent use.
type DB struct {
	path    string
	now     func() time.Time
	readers int

	// The writer: one connection, owned by the writer goroutine once the
	// store is open (see writer.go).
	wdb   *sql.DB
	wconn *sql.Conn
	wctx  context.Context
	wst   writeStmts
	// writes carries writes to the writer goroutine.
	writes chan *write

	// closing stops the writer goroutine, and wg waits for it.
	closing   chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	// r is the pool of read-only connections, rst its statements.
	r   *sql.DB
	rst readStmts

	// noAudit makes the writes leave out their audit entry. It is set only
	// by the benchmarks, to measure what the entry costs a write.
	noAudit bool
}

// writeStmts are the statements of the writer, prepared once on its
// connection, so that a write parses no SQL.
type writeStmts struct {
	begin, commit, rollback, savepoint, release, rollbackTo *sql.Stmt

	insertContact, contactForWrite, updateContact, deleteContact    *sql.Stmt
	insertUnique, insertShared, deleteUnique, deleteShared          *sql.Stmt
	insertToken, deleteToken                                        *sql.Stmt
	appendEntry, sequenceEntries, insertTenant, insertAPIToken      *sql.Stmt
	appendSequenced, readHead, pendingExist, insertNode, upsertHead *sql.Stmt
}

func (st *writeStmts) list() map[**sql.Stmt]string {
	return map[**sql.Stmt]string{
		&st.begin:      `BEGIN IMMEDIATE`,
		&st.commit:     `COMMIT`,
		&st.rollback:   `ROLLBACK`,
		&st.savepoint:  `SAVEPOINT write`,
		&st.release:    `RELEASE write`,
		&st.rollbackTo: `ROLLBACK TO write`,

		&st.insertContact:   qInsertContact,
		&st.contactForWrite: qContactForWrite,
		&st.updateContact:   qUpdateContact,
		&st.deleteContact:   qDeleteContact,
		&st.insertUnique:    qInsertUnique,
		&st.insertShared:    qInsertShared,
		&st.deleteUnique:    qDeleteUnique,
		&st.deleteShared:    qDeleteShared,
		&st.insertToken:     qInsertToken,
		&st.deleteToken:     qDeleteToken,
		&st.appendEntry:     qAppendEntry,
		&st.sequenceEntries: qSequenceEntries,
		&st.appendSequenced: qAppendSequenced,
		&st.readHead:        qReadHead,
		&st.pendingExist:    qPendingExist,
		&st.insertNode:      qInsertNode,
		&st.upsertHead:      qUpsertHead,
		&st.insertTenant:    qInsertTenant,
		&st.insertAPIToken:  qInsertAPIToken,
	}
}

// readStmts are the statements of the hot reads, prepared on the read
// pool: database/sql prepares each once per connection and keeps it.
type readStmts struct {
	contact, findContacts, tenant, token *sql.Stmt
}

func (st *readStmts) list() map[**sql.Stmt]string {
	return map[**sql.Stmt]string{
		&st.contact:      qContact,
		&st.findContacts: qFindContacts,
		&st.tenant:       qTenant,
		&st.token:        qToken,
	}
}

// preparer is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// prepare prepares the statements of list on p.
func prepare(ctx context.Context, p preparer, list map[**sql.Stmt]string) error {
	for stmt, query := range list {
		var err error
		if *stmt, err = p.PrepareContext(ctx, query); err != nil {
			return fmt.Errorf("prepare %q: %w", query, err)
		}
	}
	return nil
}

// closeStmts closes the statements of list that were prepared.
func closeStmts(list map[**sql.Stmt]string) {
	for stmt := range list {
		if *stmt != nil {
			(*stmt).Close()
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
	db := &DB{
		path:    path,
		now:     time.Now,
		readers: max(4, runtime.GOMAXPROCS(0)),
		wctx:    context.Background(),
		writes:  make(chan *write),
		closing: make(chan struct{}),
	}
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

// writerDSN and readerDSN are the data source names of the writer's
// connection and of the read pool, for the file at path. Readers sort
// search results in memory (temp_store); the writer keeps SQLite's
// temporary files, as VACUUM builds a whole copy of the database in
// temporary storage.
func writerDSN(path string) string {
	return path + "?_txlock=immediate&_busy_timeout=" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) +
		"&_foreign_keys=1&_journal_mode=WAL&_synchronous=FULL&_pragma=secure_delete(1)" +
		"&_pragma=cache_size(-" + strconv.Itoa(writerCacheKiB) + ")"
}

func readerDSN(path string) string {
	return path + "?_busy_timeout=" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + "&_query_only=1" +
		"&_pragma=temp_store(memory)&_pragma=cache_size(-" + strconv.Itoa(readerCacheKiB) + ")"
}

func (db *DB) open(ctx context.Context) (err error) {
	db.wdb, err = sql.Open("sqlite", writerDSN(db.path))
	if err != nil {
		return err
	}
	db.wdb.SetMaxOpenConns(1)
	db.wdb.SetMaxIdleConns(1)
	db.wdb.SetConnMaxLifetime(0)
	db.wdb.SetConnMaxIdleTime(0)
	if db.wconn, err = db.wdb.Conn(ctx); err != nil {
		return err
	}
	var mode string
	if err := db.wconn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	if err := db.migrate(ctx, db.wconn); err != nil {
		return err
	}
	if err := prepare(ctx, db.wconn, db.wst.list()); err != nil {
		return err
	}

	db.r, err = sql.Open("sqlite", readerDSN(db.path))
	if err != nil {
		return err
	}
	db.r.SetMaxOpenConns(db.readers)
	db.r.SetMaxIdleConns(db.readers)
	db.r.SetConnMaxLifetime(0)
	db.r.SetConnMaxIdleTime(time.Minute)
	if err := prepare(ctx, db.r, db.rst.list()); err != nil {
		return err
	}

	db.wg.Go(db.writeLoop)
	return nil
}

// Close closes the store: writes still waiting fail with EUNAVAILABLE, a
// batch in progress completes, and the last connection to close
// checkpoints the write-ahead log into the file and removes it. Reads in
// progress fail. Close is idempotent.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		close(db.closing)
		db.wg.Wait()
		closeStmts(db.wst.list())
		closeStmts(db.rst.list())
		var errs []error
		if db.wconn != nil {
			errs = append(errs, db.wconn.Close())
		}
		if db.wdb != nil {
			errs = append(errs, db.wdb.Close())
		}
		if db.r != nil {
			errs = append(errs, db.r.Close())
		}
		if err := errors.Join(errs...); err != nil {
			db.closeErr = fmt.Errorf("sqlite.Close: %w", err)
		}
	})
	return db.closeErr
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

// querier is what *sql.DB, *sql.Conn and wtx have in common.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
