// Package pgtest gives tests a PostgreSQL store of their own: a fresh
// schema in the database named by TEST_DATABASE_URL, dropped when the test
// ends.
//
// Without TEST_DATABASE_URL, or with a database that cannot be reached,
// tests are skipped on a developer's machine and fail under CI=true, so
// that CI never passes by skipping them.
//
// Schemas left behind by an interrupted run are dropped by a later run
// once they are a day old.
//
// Tamper edits a store's audit log behind its back, as a superuser
// disabling the append-only triggers would, for the tests that show such
// edits are detected.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffre/coffre/vault/postgres"
)

// EnvURL is the environment variable naming the test database.
const EnvURL = "TEST_DATABASE_URL"

// URL returns the URL of the test database from TEST_DATABASE_URL. If it is
// unset, URL skips tb, or fails it under CI=true.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		skipOrFail(tb, "%s is not set", EnvURL)
	}
	return u
}

// NewSchema creates a schema with a random name in the test database and
// returns a URL whose connections use it (through the search_path
// parameter), so that a store opened on it creates its tables there. The
// schema and everything in it are dropped when tb ends; close what uses it
// before (a cleanup registered later runs earlier). If the database cannot
// be reached NewSchema skips tb, or fails it under CI=true.
func NewSchema(tb testing.TB) string {
	tb.Helper()
	base := URL(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := connect(ctx, base)
	if err != nil {
		skipOrFail(tb, "test database unreachable: %v", err)
	}
	defer conn.Close(ctx)

	dropStale(ctx, conn)
	var b [6]byte
	rand.Read(b[:])
	schema := fmt.Sprintf("%s%d_%s", schemaPrefix, time.Now().Unix(), hex.EncodeToString(b[:]))
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		tb.Fatalf("pgtest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := connect(ctx, base)
		if err != nil {
			tb.Errorf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			tb.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(base, schema)
}

// MustOpen opens a migrated store in a fresh schema (see NewSchema) and
// returns it with the URL of that schema, which other connections (a
// server under test, a benchmark's baseline) can use. The store is closed
// and the schema dropped when tb ends.
func MustOpen(tb testing.TB, opts ...postgres.Option) (*postgres.DB, string) {
	tb.Helper()
	u := NewSchema(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, u, opts...)
	if err != nil {
		tb.Fatalf("pgtest: open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, u
}

// schemaPrefix starts the name of every schema NewSchema creates; the
// creation time in Unix seconds and a random suffix follow.
const schemaPrefix = "coffre_test_"

// staleAfter is the age past which a test schema is taken to be left over
// by an interrupted run, whose cleanups did not run.
const staleAfter = 24 * time.Hour

// dropStale drops, as well as it can, the test schemas older than
// staleAfter.
func dropStale(ctx context.Context, conn *pgx.Conn) {
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`, schemaPrefix)
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range names {
		secs, _, ok := strings.Cut(strings.TrimPrefix(name, schemaPrefix), "_")
		created, err := strconv.ParseInt(secs, 10, 64)
		if !ok || err != nil || time.Since(time.Unix(created, 0)) < staleAfter {
			continue
		}
		conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
	}
}

// Conn returns a single connection to u, such as the URL MustOpen
// returns, for a test to look at the database behind a store. Parameters
// of the pool (pool_*) in u are ignored. The connection is closed when tb
// ends.
func Conn(tb testing.TB, u string) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := connect(ctx, u)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// AuditTables are the append-only tables of the audit log, whose triggers
// Tamper disables.
var AuditTables = []string{"audit_entries", "audit_nodes", "audit_checkpoints"}

// Tamper runs sql, one or more statements without parameters, on the
// database at u (such as the URL MustOpen returns) the way an attacker
// with superuser rights would edit the audit log: in one transaction, with
// the triggers that keep AuditTables append-only disabled (ALTER TABLE …
// DISABLE TRIGGER ALL) and enabled again before it commits, so that no
// other session ever sees them off. The role of u must own the tables or
// be a superuser, as the role of TEST_DATABASE_URL is. Tamper fails tb if
// any statement fails.
func Tamper(tb testing.TB, u, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := connect(ctx, u)
	if err != nil {
		tb.Fatalf("pgtest.Tamper: connect: %v", err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		tb.Fatalf("pgtest.Tamper: %v", err)
	}
	defer tx.Rollback(ctx)
	triggers := func(op string) {
		for _, table := range AuditTables {
			if _, err := tx.Exec(ctx, "ALTER TABLE "+pgx.Identifier{table}.Sanitize()+" "+op+" TRIGGER ALL"); err != nil {
				tb.Fatalf("pgtest.Tamper: %s triggers on %s: %v", strings.ToLower(op), table, err)
			}
		}
	}
	triggers("DISABLE")
	// Without arguments Exec uses the simple protocol, which runs several
	// statements.
	if _, err := tx.Exec(ctx, sql); err != nil {
		tb.Fatalf("pgtest.Tamper: %v", err)
	}
	triggers("ENABLE")
	if err := tx.Commit(ctx); err != nil {
		tb.Fatalf("pgtest.Tamper: commit: %v", err)
	}
}

// connect opens a connection to u, which may hold pool parameters.
func connect(ctx context.Context, u string) (*pgx.Conn, error) {
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg.ConnConfig)
}

// WithSearchPath returns the connection string u (a URL or a key=value
// string) with its search_path set to schema.
func WithSearchPath(u, schema string) string {
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		if p, err := url.Parse(u); err == nil {
			q := p.Query()
			q.Set("search_path", schema)
			p.RawQuery = q.Encode()
			return p.String()
		}
	}
	return u + " search_path=" + schema
}

// skipOrFail skips tb, or fails it under CI=true.
func skipOrFail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("pgtest: "+format+" (required under CI=true)", args...)
	}
	tb.Skipf("pgtest: "+format, args...)
}
