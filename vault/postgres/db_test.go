package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/storetest"
)

// migrationCount is the number of files in migration/.
const migrationCount = 9

// applied returns the versions recorded in schema_migrations of the
// schema u uses.
func applied(t *testing.T, u string) []int {
	t.Helper()
	conn := pgtest.Conn(t, u)
	rows, err := conn.Query(context.Background(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// tableExists reports whether the schema u uses has the table.
func tableExists(t *testing.T, u, table string) bool {
	t.Helper()
	conn := pgtest.Conn(t, u)
	var ok bool
	if err := conn.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestMigrate(t *testing.T) {
	t.Run("Idempotent", func(t *testing.T) {
		db, u := pgtest.MustOpen(t)
		r := storetest.NewRecord("tenant-a")
		storetest.MustCreateContact(t, db, r)
		for i := range 3 {
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate #%d = %v, want nil", i+2, err)
			}
		}
		// A second store on the same schema finds everything applied.
		db2, err := postgres.Open(t.Context(), u)
		if err != nil {
			t.Fatalf("Open(same schema) = %v, want nil", err)
		}
		defer db2.Close()
		if got := applied(t, u); len(got) != migrationCount || got[0] != 1 {
			t.Errorf("schema_migrations = %v, want versions 1..%d once each", got, migrationCount)
		}
		got, err := db2.Contact(t.Context(), r.TenantID, r.ID)
		if err != nil {
			t.Fatalf("Contact after re-migrating = %v, want nil", err)
		}
		if d := storetest.DiffRecord(got, r); d != "" {
			t.Errorf("Contact after re-migrating: %s", d)
		}
	})

	t.Run("ConcurrentOpen", func(t *testing.T) {
		u := pgtest.NewSchema(t)
		const n = 4
		dbs := make([]*postgres.DB, n)
		errs := make([]error, n)
		var start, wg sync.WaitGroup
		start.Add(1)
		for i := range n {
			wg.Go(func() {
				start.Wait()
				dbs[i], errs[i] = postgres.Open(context.Background(), u)
			})
		}
		start.Done()
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open #%d = %v, want nil", i, err)
			} else {
				defer dbs[i].Close()
			}
		}
		if t.Failed() {
			return
		}
		if got := applied(t, u); len(got) != migrationCount {
			t.Errorf("schema_migrations = %v, want %d versions once each", got, migrationCount)
		}
		// The stores share the schema.
		r := storetest.NewRecord("tenant-a")
		storetest.MustCreateContact(t, dbs[0], r)
		if _, err := dbs[n-1].Contact(t.Context(), r.TenantID, r.ID); err != nil {
			t.Errorf("Contact on another store of the schema = %v, want nil", err)
		}
	})

	t.Run("WithoutMigrate", func(t *testing.T) {
		u := pgtest.NewSchema(t)
		db, err := postgres.Open(t.Context(), u, postgres.WithoutMigrate())
		if err != nil {
			t.Fatalf("Open(WithoutMigrate) = %v, want nil", err)
		}
		defer db.Close()
		if tableExists(t, u, "contacts") {
			t.Fatalf("contacts exists after Open(WithoutMigrate)")
		}
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate = %v, want nil", err)
		}
		for _, table := range []string{"tenants", "contacts", "contact_lookups", "api_tokens", "audit_head", "audit_entries",
			"audit_nodes", "audit_checkpoints", "data_requests", "verification_codes", "suppressions", "schema_migrations"} {
			if !tableExists(t, u, table) {
				t.Errorf("table %s missing after Migrate", table)
			}
		}
	})

	t.Run("SchemasIsolated", func(t *testing.T) {
		a, _ := pgtest.MustOpen(t)
		b, _ := pgtest.MustOpen(t)
		r := storetest.NewRecord("tenant-a")
		storetest.MustCreateContact(t, a, r)
		if _, err := b.Contact(t.Context(), r.TenantID, r.ID); vault.ErrorCode(err) != vault.ENOTFOUND {
			t.Errorf("Contact in another schema = %v, want ENOTFOUND", err)
		}
		// Each schema has its own log.
		storetest.MustCreateContact(t, b, storetest.NewRecord("tenant-a"))
		if ta, tb := storetest.SequenceAll(t, a), storetest.SequenceAll(t, b); ta.Size() != 1 || tb.Size() != 1 {
			t.Errorf("log sizes of two schemas with one entry each = %d, %d; want 1, 1", ta.Size(), tb.Size())
		}
	})
}

func TestOpen(t *testing.T) {
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := postgres.Open(t.Context(), "postgres://user:secret@[::1")
		if got := vault.ErrorCode(err); got != vault.EINVALID {
			t.Errorf("Open(bad URL) = %v (code %q), want EINVALID", err, got)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(bad URL) = %q, which reveals the password", err)
		}
	})

	t.Run("ErrUnavailable", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
		if got := vault.ErrorCode(err); got != vault.EUNAVAILABLE {
			t.Errorf("Open(nothing listening) = %v (code %q), want EUNAVAILABLE", err, got)
		}
	})

	t.Run("PoolSize", func(t *testing.T) {
		if n := postgres.DefaultMaxConns(); n < 8 {
			t.Errorf("DefaultMaxConns() = %d, want at least 8", n)
		}
	})

	t.Run("Closed", func(t *testing.T) {
		db, _ := pgtest.MustOpen(t)
		db.Close()
		if err := db.Ping(t.Context()); vault.ErrorCode(err) != vault.EUNAVAILABLE {
			t.Errorf("Ping after Close = %v (code %q), want EUNAVAILABLE", err, vault.ErrorCode(err))
		}
		_, err := db.Contact(t.Context(), "tenant-a", vault.NewID(time.Now()))
		if vault.ErrorCode(err) != vault.EUNAVAILABLE {
			t.Errorf("Contact after Close = %v (code %q), want EUNAVAILABLE", err, vault.ErrorCode(err))
		}
	})
}
