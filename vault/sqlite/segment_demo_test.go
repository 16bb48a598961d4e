package sqlite_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/storetest"
)

var (
	demoDB     = flag.String("seg.demo-db", "", "TestSegmentDemoBaseline: path of a throwaway coffre.db that coffre demo filled (empty skips the test)")
	demoN      = flag.Int("seg.demo-n", 0, "TestSegmentDemoBaseline: --contacts of coffre demo")
	demoSeed   = flag.Int64("seg.demo-seed", 1, "TestSegmentDemoBaseline: --seed of coffre demo")
	demoStart  = flag.Int("seg.demo-start", 0, "TestSegmentDemoBaseline: --start of coffre demo")
	demoTenant = flag.String("seg.demo-tenant", "demo", "TestSegmentDemoBaseline: --tenant of coffre demo")
	demoRuns   = flag.Int("seg.demo-runs", 7, "TestSegmentDemoBaseline: runs of each query")
	demoSince  = flag.String("seg.demo-since", "", "TestSegmentDemoBaseline: the created-after time of the filters, RFC 3339 (default a year ago)")
	demoPlans  = flag.Bool("seg.explain", false, "TestSegmentDemoBaseline: log the baseline's query plans")
)

// TestSegmentDemoBaseline is the plaintext baseline of
// scripts/bench-segments.sh on SQLite. In the benchmark database file that
// coffre demo filled, with no server running on it, it writes the same
// synthetic contacts (synth.Contact of the demo's seed, for the same
// indexes) in plain text into tables of its own, plaintext_segments (a
// B-tree index on each segmentable column) and plaintext_interests (one
// row per interest, keyed by interest), and times the benchmark's filters
// on them in SQL, the policy's conditions of each role written as plain
// predicates: count and first page of 50, best and median of
// -seg.demo-runs, on one connection with the cache of the store's
// readers. It drops the tables when it ends. It never writes to the
// vault's tables: only point it at a throwaway file. With -seg.explain it
// logs the baseline's query plans.
//
//	go test ./vault/sqlite -run TestSegmentDemoBaseline -v \
//		-seg.demo-db DIR/coffre.db -seg.demo-n 100000 -seg.demo-seed 1
func TestSegmentDemoBaseline(t *testing.T) {
	if *demoDB == "" {
		t.Skip("set -seg.demo-db to run")
	}
	if *demoN <= 0 {
		t.Fatal("set -seg.demo-n to the number of contacts coffre demo loaded")
	}
	ctx := context.Background()
	db, err := sql.Open("sqlite", *demoDB+"?_busy_timeout=10000&_pragma=temp_store(memory)&_pragma=cache_size(-8192)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })

	// The tenant must hold what coffre demo loaded, and only that.
	var n, first, last int64
	if err := db.QueryRowContext(ctx, `SELECT count(*), coalesce(min(created_at), 0), coalesce(max(created_at), 0)
		FROM contacts WHERE tenant_id = ?`, *demoTenant).Scan(&n, &first, &last); err != nil {
		t.Fatalf("read the demo tenant: %v", err)
	}
	if n != int64(*demoN) {
		t.Fatalf("tenant %s holds %d contacts, not the %d of -seg.demo-n", *demoTenant, n, *demoN)
	}
	since := storetest.DemoSince(t, *demoSince)

	if _, err := db.ExecContext(ctx, plaintextDemoSchema); err != nil {
		t.Fatalf("create the baseline tables: %v", err)
	}
	t.Cleanup(func() {
		if _, err := db.ExecContext(context.Background(), `DROP TABLE plaintext_interests; DROP TABLE plaintext_segments`); err != nil {
			t.Errorf("drop the baseline tables: %v", err)
		}
	})
	start := time.Now()
	if err := loadPlaintextDemo(ctx, db, time.UnixMicro(first), time.UnixMicro(last)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, plaintextDemoIndexes+`; ANALYZE plaintext_segments; ANALYZE plaintext_interests`); err != nil {
		t.Fatal(err)
	}
	t.Logf("baseline: %d rows written, indexed and analysed in %v", *demoN, time.Since(start).Round(time.Second))

	for _, q := range storetest.DemoQueries {
		where := demoWhere(q, since, time.Now().Year())
		count := `SELECT count(*) FROM plaintext_segments WHERE ` + where
		list := `SELECT * FROM plaintext_segments WHERE ` + where + ` ORDER BY tenant_id, id LIMIT 50`
		storetest.TimeDemoQuery(t, q, *demoRuns, func() (n int64, err error) {
			return n, db.QueryRowContext(ctx, count, *demoTenant).Scan(&n)
		}, func() (int64, error) {
			rows, err := db.QueryContext(ctx, list, *demoTenant)
			if err != nil {
				return 0, err
			}
			defer rows.Close()
			cols, err := rows.Columns()
			if err != nil {
				return 0, err
			}
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			var n int64
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					return 0, err
				}
				n++
			}
			return n, rows.Err()
		})
		if *demoPlans {
			for name, sql := range map[string]string{"count": count, "list": list} {
				t.Logf("baseline %s %s %s: %s", q.Role, q.Filter, name, queryPlan(t, db, sql, *demoTenant))
			}
		}
	}
}

// queryPlan returns the steps of EXPLAIN QUERY PLAN of a query.
func queryPlan(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}

const plaintextDemoSchema = `
CREATE TABLE plaintext_segments (
	rid           INTEGER PRIMARY KEY,
	tenant_id     TEXT NOT NULL,
	id            TEXT NOT NULL,
	given_name    TEXT,
	family_name   TEXT,
	email         TEXT,
	phone         TEXT,
	address       TEXT,
	postal_code   TEXT,
	district      TEXT,
	birth_year    INTEGER,
	interests     TEXT NOT NULL,
	support_level TEXT,
	notes         TEXT,
	newsletter    INTEGER NOT NULL,
	sms           INTEGER NOT NULL,
	events        INTEGER NOT NULL,
	restricted    INTEGER NOT NULL,
	objected      INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
) STRICT;
CREATE TABLE plaintext_interests (
	interest TEXT NOT NULL,
	contact  INTEGER NOT NULL,
	PRIMARY KEY (interest, contact)
) STRICT, WITHOUT ROWID`

const plaintextDemoIndexes = `
CREATE UNIQUE INDEX plaintext_segments_id ON plaintext_segments (tenant_id, id);
CREATE INDEX plaintext_segments_district ON plaintext_segments (tenant_id, district);
CREATE INDEX plaintext_segments_postal_code ON plaintext_segments (tenant_id, postal_code);
CREATE INDEX plaintext_segments_birth_year ON plaintext_segments (tenant_id, birth_year);
CREATE INDEX plaintext_segments_support_level ON plaintext_segments (tenant_id, support_level);
CREATE INDEX plaintext_segments_created_at ON plaintext_segments (tenant_id, created_at)`

// loadPlaintextDemo writes the baseline rows of coffre demo's contacts in
// one transaction, created evenly from first to last in load order.
func loadPlaintextDemo(ctx context.Context, db *sql.DB, first, last time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	row, err := tx.PrepareContext(ctx, `INSERT INTO plaintext_segments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	interest, err := tx.PrepareContext(ctx, `INSERT INTO plaintext_interests VALUES (?, ?)`)
	if err != nil {
		return err
	}
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	bit := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	for i := range *demoN {
		at := storetest.DemoCreatedAt(first, last, *demoN, i).UnixMicro()
		v := storetest.DemoContact(*demoSeed, *demoStart+i)
		var year any
		if v.BirthYear != 0 {
			year = v.BirthYear
		}
		rid := int64(i + 1)
		if _, err := row.ExecContext(ctx, rid, *demoTenant, vault.NewID(time.UnixMicro(at)), v.GivenName, v.FamilyName, v.Email,
			null(v.Phone), null(v.Address), v.PostalCode, v.District, year, strings.Join(v.Interests, ","),
			null(v.SupportLevel), null(v.Notes), bit(v.Newsletter), bit(v.SMS), bit(v.Events), 0, 0, at, at); err != nil {
			return err
		}
		for _, x := range v.Interests {
			if _, err := interest.ExecContext(ctx, x, rid); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// demoWhere returns the baseline's WHERE clause of a query, the first
// parameter being the tenant: the filter and the policy's conditions for
// the role.
func demoWhere(q storetest.DemoQuery, since time.Time, year int) string {
	list := storetest.DemoSQLList
	interests := "EXISTS (SELECT 1 FROM plaintext_interests WHERE contact = rid AND interest IN (" + list(storetest.DemoInterests) + "))"
	conds := []string{"tenant_id = ?", "district IN (" + list(storetest.DemoDistricts) + ")", "newsletter = 1"}
	switch q.Filter {
	case "five":
		conds = append(conds, interests, "events = 1", fmt.Sprintf("created_at >= %d", since.UnixMicro()))
	case "five-age":
		conds = append(conds, interests,
			fmt.Sprintf("birth_year BETWEEN %d AND %d", year-storetest.DemoAgeMax, year-storetest.DemoAgeMin),
			fmt.Sprintf("created_at >= %d", since.UnixMicro()))
	}
	switch q.Role {
	case "agent":
		conds = append(conds, "restricted = 0", "objected = 0")
	case "volunteer":
		conds = append(conds, "district IN ("+list(storetest.DemoVolunteerDistricts)+")", "newsletter = 1",
			"restricted = 0", "objected = 0")
	}
	return strings.Join(conds, " AND ")
}
