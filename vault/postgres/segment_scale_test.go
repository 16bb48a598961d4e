package postgres_test

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/storetest"
)

var (
	segN       = flag.Int("seg.n", 0, "TestSegmentScale: number of contacts to load (0 skips the test)")
	segExplain = flag.Bool("seg.explain", false, "TestSegmentScale: log the EXPLAIN ANALYZE of each query")
)

// TestSegmentScale loads -seg.n synthetic contacts (storetest.SegmentData)
// and reports the time of the segment benchmark's queries, the best of
// five runs, right after the load and after VACUUM ANALYZE, then the same
// queries on a plaintext table of the same data with ordinary indexes,
// the baseline. With -seg.explain it logs the plans, as EXPLAIN ANALYZE
// shows them.
//
//	go test ./vault/postgres -run TestSegmentScale -seg.n 1000000 -v
func TestSegmentScale(t *testing.T) {
	if *segN <= 0 {
		t.Skip("set -seg.n to run")
	}
	db, u := pgtest.MustOpen(t)
	ctx := context.Background()
	start := time.Now()
	d := storetest.LoadSegmentData(t, db, *segN, false)
	t.Logf("loaded %d contacts in %v", *segN, time.Since(start).Round(time.Second))
	conn := pgtest.Conn(t, u)
	var size string
	if err := conn.QueryRow(ctx, `SELECT pg_size_pretty(pg_table_size('contact_segments')) || ' + GIN ' ||
		pg_size_pretty(pg_relation_size('contact_segments_tokens')) || ', contacts ' || pg_size_pretty(pg_table_size('contacts'))`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	t.Logf("contact_segments %s", size)

	for _, line := range storetest.TimeSegments(t, db, d, 5) {
		t.Logf("after the load: %s", line)
	}
	for _, table := range []string{"contact_segments", "contacts"} {
		if _, err := conn.Exec(ctx, `VACUUM ANALYZE `+table); err != nil {
			t.Fatal(err)
		}
	}
	for _, line := range storetest.TimeSegments(t, db, d, 5) {
		t.Logf("after VACUUM ANALYZE: %s", line)
	}
	if *segExplain {
		for _, name := range []string{"two", "five", "volunteer", "not"} {
			count, walk, rest, ca, wa, ra, err := postgres.SegmentQueries(d.Tenant.ID, d.Filters()[name], 50, d.Values[len(d.Values)/2].ID)
			if err != nil {
				t.Fatal(err)
			}
			explain(t, conn, name+": count", count, ca)
			explain(t, conn, name+": list, walk", walk, wa)
			explain(t, conn, name+": list, rest after the middle", rest, ra)
		}
	}

	// The baseline: the same contacts in plain text, personal fields and
	// segmentable values in columns, with a B-tree or GIN index on each
	// segmentable column.
	if _, err := conn.Exec(ctx, plaintextSegmentSchema); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_, err := conn.CopyFrom(ctx, pgx.Identifier{"plaintext_segments"}, plaintextSegmentColumns,
		pgx.CopyFromSlice(len(d.Values), func(i int) ([]any, error) { return plaintextSegmentRow(d.Tenant.ID, i, d.Values[i]), nil }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, plaintextSegmentIndexes); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE plaintext_segments`); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_size_pretty(pg_table_size('plaintext_segments'))`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	t.Logf("baseline: %d rows (%s) copied and indexed in %v", len(d.Values), size, time.Since(start).Round(time.Second))
	since := time.Now().Add(-365 * 24 * time.Hour)
	for _, name := range []string{"two", "five", "volunteer", "not"} {
		where := plaintextFilters[name]
		count := `SELECT count(*) FROM plaintext_segments WHERE tenant_id = $1 AND ` + where
		list := `SELECT * FROM plaintext_segments WHERE tenant_id = $1 AND ` + where + ` ORDER BY id LIMIT 50`
		var n int64
		countTime := best(t, 5, func() error { return conn.QueryRow(ctx, count, d.Tenant.ID, since).Scan(&n) })
		listTime := best(t, 5, func() error {
			rows, err := conn.Query(ctx, list, d.Tenant.ID, since)
			if err != nil {
				return err
			}
			rows.Close()
			return rows.Err()
		})
		t.Logf("baseline: %-9s %7d matches: count %v, first page of 50 %v", name, n,
			countTime.Round(10*time.Microsecond), listTime.Round(10*time.Microsecond))
		if *segExplain {
			explain(t, conn, "baseline "+name+": count", count, []any{d.Tenant.ID, since})
			explain(t, conn, "baseline "+name+": list", list, []any{d.Tenant.ID, since})
		}
	}
}

// best returns the shortest time of runs calls of f.
func best(t *testing.T, runs int, f func() error) time.Duration {
	t.Helper()
	var fastest time.Duration
	for i := 0; i < runs; i++ {
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); i == 0 || took < fastest {
			fastest = took
		}
	}
	return fastest
}

// explain logs the plan of a query as EXPLAIN (ANALYZE, BUFFERS) gives it.
func explain(t *testing.T, conn *pgx.Conn, name, sql string, args []any) {
	t.Helper()
	rows, err := conn.Query(context.Background(), "EXPLAIN (ANALYZE, BUFFERS) "+sql, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", name, err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	rows.Close()
	t.Logf("%s:\n%s", name, strings.Join(plan, "\n"))
}

const plaintextSegmentSchema = `CREATE TABLE plaintext_segments (
	tenant_id     text NOT NULL,
	id            uuid NOT NULL,
	given_name    text,
	family_name   text,
	email         text,
	phone         text,
	address       text,
	postal_code   text,
	district      text,
	birth_year    integer,
	interests     text[] NOT NULL DEFAULT '{}',
	support_level text,
	notes         text,
	newsletter    boolean NOT NULL,
	sms           boolean NOT NULL,
	events        boolean NOT NULL,
	restricted    boolean NOT NULL,
	objected      boolean NOT NULL,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL,
	PRIMARY KEY (tenant_id, id)
)`

const plaintextSegmentIndexes = `
CREATE INDEX ON plaintext_segments (tenant_id, district);
CREATE INDEX ON plaintext_segments (tenant_id, postal_code);
CREATE INDEX ON plaintext_segments (tenant_id, birth_year);
CREATE INDEX ON plaintext_segments (tenant_id, support_level);
CREATE INDEX ON plaintext_segments (tenant_id, created_at);
CREATE INDEX ON plaintext_segments USING gin (interests)`

var plaintextSegmentColumns = []string{"tenant_id", "id", "given_name", "family_name", "email", "phone", "address",
	"postal_code", "district", "birth_year", "interests", "support_level", "notes", "newsletter", "sms", "events",
	"restricted", "objected", "created_at", "updated_at"}

// plaintextSegmentRow returns the baseline row of the i-th contact.
func plaintextSegmentRow(tenantID string, i int, v storetest.SegmentValues) []any {
	name := func(prefix string, idx int) any {
		if idx < 0 {
			return nil
		}
		return fmt.Sprintf("%s-%02d", prefix, idx)
	}
	var year any
	if v.Year >= 0 {
		year = 1930 + v.Year
	}
	interests := make([]string, len(v.Interests))
	for k, x := range v.Interests {
		interests[k] = fmt.Sprintf("interest-%02d", x)
	}
	var notes any
	if i%7 == 0 {
		notes = "Met at the market; wants the newsletter."
	}
	return []any{tenantID, v.ID, "Marianne", "Dupont-Lefèvre", fmt.Sprintf("marianne.dupont%d@example.org", i),
		fmt.Sprintf("+3363998%04d", i%10000), "12 rue de la République, 69001 Lyon", name("postal", v.PostalCode),
		name("district", v.District), year, interests, name("support", v.Support), notes,
		v.Newsletter, v.SMS, v.Events, v.Restricted, v.Objected, v.CreatedAt, v.UpdatedAt}
}

// plaintextFilters are storetest.SegmentData.Filters on the baseline; $2
// is the time a year ago.
var plaintextFilters = map[string]string{
	"two": `district IN ('district-03', 'district-07') AND newsletter AND $2::timestamptz IS NOT NULL`,
	"five": `district IN ('district-03', 'district-07') AND newsletter
		AND interests && ARRAY['interest-01', 'interest-02', 'interest-03'] AND birth_year BETWEEN 1960 AND 1979
		AND NOT objected AND $2::timestamptz IS NOT NULL`,
	"volunteer": `district IN ('district-03', 'district-07') AND newsletter
		AND district IN ('district-03', 'district-07', 'district-11') AND NOT restricted AND NOT objected AND created_at >= $2`,
	"not": `district IS DISTINCT FROM 'district-03' AND district IS DISTINCT FROM 'district-07' AND $2::timestamptz IS NOT NULL`,
}
