package postgres_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/storetest"
)

// TestPendingFloor checks the bound an append of reads puts on its check
// for pending entries: once an append found none, no entry of a
// transaction below the bound is ever pending, whatever writers, appends
// and sequencing run at once; and a pending entry committed after the
// bound moved is still found, and numbered before the appended ones.
func TestPendingFloor(t *testing.T) {
	db, _ := pgtest.MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	ctx := context.Background()
	l, _ := storetest.NewLog(t, db, 0)
	read := func() *audit.Entry {
		return storetest.AuditEntry(storetest.NewEntry(tn.ID, vault.ActionContactRead, ""))
	}
	write := func() *vault.AuditEntry { return storetest.NewEntry(tn.ID, vault.ActionContactUpdate, "") }

	if postgres.PendingFloor(db) != 0 {
		t.Fatalf("PendingFloor of a new store = %d, want 0", postgres.PendingFloor(db))
	}
	// The first append, on an empty log, takes the general path; the
	// second, on a log with a head, the one statement that sets the floor.
	for range 2 {
		if err := l.Append(ctx, read()); err != nil {
			t.Fatal(err)
		}
	}
	floor := postgres.PendingFloor(db)
	if floor == 0 {
		t.Fatal("an append that found nothing pending left the floor at 0")
	}
	checkFloor(t, db)

	// A write committed now has a transaction at or above the floor: the
	// next append must number it first.
	w := write()
	if err := db.AppendAudit(ctx, []*vault.AuditEntry{w}); err != nil {
		t.Fatal(err)
	}
	r := read()
	if err := l.Append(ctx, r); err != nil {
		t.Fatal(err)
	}
	es, _, err := db.SequencedEntries(ctx, 2, 4)
	if err != nil || len(es) != 2 || es[0].RequestID != w.RequestID || es[1].RequestID != r.RequestID {
		t.Fatalf("after a write and an append, entries 2 and 3 = %v, %v; want the write, then the read", es, err)
	}
	// That append found the write pending and took the general path; the
	// next one finds nothing pending and moves the floor past the write.
	if err := l.Append(ctx, read()); err != nil {
		t.Fatal(err)
	}
	if postgres.PendingFloor(db) <= floor {
		t.Errorf("PendingFloor = %d after appends, want above %d", postgres.PendingFloor(db), floor)
	}

	// A write whose transaction is open while an append finds nothing
	// pending: the floor must stay at or below its transaction, so that
	// once it commits the next append finds it and numbers it first.
	tx, err := postgres.Pool(db).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	held := write()
	if _, err := tx.Exec(ctx, `INSERT INTO audit_entries (time, tenant_id, actor_id, actor_role, action, subject,
		fields, purpose, outcome, request_id, decision_id, policy_revision, sealed)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		held.Time, held.TenantID, held.ActorID, held.ActorRole, held.Action, held.Subject, held.Fields,
		held.Purpose, held.Outcome, held.RequestID, held.DecisionID, held.PolicyRevision, held.Sealed); err != nil {
		t.Fatal(err)
	}
	// A later transaction that ends first: the append's snapshot then has
	// the held one in progress below its xmax.
	storetest.MustCreateTenant(t, db)
	if err := l.Append(ctx, read()); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	checkFloor(t, db)
	last := read()
	if err := l.Append(ctx, last); err != nil {
		t.Fatal(err)
	}
	es, _, err = db.SequencedEntries(ctx, 6, 8)
	if err != nil || len(es) != 2 || es[0].RequestID != held.RequestID || es[1].RequestID != last.RequestID {
		t.Fatalf("after a write held open across an append, entries 6 and 7 = %v, %v; want the write, then the read", es, err)
	}

	// Writers, appenders and a sequencer at once.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 6 {
		wg.Go(func() {
			for range 25 {
				var err error
				switch i % 3 {
				case 0:
					err = db.AppendAudit(ctx, []*vault.AuditEntry{write(), write()})
				case 1:
					err = l.Append(ctx, read(), read())
				default:
					_, err = l.Sync(ctx)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkFloor(t, db)
	const want = 2 + 3 + 3 + 2*2*25 + 2*2*25 // reads; a write and two reads, twice; writers and appenders
	if n, err := l.Sync(ctx); err != nil || n != want {
		t.Fatalf("Sync() = %d, %v; want %d", n, err, want)
	}
}

// TestPendingFloorPartial checks that a sequencing that numbers only part
// of what a read of the pending queue returned does not raise the floor
// past the rest: the rest must still be read, and numbered.
func TestPendingFloorPartial(t *testing.T) {
	db, _ := pgtest.MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	ctx := context.Background()
	tree := storetest.SequenceAll(t, db) // nothing: the floor rises to now
	before := postgres.PendingFloor(db)
	es := []*vault.AuditEntry{storetest.NewEntry(tn.ID, vault.ActionContactUpdate, ""), storetest.NewEntry(tn.ID, vault.ActionContactUpdate, "")}
	if err := db.AppendAudit(ctx, es); err != nil {
		t.Fatal(err)
	}
	ps, err := db.PendingAudit(ctx, 10)
	if err != nil || len(ps) != 2 {
		t.Fatalf("PendingAudit = %d entries, %v; want 2", len(ps), err)
	}
	head, err := db.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seqd, nodes, nextHead := storetest.BatchOn(t, tree, ps[:1])
	if err := db.SequenceAudit(ctx, head, seqd, nodes, nextHead); err != nil {
		t.Fatal(err)
	}
	rest, err := db.PendingAudit(ctx, 10)
	if err != nil || len(rest) != 1 || rest[0].ID != ps[1].ID {
		t.Fatalf("PendingAudit after numbering one of two = %v, %v; want the other (floor %d, was %d)", rest, err, postgres.PendingFloor(db), before)
	}
	checkFloor(t, db)
	if got := storetest.SequenceAll(t, db); got.Size() != tree.Size()+2 {
		t.Errorf("size after sequencing the rest = %d, want %d", got.Size(), tree.Size()+2)
	}
	checkFloor(t, db)
	if postgres.PendingFloor(db) <= before {
		t.Errorf("PendingFloor = %d after the queue was emptied, want above %d", postgres.PendingFloor(db), before)
	}
}

// checkFloor fails the test if an entry of a transaction below db's
// pending floor is pending.
func checkFloor(t *testing.T, db *postgres.DB) {
	t.Helper()
	var n int
	err := postgres.Pool(db).QueryRow(context.Background(),
		`SELECT count(*) FROM audit_entries WHERE seq IS NULL AND txid < $1::text::xid8`,
		strconv.FormatUint(postgres.PendingFloor(db), 10)).Scan(&n)
	if err != nil || n != 0 {
		t.Fatalf("%d entries pending below the floor %d (%v)", n, postgres.PendingFloor(db), err)
	}
}

// TestPendingChecksUseIndex checks that the questions whether entries are
// pending read the pending index, not the log, even under statistics
// taken while thousands of entries were pending and since numbered: with
// EXISTS, the planner then chose a sequential scan of the whole log for
// every append.
func TestPendingChecksUseIndex(t *testing.T) {
	db, u := pgtest.MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	ctx := context.Background()
	for range 10 {
		var batch []*vault.AuditEntry
		for range 500 {
			batch = append(batch, storetest.NewEntry(tn.ID, vault.ActionContactUpdate, ""))
		}
		if err := db.AppendAudit(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	conn := pgtest.Conn(t, u)
	if _, err := conn.Exec(ctx, "ANALYZE audit_entries"); err != nil {
		t.Fatal(err)
	}
	l, _ := storetest.NewLog(t, db, 0)
	if _, err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	for i, q := range postgres.PendingChecks {
		name := "check" + strconv.Itoa(i)
		if _, err := conn.Exec(ctx, "PREPARE "+name+" AS "+q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		args := ""
		if strings.Contains(q, "$1") {
			args = "('0')"
		}
		var plan []string
		rows, err := conn.Query(ctx, "EXPLAIN EXECUTE "+name+args)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "\n")
		if strings.Contains(text, "Seq Scan") || !strings.Contains(text, "audit_entries_pending_txid") {
			t.Errorf("%s\nis planned as\n%s", q, text)
		}
	}
}
