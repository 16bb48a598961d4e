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

	queued, release := postgres.HoldReads(db)
	got := make([]*vault.Record, len(reads))
	errs := make([]error, len(reads))
	var wg sync.WaitGroup
	for i, rd := range reads {
		wg.Go(func() {
			got[i], errs[i] = db.Contact(ctx, rd.tenantID, rd.id)
		})
	}
	// A read that gives up while it waits.
	cctx, cancel := context.WithCancel(ctx)
	var cancelled error
	wg.Go(func() {
		_, cancelled = db.Contact(cctx, a.ID, recs[0].ID)
	})
	waitQueued(t, queued, len(reads)+1)
	cancel()
	waitQueued(t, queued, len(reads))
	release()
	wg.Wait()

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
	if n := queued(); n != 0 {
		t.Errorf("%d reads still queued", n)
	}
	// The slot is free again: a read runs at once.
	if _, err := db.Contact(ctx, a.ID, recs[0].ID); err != nil {
		t.Fatal(err)
	}
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
