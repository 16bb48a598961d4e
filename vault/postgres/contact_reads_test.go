package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/storetest"
)

// TestCoalescedReads queues more reads than one statement takes while the
// statement slot is held, then lets them run: each read gets its own
// record, whatever its place in its statement, and a read of a missing
// record, of another tenant's record or of the same record twice is
// answered as alone. A read whose context ends while it waits leaves the
// queue and the others are still answered.
func TestCoalescedReads(t *testing.T) {
	db, _ := pgtest.MustOpen(t)
	ctx := context.Background()
	a, b := storetest.MustCreateTenant(t, db), storetest.MustCreateTenant(t, db)
	var recs []*vault.Record
	for i := range 40 {
		tn := a
		if i%4 == 3 {
			tn = b
		}
		r := storetest.NewRecord(tn.ID)
		if err := db.CreateContact(ctx, r, storetest.NewEntry(tn.ID, vault.ActionContactCreate, r.ID)); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}

	type read struct {
		tenantID, id string
		want         *vault.Record // nil: not found
	}
	var reads []read
	for round := range 3 {
		for i, r := range recs {
			switch {
			case round == 1 && r.TenantID == b.ID:
				// Another tenant's record, asked for in tenant a.
				reads = append(reads, read{a.ID, r.ID, nil})
			case round == 2 && i%5 == 0:
				reads = append(reads, read{r.TenantID, vault.NewID(time.Now()), nil})
			default:
				reads = append(reads, read{r.TenantID, r.ID, r})
			}
		}
	}
	if len(reads) <= postgres.MaxReadBatch {
		t.Fatalf("%d reads fit in one statement", len(reads))
	}

	got := make([]*vault.Record, len(reads))
	errs := make([]error, len(reads))
	cancelled := runQueued(t, postgres.HoldReads, db, len(reads), func(i int) {
		got[i], errs[i] = db.Contact(ctx, reads[i].tenantID, reads[i].id)
	}, func(ctx context.Context) error {
		_, err := db.Contact(ctx, a.ID, recs[0].ID)
		return err
	})
	if !errors.Is(cancelled, context.Canceled) {
		t.Errorf("a read cancelled while queued returned %v, want context.Canceled", cancelled)
	}
	for i, rd := range reads {
		if rd.want == nil {
			if vault.ErrorCode(errs[i]) != vault.ENOTFOUND {
				t.Errorf("read %d of a missing record: %v, %v; want ENOTFOUND", i, got[i], errs[i])
			}
			continue
		}
		if errs[i] != nil {
			t.Errorf("read %d: %v", i, errs[i])
			continue
		}
		if d := storetest.DiffRecord(got[i], rd.want); d != "" {
			t.Errorf("read %d: %s", i, d)
		}
	}
	// The slot is free again: a read runs at once.
	if _, err := db.Contact(ctx, a.ID, recs[0].ID); err != nil {
		t.Fatal(err)
	}
}

// runQueued runs call(0) to call(n-1) concurrently while hold holds db's
// statement slot, so that all of them queue, and one more read, cancel,
// whose context ends while it waits; then it lets them run, waits for them
// and returns cancel's error.
func runQueued(t *testing.T, hold func(*postgres.DB) (func() int, func()), db *postgres.DB, n int, call func(i int), cancel func(context.Context) error) error {
	t.Helper()
	queued, release := hold(db)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { call(i) })
	}
	ctx, stop := context.WithCancel(t.Context())
	var cancelled error
	wg.Go(func() { cancelled = cancel(ctx) })
	waitQueued(t, queued, n+1)
	stop()
	waitQueued(t, queued, n)
	release()
	wg.Wait()
	if n := queued(); n != 0 {
		t.Errorf("%d reads still queued", n)
	}
	return cancelled
}

// waitQueued waits until queued reports n.
func waitQueued(t *testing.T, queued func() int, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for queued() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d reads queued, want %d", queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCoalescedFinds queues more finds by lookup token than one statement
// takes, and checks that each gets what it gets alone: its records in
// order, up to its limit, none for another tenant's token or an unknown
// one. A find whose context ends while it waits leaves the queue.
func TestCoalescedFinds(t *testing.T) {
	db, _ := pgtest.MustOpen(t)
	ctx := context.Background()
	a, b := storetest.MustCreateTenant(t, db), storetest.MustCreateTenant(t, db)
	// Records of a share one of three phone tokens; one record of b shares
	// the first.
	shared := [][]byte{storetest.RandomBytes(32), storetest.RandomBytes(32), storetest.RandomBytes(32)}
	var recs []*vault.Record
	for i := range 25 {
		tn := a
		if i == 24 {
			tn = b
		}
		r := storetest.NewRecord(tn.ID)
		r.CreatedAt = storetest.Now().Add(time.Duration(i%7) * time.Second) // ties broken by id
		r.Lookups[1].Token = shared[i%3]
		if err := db.CreateContact(ctx, r, storetest.NewEntry(tn.ID, vault.ActionContactCreate, r.ID)); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}

	type find struct {
		tenantID, field string
		token           []byte
		limit           int
	}
	var finds []find
	for _, r := range recs {
		finds = append(finds, find{r.TenantID, storetest.FieldEmail, r.Lookups[0].Token, 50})
		finds = append(finds, find{a.ID, storetest.FieldEmail, r.Lookups[0].Token, 1}) // b's record: none
	}
	for i, tok := range shared {
		for _, limit := range []int{1, 3, 50} {
			finds = append(finds, find{a.ID, storetest.FieldPhone, tok, limit})
			finds = append(finds, find{b.ID, storetest.FieldPhone, tok, limit})
		}
		finds = append(finds, find{a.ID, storetest.FieldEmail, tok, 50}) // the wrong field: none
		finds = append(finds, find{a.ID, storetest.FieldPhone, storetest.RandomBytes(32 + i), 50})
	}
	if len(finds) <= postgres.MaxReadBatch {
		t.Fatalf("%d finds fit in one statement", len(finds))
	}

	// Each find alone first: the statement of one find.
	want := make([][]*vault.Record, len(finds))
	matches := 0
	for i, f := range finds {
		var err error
		if want[i], err = db.FindContacts(ctx, f.tenantID, f.field, f.token, f.limit); err != nil {
			t.Fatal(err)
		}
		matches += len(want[i])
	}
	if matches < len(recs)+20 {
		t.Fatalf("the finds alone matched %d records: the test's data is wrong", matches)
	}

	got := make([][]*vault.Record, len(finds))
	errs := make([]error, len(finds))
	cancelled := runQueued(t, postgres.HoldFinds, db, len(finds), func(i int) {
		f := finds[i]
		got[i], errs[i] = db.FindContacts(ctx, f.tenantID, f.field, f.token, f.limit)
	}, func(ctx context.Context) error {
		_, err := db.FindContacts(ctx, a.ID, storetest.FieldPhone, shared[0], 50)
		return err
	})
	if !errors.Is(cancelled, context.Canceled) {
		t.Errorf("a find cancelled while queued returned %v, want context.Canceled", cancelled)
	}
	for i := range finds {
		if errs[i] != nil {
			t.Errorf("find %d: %v", i, errs[i])
			continue
		}
		if len(got[i]) != len(want[i]) {
			t.Errorf("find %d: %d records, alone %d", i, len(got[i]), len(want[i]))
			continue
		}
		for j := range got[i] {
			if d := storetest.DiffRecord(got[i][j], want[i][j]); d != "" {
				t.Errorf("find %d, record %d: %s", i, j, d)
			}
		}
	}
}

// TestCoalescedReadsFail checks that reads sharing a statement that
// fails all get its error, and that the slot is free afterwards.
func TestCoalescedReadsFail(t *testing.T) {
	db, _ := pgtest.MustOpen(t)
	ctx := context.Background()
	tn := storetest.MustCreateTenant(t, db)
	r := storetest.NewRecord(tn.ID)
	storetest.MustCreateContact(t, db, r)

	queued, release := postgres.HoldReads(db)
	errs := make([]error, 5)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = db.Contact(ctx, tn.ID, r.ID) })
	}
	waitQueued(t, queued, len(errs))
	db.Close() // every statement now fails
	release()
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			t.Errorf("read %d through a closed pool succeeded", i)
		}
	}
	if _, err := db.Contact(ctx, tn.ID, r.ID); err == nil {
		t.Error("a read after the failed batch succeeded through a closed pool")
	}
	if n := queued(); n != 0 {
		t.Errorf("%d reads still queued", n)
	}
}

// TestBatchedPlans checks that the coalesced statements run on connections
// that always use a prepared statement's generic plan, whatever the
// application's own connections do.
func TestBatchedPlans(t *testing.T) {
	db, _ := pgtest.MustOpen(t)
	got, err := postgres.BatchedSetting(t.Context(), db, "plan_cache_mode")
	if err != nil {
		t.Fatal(err)
	}
	if got != "force_generic_plan" {
		t.Errorf("plan_cache_mode = %q on the batched connections, want force_generic_plan", got)
	}
	var own string
	if err := postgres.Pool(db).QueryRow(t.Context(), "SELECT current_setting('plan_cache_mode')").Scan(&own); err != nil {
		t.Fatal(err)
	}
	if own == "force_generic_plan" {
		t.Errorf("the application's own connections force generic plans too")
	}
}
