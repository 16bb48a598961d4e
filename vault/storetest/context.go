package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
)

// callTimeout bounds how long a call on a done context may take.
const callTimeout = 10 * time.Second

// storeCalls returns one call of every Store method, for the tenant and a
// stored record r.
func storeCalls(s vault.Store, tn *vault.Tenant, r *vault.Record) []struct {
	name string
	call func(ctx context.Context) error
} {
	return []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Ping", func(ctx context.Context) error { return s.Ping(ctx) }},
		{"CreateTenant", func(ctx context.Context) error { return s.CreateTenant(ctx, NewTenant()) }},
		{"Tenant", func(ctx context.Context) error { _, err := s.Tenant(ctx, tn.ID); return err }},
		{"CreateContact", func(ctx context.Context) error {
			n := NewRecord(tn.ID)
			return s.CreateContact(ctx, n, NewEntry(tn.ID, vault.ActionContactCreate, n.ID))
		}},
		{"Contact", func(ctx context.Context) error { _, err := s.Contact(ctx, tn.ID, r.ID); return err }},
		{"UpdateContact", func(ctx context.Context) error {
			u := CloneRecord(r)
			u.Version++
			u.Flags.Restricted = !u.Flags.Restricted
			return s.UpdateContact(ctx, u, NewEntry(tn.ID, vault.ActionContactUpdate, r.ID))
		}},
		{"EraseContact", func(ctx context.Context) error {
			return s.EraseContact(ctx, tn.ID, r.ID, NewEntry(tn.ID, vault.ActionContactErase, r.ID))
		}},
		{"FindContacts", func(ctx context.Context) error {
			_, err := s.FindContacts(ctx, tn.ID, FieldEmail, LookupToken(r, FieldEmail), 10)
			return err
		}},
		{"LoadContacts", func(ctx context.Context) error {
			return s.LoadContacts(ctx, []*vault.Record{NewRecord(tn.ID), NewRecord(tn.ID)}, NewEntry(tn.ID, "contact.import", ""))
		}},
		{"CountContacts", func(ctx context.Context) error {
			_, err := s.CountContacts(ctx, tn.ID, &vault.Cond{Op: vault.CondTokens, Tokens: r.Tokens})
			return err
		}},
		{"ListContacts", func(ctx context.Context) error {
			_, err := s.ListContacts(ctx, tn.ID, &vault.Cond{Op: vault.CondTrue}, "", 10)
			return err
		}},
		{"SaveSegment", func(ctx context.Context) error {
			return s.SaveSegment(ctx, NewSegment(tn.ID, "s"), NewEntry(tn.ID, vault.ActionSegmentSave, ""))
		}},
		{"Segment", func(ctx context.Context) error { _, err := s.Segment(ctx, tn.ID, "s"); return err }},
		{"Segments", func(ctx context.Context) error { _, err := s.Segments(ctx, tn.ID); return err }},
		{"DeleteSegment", func(ctx context.Context) error {
			return s.DeleteSegment(ctx, tn.ID, "s", NewEntry(tn.ID, vault.ActionSegmentDelete, ""))
		}},
		{"CreateToken", func(ctx context.Context) error {
			return s.CreateToken(ctx, NewToken(tn.ID), NewEntry(tn.ID, vault.ActionTokenCreate, ""))
		}},
		{"Token", func(ctx context.Context) error { _, err := s.Token(ctx, "tok-any"); return err }},
		{"AppendAudit", func(ctx context.Context) error {
			return s.AppendAudit(ctx, []*vault.AuditEntry{NewEntry(tn.ID, vault.ActionContactRead, r.ID)})
		}},
		{"AppendAudit(batch)", func(ctx context.Context) error {
			return s.AppendAudit(ctx, []*vault.AuditEntry{NewEntry(tn.ID, vault.ActionContactRead, r.ID), NewEntry(tn.ID, vault.ActionContactRead, r.ID)})
		}},
		{"AuditEntries", func(ctx context.Context) error {
			_, err := s.AuditEntries(ctx, vault.AuditFilter{TenantID: tn.ID, Limit: 10})
			return err
		}},
		{"AuditHead", func(ctx context.Context) error { _, err := s.AuditHead(ctx); return err }},
		{"PendingAudit", func(ctx context.Context) error { _, err := s.PendingAudit(ctx, 10); return err }},
		{"SequenceAudit", func(ctx context.Context) error {
			head, err := s.AuditHead(context.Background())
			if err != nil {
				return nil // reported by the check of the log below
			}
			tree, err := audit.UnmarshalTree(head)
			if err != nil {
				return nil
			}
			next, nodes, err := tree.Append(RandomBytes(audit.HashSize))
			if err != nil {
				return nil
			}
			nextHead, _ := next.MarshalBinary()
			return s.SequenceAudit(ctx, head, []audit.Sequenced{{ID: 1, Seq: tree.Size(), LeafHash: RandomBytes(audit.HashSize)}}, nodes, nextHead)
		}},
		{"ReadHashes", func(ctx context.Context) error { _, err := s.ReadHashes(ctx, 0, 0, 1); return err }},
		{"SequencedEntries", func(ctx context.Context) error { _, _, err := s.SequencedEntries(ctx, 0, 1); return err }},
		{"AddCheckpoint", func(ctx context.Context) error {
			return s.AddCheckpoint(ctx, &audit.StoredCheckpoint{Size: 1, Note: RandomBytes(100)})
		}},
		{"Checkpoints", func(ctx context.Context) error { _, err := s.Checkpoints(ctx, 0, 10); return err }},
		{"LatestCheckpoint", func(ctx context.Context) error { _, err := s.LatestCheckpoint(ctx); return err }},
	}
}

// callWithin runs f and fails t if it does not return within d.
func callWithin(t *testing.T, name string, d time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%s on a done context did not return within %v", name, d)
		return nil
	}
}

func testContext(t *testing.T, open func(t *testing.T) vault.Store) {
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"Canceled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}},
		{"DeadlineExceeded", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			tn := MustCreateTenant(t, s)
			r := NewRecord(tn.ID)
			e := MustCreateContact(t, s, r)
			tree := SequenceAll(t, s)
			ctx, cancel := tt.ctx()
			defer cancel()
			for _, c := range storeCalls(s, tn, r) {
				err := callWithin(t, c.name, callTimeout, func() error { return c.call(ctx) })
				if err == nil {
					t.Errorf("%s(done context) = nil, want an error", c.name)
				}
			}
			checkRecord(t, s, r)
			checkPending(t, s)
			checkAudit(t, s, tn.ID, WithSeq(e, 0))
			if got := CheckLog(t, s); !bytes.Equal(got.Root(), tree.Root()) {
				t.Errorf("the log changed under calls on a done context")
			}
			if c, err := s.LatestCheckpoint(context.Background()); err != nil || c != nil {
				t.Errorf("LatestCheckpoint = %v, %v; want none", c, err)
			}
		})
	}

	// Cancelling in the middle of concurrent writes leaves every write
	// whole or absent, and the audit log dense.
	t.Run("Concurrent", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		type result struct {
			r   *vault.Record
			e   *vault.AuditEntry
			err error
		}
		const workers = 16
		results := make([][]result, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := 0; i < 200 && ctx.Err() == nil; i++ {
					r := NewRecord(tn.ID)
					e := NewEntry(tn.ID, vault.ActionContactCreate, r.ID)
					err := s.CreateContact(ctx, r, e)
					results[w] = append(results[w], result{r, e, err})
				}
			})
		}
		time.Sleep(50 * time.Millisecond)
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(callTimeout):
			t.Fatalf("writers did not return within %v of the cancellation", callTimeout)
		}

		bySubject := make(map[string]*vault.AuditEntry)
		for _, p := range pendingAll(t, s) {
			bySubject[p.Entry.Subject] = VaultEntry(p.Entry)
		}
		var ok []*vault.AuditEntry
		for _, rs := range results {
			for _, res := range rs {
				_, err := s.Contact(context.Background(), tn.ID, res.r.ID)
				stored := err == nil
				if !stored && vault.ErrorCode(err) != vault.ENOTFOUND {
					t.Fatalf("Contact(%s) = %v, want nil or ENOTFOUND", res.r.ID, err)
				}
				switch {
				case res.err == nil:
					ok = append(ok, res.e)
					if !stored {
						t.Errorf("CreateContact(%s) = nil but the record is absent", res.r.ID)
					}
				case !errors.Is(res.err, context.Canceled) && vault.ErrorCode(res.err) != vault.EINTERNAL && vault.ErrorCode(res.err) != vault.EUNAVAILABLE:
					t.Errorf("CreateContact(%s) = %v, want nil or a cancellation", res.r.ID, res.err)
				}
				if _, audited := bySubject[res.r.ID]; stored != audited {
					t.Errorf("record %s: stored %t but audited %t, want both or neither", res.r.ID, stored, audited)
				}
			}
		}
		// Whatever was written, the store still works and the log is
		// dense once sequenced.
		ok = append(ok, MustCreateContact(t, s, NewRecord(tn.ID)))
		var written []*vault.AuditEntry
		for _, e := range bySubject {
			written = append(written, e)
		}
		written = append(written, ok[len(ok)-1])
		settle(t, s)
		checkDense(t, s, []*vault.Tenant{tn}, written)
		all := auditAll(t, s, tn.ID)
		byRequest := make(map[string]*vault.AuditEntry)
		for _, e := range all {
			byRequest[e.RequestID] = e
		}
		for _, e := range ok {
			got, found := byRequest[e.RequestID]
			if !found {
				t.Errorf("entry of a successful write (request %s) is not in the log", e.RequestID)
				continue
			}
			if d := DiffEntry(got, WithSeq(e, got.Seq)); d != "" {
				t.Errorf("entry Seq %d: %s", got.Seq, d)
			}
		}
	})
}
