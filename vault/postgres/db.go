package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffre/coffre/vault"
)

var _ vault.Store = (*DB)(nil)

//go:embed migration/*.up.sql
var migrationFS embed.FS

// migrateLock is the first key of the advisory lock that serialises
// migrations; the second is a hash of the schema migrated, so stores in
// different schemas of one database migrate independently.
const migrateLock = 0x636f6672 // "cofr"

// DB is a vault.Store on a PostgreSQL connection pool. It is safe for
// concurrent use.
type DB struct {
	pool *pgxpool.Pool
	// batched runs the statements that serve concurrent requests at once
	// (batchedConfig).
	batched *pgxpool.Pool

	// noAudit makes the writes leave out their audit entry. It is set only
	// by the benchmarks, to measure what the entry costs a write.
	noAudit bool

	// listWalk, when set, replaces the length of a listing's walk, and a
	// third of it its probe (see ListContacts). It is set only by tests,
	// to take the other paths.
	listWalk int

	// pendingFloor is a transaction id below which every audit entry is
	// numbered (audit_floor.go); lastPending, guarded by floorMu, the last
	// read of the pending queue that came back short.
	pendingFloor atomic.Uint64
	floorMu      sync.Mutex
	lastPending  *pendingRead

	// reads and finds coalesce concurrent reads of one record by id and
	// by lookup token (coalesce.go).
	reads coalescer[*contactRead]
	finds coalescer[*contactFind]
	// creates coalesces concurrent creates (contact_creates.go).
	creates coalescer[*contactCreate]

	// Now returns the current time. It stamps records, tokens, tenants and
	// audit entries whose time is zero. It may be replaced before the DB is
	// used; it defaults to time.Now.
	Now func() time.Time
}

// Option configures Open.
type Option func(*options)

type options struct {
	migrate  bool
	maxConns int32
}

// WithoutMigrate makes Open skip the migrations; call Migrate before use.
func WithoutMigrate() Option {
	return func(o *options) { o.migrate = false }
}

// WithMaxConns sets the size of the connection pool. Without it the pool
// has the size given by the pool_max_conns parameter of the URL, or else
// DefaultMaxConns.
func WithMaxConns(n int32) Option {
	return func(o *options) { o.maxConns = n }
}

// defaultParams are the session parameters Open sets unless the URL does.
var defaultParams = map[string]string{
	// Name the sessions in pg_stat_activity.
	"application_name": "coffre",
	// A transaction is never idle for long: its statements are pipelined.
	// One that is (a client hung between two round trips) would hold its
	// row locks until the server ends it.
	"idle_in_transaction_session_timeout": "60s",
}

// DefaultMaxConns returns the default size of the connection pool: four
// connections per CPU, at least 8. A request holds a connection only for
// its round trips, so a few connections per CPU keep the server busy while
// others wait on the network or on their commit's WAL flush, without
// letting hundreds of backends compete for the CPUs.
func DefaultMaxConns() int32 {
	return int32(max(8, 4*runtime.GOMAXPROCS(0)))
}

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value connection string; pool_* parameters of pgxpool apply) and,
// unless WithoutMigrate is given, applies the migrations. Tables live in the
// first schema of the search_path, which the URL may set. It returns
// EUNAVAILABLE if the database cannot be reached and EINVALID if url cannot
// be parsed.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	o := options{migrate: true}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, vault.Errorf(vault.EINVALID, "Invalid database URL.")
	}
	switch {
	case o.maxConns > 0:
		cfg.MaxConns = o.maxConns
	case !strings.Contains(url, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns()
	}
	for k, v := range defaultParams {
		if _, ok := cfg.ConnConfig.RuntimeParams[k]; !ok {
			cfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres.Open: %w", mapError(err))
	}
	batched, err := pgxpool.NewWithConfig(ctx, batchedConfig(cfg))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres.Open: %w", mapError(err))
	}
	db := &DB{pool: pool, batched: batched, Now: time.Now}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres.Open: %w", err)
	}
	if o.migrate {
		if err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("postgres.Open: %w", err)
		}
	}
	return db, nil
}

// batchedConns bounds the connections of the batched pool: each of its
// statements' kinds (reads by id, reads by lookup, creates, appends to the
// audit log) has one statement in flight at a time.
const batchedConns = 6

// batchedConfig returns the configuration of the pool of the statements
// that serve concurrent requests at once: the coalesced reads and creates
// (coalesce.go) and the audit log's appends (sequence_append.go). They
// are the API's hottest statements, and their plans do not depend on
// their parameters' values: each id or token is one index probe. But
// PostgreSQL plans a prepared statement anew at each execution as long as
// the plans made for its first five executions looked cheaper than its
// generic plan, which for a statement over arrays depends on the lengths
// of those first arrays. Whether a connection plans its batches again is
// then chance: in one run, 466 of 1,016 coalesced reads were planned
// again, at 160 µs each, as much as their execution. Their connections
// always use the generic plan.
func batchedConfig(cfg *pgxpool.Config) *pgxpool.Config {
	b := cfg.Copy()
	b.MaxConns, b.MinConns, b.MinIdleConns = batchedConns, 0, 0
	b.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	return b
}

// Close closes the pools, waiting for connections in use to be released.
func (db *DB) Close() error {
	db.batched.Close()
	db.pool.Close()
	return nil
}

// Ping reports whether the database answers: EUNAVAILABLE if it does not.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres.Ping: %w", mapError(err))
	}
	return nil
}

// migration is one embedded migration file.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migration/*.up.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files {
		base := strings.TrimSuffix(path.Base(f), ".up.sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNN_name.up.sql", f)
		}
		b, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migration %d: two files with that number", ms[i].version)
		}
	}
	return ms, nil
}

// Migrate applies the migrations not yet applied, in order, each in its own
// transaction that also records it in schema_migrations. Concurrent callers
// on the same schema are serialised by an advisory lock, so Migrate is
// idempotent and safe to run from several processes starting at once.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("postgres.Migrate: %w", err)
	}
	for _, m := range ms {
		if err := db.migrate(ctx, m); err != nil {
			return fmt.Errorf("postgres.Migrate: %03d_%s: %w", m.version, m.name, mapError(err))
		}
	}
	return nil
}

// migrate applies m unless it was applied already.
func (db *DB) migrate(ctx context.Context, m migration) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, migrateLock); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return err
	}
	var applied bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&applied); err != nil {
		return err
	}
	if applied {
		return nil
	}
	// Without arguments Exec uses the simple protocol, which runs a file of
	// several statements.
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// now returns the store's time at the database's precision.
func (db *DB) now() time.Time {
	return db.Now().UTC().Truncate(time.Microsecond)
}

// tx is a transaction on one pooled connection whose statements are sent
// in pipelined batches: queued statements travel together on the next
// flush, the first flush carrying BEGIN and the one commit makes carrying
// COMMIT. A write thus costs one round trip (two when it must read before
// it writes), and the row locks it takes are held only while the server
// finishes the transaction, never while the client waits for its turn on a
// CPU.
//
// Store methods begin a tx, defer its rollback, hand it to the unexported
// helpers that queue statements, and commit.
type tx struct {
	conn *pgxpool.Conn
	b    *pgx.Batch
}

// begin acquires a connection and queues BEGIN.
func (db *DB) begin(ctx context.Context) (*tx, error) {
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	t := &tx{conn: c, b: &pgx.Batch{}}
	t.b.Queue("begin")
	return t, nil
}

// queue adds a statement to the next flush. Callbacks set on the returned
// query run during the flush, in order; the first error stops the flush.
func (t *tx) queue(sql string, args ...any) *pgx.QueuedQuery {
	return t.b.Queue(sql, args...)
}

// flush sends the queued statements and reads their results.
func (t *tx) flush(ctx context.Context) error {
	b := t.b
	t.b = &pgx.Batch{}
	return t.conn.SendBatch(ctx, b).Close()
}

// errNotCommitted reports a COMMIT that rolled back.
var errNotCommitted = errors.New("transaction rolled back at commit")

// commitTimeout bounds the wait for the outcome of a commit (see commit).
const commitTimeout = 30 * time.Second

// commit queues COMMIT and flushes. A caller whose ctx is done by then gets
// ctx's error and nothing is written. Otherwise the flush no longer heeds
// ctx's cancellation, only commitTimeout: were the connection dropped on
// cancellation, the server could still commit what it had received while
// the caller was told the write failed. Waiting gives callers a true answer
// and, once they return, a settled store.
func (t *tx) commit(ctx context.Context) error {
	cctx, cancel, err := commitContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	t.queue("commit").Exec(func(ct pgconn.CommandTag) error {
		if ct.String() != "COMMIT" {
			return errNotCommitted
		}
		return nil
	})
	return t.flush(cctx)
}

// commitContext returns the context of a statement that commits (COMMIT,
// or a statement that is its own transaction): ctx's error if ctx is
// already done, so that nothing is written; otherwise a context that
// ignores ctx's cancellation and ends after commitTimeout (see commit).
func commitContext(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	return cctx, cancel, nil
}

// rollback ends the transaction if it is still open and releases the
// connection. It is safe to call after commit and more than once.
func (t *tx) rollback() {
	if t.conn == nil {
		return
	}
	pc := t.conn.Conn().PgConn()
	if !pc.IsClosed() && pc.TxStatus() != 'I' {
		// The request's context may be done; the rollback must still run.
		// If it fails, Release destroys the connection, which the server
		// then rolls back.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = t.conn.Exec(ctx, "rollback")
		cancel()
	}
	t.conn.Release()
	t.conn = nil
}
