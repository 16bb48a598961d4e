package postgres_test

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/storetest"
)

var (
	demoDB     = flag.String("seg.demo-db", "", "TestSegmentDemoBaseline: URL of a throwaway database that coffre demo filled (empty skips the test)")
	demoN      = flag.Int("seg.demo-n", 0, "TestSegmentDemoBaseline: --contacts of coffre demo")
	demoSeed   = flag.Int64("seg.demo-seed", 1, "TestSegmentDemoBaseline: --seed of coffre demo")
	demoStart  = flag.Int("seg.demo-start", 0, "TestSegmentDemoBaseline: --start of coffre demo")
	demoTenant = flag.String("seg.demo-tenant", "demo", "TestSegmentDemoBaseline: --tenant of coffre demo")
	demoRuns   = flag.Int("seg.demo-runs", 7, "TestSegmentDemoBaseline: runs of each query")
	demoSince  = flag.String("seg.demo-since", "", "TestSegmentDemoBaseline: the created-after time of the filters, RFC 3339 (default a year ago)")
)

// TestSegmentDemoBaseline is the plaintext baseline of
// scripts/bench-segments.sh. In the benchmark database that coffre demo
// filled, it writes the same synthetic contacts (synth.Contact of the
// demo's seed, for the same indexes) in plain text into a table of its
// own, plaintext_segments, with a B-tree or GIN index on each segmentable
// column, and times the benchmark's filters on it in SQL, the policy's
// conditions of each role written as plain predicates: count and first
// page of 50, best and median of -seg.demo-runs. It drops the table when
// it ends. It never writes to the vault's tables: only point it at a
// throwaway database. With -seg.explain it logs the baseline's plans.
//
//	go test ./vault/postgres -run TestSegmentDemoBaseline -v \
//		-seg.demo-db URL -seg.demo-n 1000000 -seg.demo-seed 1
func TestSegmentDemoBaseline(t *testing.T) {
	if *demoDB == "" {
		t.Skip("set -seg.demo-db to run")
	}
	if *demoN <= 0 {
		t.Fatal("set -seg.demo-n to the number of contacts coffre demo loaded")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, *demoDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })

	// The tenant must hold what coffre demo loaded, and only that.
	var n int64
	var first, last time.Time
	if err := conn.QueryRow(ctx, `SELECT count(*), min(created_at), max(created_at) FROM contacts WHERE tenant_id = $1`,
		*demoTenant).Scan(&n, &first, &last); err != nil {
		t.Fatalf("read the demo tenant: %v", err)
	}
	if n != int64(*demoN) {
		t.Fatalf("tenant %s holds %d contacts, not the %d of -seg.demo-n", *demoTenant, n, *demoN)
	}
	since := storetest.DemoSince(t, *demoSince)

	if _, err := conn.Exec(ctx, plaintextSegmentSchema); err != nil {
		t.Fatalf("create the baseline table: %v", err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(context.Background(), `DROP TABLE plaintext_segments`); err != nil {
			t.Errorf("drop the baseline table: %v", err)
		}
	})
	start := time.Now()
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"plaintext_segments"}, plaintextSegmentColumns,
		pgx.CopyFromFunc(demoRowSource(*demoTenant, *demoSeed, *demoStart, *demoN, first, last)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, plaintextSegmentIndexes); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE plaintext_segments`); err != nil {
		t.Fatal(err)
	}
	var size string
	if err := conn.QueryRow(ctx, `SELECT pg_size_pretty(pg_table_size('plaintext_segments')) || ' (indexes ' ||
		pg_size_pretty(pg_indexes_size('plaintext_segments')) || '); vault: contact_segments ' ||
		pg_size_pretty(pg_table_size('contact_segments')) || ' (indexes ' || pg_size_pretty(pg_indexes_size('contact_segments')) ||
		'), contacts ' || pg_size_pretty(pg_table_size('contacts'))`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	t.Logf("baseline: %d rows copied, indexed and analysed in %v; plaintext_segments %s", *demoN,
		time.Since(start).Round(time.Second), size)

	for _, q := range storetest.DemoQueries {
		where := demoWhere(q, since, time.Now().Year())
		count := `SELECT count(*) FROM plaintext_segments WHERE ` + where
		list := `SELECT * FROM plaintext_segments WHERE ` + where + ` ORDER BY id LIMIT 50`
		storetest.TimeDemoQuery(t, q, *demoRuns, func() (n int64, err error) {
			return n, conn.QueryRow(ctx, count, *demoTenant).Scan(&n)
		}, func() (int64, error) {
			rows, err := conn.Query(ctx, list, *demoTenant)
			if err != nil {
				return 0, err
			}
			defer rows.Close()
			var n int64
			for rows.Next() {
				if _, err := rows.Values(); err != nil {
					return 0, err
				}
				n++
			}
			return n, rows.Err()
		})
		if *segExplain {
			explain(t, conn, "baseline "+q.Role+" "+q.Filter+": count", count, []any{*demoTenant})
			explain(t, conn, "baseline "+q.Role+" "+q.Filter+": list", list, []any{*demoTenant})
		}
	}
}

// demoRowSource returns the baseline rows of coffre demo's contacts
// start to start+n-1, created evenly from first to last in load order.
func demoRowSource(tenant string, seed int64, start, n int, first, last time.Time) func() ([]any, error) {
	i := 0
	return func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		at := storetest.DemoCreatedAt(first, last, n, i)
		v := storetest.DemoContact(seed, start+i)
		i++
		null := func(s string) any {
			if s == "" {
				return nil
			}
			return s
		}
		var year any
		if v.BirthYear != 0 {
			year = v.BirthYear
		}
		interests := v.Interests
		if interests == nil {
			interests = []string{}
		}
		return []any{tenant, vault.NewID(at), v.GivenName, v.FamilyName, v.Email, null(v.Phone), null(v.Address),
			v.PostalCode, v.District, year, interests, null(v.SupportLevel), null(v.Notes),
			v.Newsletter, v.SMS, v.Events, false, false, at, at}, nil
	}
}

// demoWhere returns the baseline's WHERE clause of a query, $1 being the
// tenant: the filter and the policy's conditions for the role.
func demoWhere(q storetest.DemoQuery, since time.Time, year int) string {
	list := storetest.DemoSQLList
	conds := []string{"tenant_id = $1", "district IN (" + list(storetest.DemoDistricts) + ")", "newsletter"}
	switch q.Filter {
	case "five":
		conds = append(conds, "interests && ARRAY["+list(storetest.DemoInterests)+"]", "events",
			fmt.Sprintf("created_at >= '%s'", since.UTC().Format(time.RFC3339Nano)))
	case "five-age":
		conds = append(conds, "interests && ARRAY["+list(storetest.DemoInterests)+"]",
			fmt.Sprintf("birth_year BETWEEN %d AND %d", year-storetest.DemoAgeMax, year-storetest.DemoAgeMin),
			fmt.Sprintf("created_at >= '%s'", since.UTC().Format(time.RFC3339Nano)))
	}
	switch q.Role {
	case "agent":
		conds = append(conds, "NOT restricted", "NOT objected")
	case "volunteer":
		conds = append(conds, "district IN ("+list(storetest.DemoVolunteerDistricts)+")", "newsletter",
			"NOT restricted", "NOT objected")
	}
	return strings.Join(conds, " AND ")
}
