package audit_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
)

// TestAppend checks Log.Append on the memory store: the entries pending
// are numbered first, the appended ones follow in the order given with
// the log's time when theirs is zero, the caller's entries are left as
// they were, and an entry that cannot be encoded, or none, stores nothing.
func TestAppend(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))
	l := newTestLog(t, nil, "", "", audit.LogOptions{BatchSize: 4})

	if err := l.Append(ctx); err != nil {
		t.Fatalf("Append() = %v, want nil", err)
	}
	addEntries(l.store, r, 6) // more than one batch pending
	es := make([]*audit.Entry, 3)
	for i := range es {
		e := genEntry(r, 0)
		es[i] = &e
	}
	es[1].Time = time.Time{}
	if err := l.Append(ctx, es...); err != nil {
		t.Fatalf("Append = %v", err)
	}
	if !es[1].Time.IsZero() || es[0].Seq != 0 {
		t.Error("Append changed the caller's entries")
	}
	if l.Size() != 9 {
		t.Fatalf("Size() = %d after 6 pending and 3 appended, want 9", l.Size())
	}
	got, _, err := l.store.SequencedEntries(ctx, 6, 9)
	if err != nil || len(got) != 3 {
		t.Fatalf("SequencedEntries(6, 9) = %d, %v", len(got), err)
	}
	for i, e := range got {
		want := *es[i]
		want.Seq = uint64(6 + i)
		if i == 1 {
			want.Time = now0
		}
		if e.RequestID != want.RequestID || e.Seq != want.Seq || !e.Time.Equal(want.Time) {
			t.Errorf("entry %d = seq %d, request %s, time %v; want seq %d, request %s, time %v",
				6+i, e.Seq, e.RequestID, e.Time, want.Seq, want.RequestID, want.Time)
		}
	}
	checkStore(t, l.store, 9)

	for _, tt := range []struct {
		name    string
		entries func() []*audit.Entry
	}{
		{"Nil", func() []*audit.Entry { e := genEntry(r, 0); return []*audit.Entry{&e, nil} }},
		{"NotUTF8", func() []*audit.Entry {
			a, b := genEntry(r, 0), genEntry(r, 0)
			b.Purpose = "\xff"
			return []*audit.Entry{&a, &b}
		}},
		{"Year10000", func() []*audit.Entry {
			e := genEntry(r, 0)
			e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			return []*audit.Entry{&e}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := l.Append(ctx, tt.entries()...)
			if !errors.Is(err, audit.ErrInvalidEntry) {
				t.Errorf("Append = %v, want ErrInvalidEntry", err)
			}
			if l.Size() != 9 {
				t.Errorf("Size() = %d after a refused append, want 9", l.Size())
			}
			checkStore(t, l.store, 9)
		})
	}
}
