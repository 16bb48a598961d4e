package vault

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
)

// LoadOptions tunes LoadContacts.
type LoadOptions struct {
	// Workers seal contacts in parallel; GOMAXPROCS by default.
	Workers int
	// BatchSize is the number of contacts per store transaction; 5,000 by
	// default.
	BatchSize int
	// Progress, if set, is called after each batch with the running total.
	Progress func(loaded int)
	// Action names the audit entry of each batch; "contact.load" by default.
	Action string
}

// LoadContacts validates, seals and stores n contacts for a tenant on
// behalf of the local operator (demo data, bulk loads). gen(i) returns the
// i-th input (0 ≤ i < n) and is called from several goroutines at once, so
// it must be safe for concurrent use; nothing needs to hold all n inputs in
// memory. Sealing runs on
// Workers goroutines, and batches go to the store in order, each in one
// transaction with one audit entry. It stops at the first invalid input
// (EINVALID naming its position) or store error; batches stored before
// stay stored. It returns how many contacts were stored.
func (s *Service) LoadContacts(ctx context.Context, tenantID string, n int, gen func(i int) *ContactInput, opts LoadOptions) (int, error) {
	if err := s.EnsureTenant(ctx, tenantID); err != nil {
		return 0, err
	}
	tk, err := s.tenantKeys(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	if opts.Action == "" {
		opts.Action = "contact.load"
	}
	op := &Principal{ID: OperatorID, TenantID: tenantID, Role: OperatorRole}
	ctx, cancel := context.WithCancel(ctx)

	type batch struct {
		n   int
		rs  []*Record
		err error
	}
	nb := (n + opts.BatchSize - 1) / opts.BatchSize
	jobs := make(chan int)
	results := make([]chan batch, nb)
	for i := range results {
		results[i] = make(chan batch, 1)
	}
	var wg sync.WaitGroup
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range jobs {
				lo, hi := b*opts.BatchSize, min((b+1)*opts.BatchSize, n)
				rs, err := s.sealInputs(tk, tenantID, lo, hi, gen)
				results[b] <- batch{n: hi - lo, rs: rs, err: err}
			}
		}()
	}
	// ahead bounds how many sealed batches wait for the store, so memory
	// stays flat however large n is.
	ahead := make(chan struct{}, 2*opts.Workers)
	go func() {
		defer close(jobs)
		for b := 0; b < nb; b++ {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	// On return, stop feeding first, then wait for the batches in hand.
	defer wg.Wait()
	defer cancel()

	loaded := 0
	for b := 0; b < nb; b++ {
		var res batch
		select {
		case res = <-results[b]:
		case <-ctx.Done():
			return loaded, ctx.Err()
		}
		<-ahead
		if res.err != nil {
			return loaded, res.err
		}
		e := s.entry(ctx, op, opts.Action, "", "", nil, nil)
		if err := s.store.LoadContacts(ctx, res.rs, e); err != nil {
			return loaded, fmt.Errorf("vault.LoadContacts: batch %d: %w", b, s.conflict(err))
		}
		loaded += res.n
		if opts.Progress != nil {
			opts.Progress(loaded)
		}
	}
	return loaded, nil
}

// sealInputs validates and seals inputs lo to hi-1.
func (s *Service) sealInputs(tk TenantKeys, tenantID string, lo, hi int, gen func(int) *ContactInput) ([]*Record, error) {
	rs := make([]*Record, 0, hi-lo)
	for i := lo; i < hi; i++ {
		ci := gen(i)
		now := s.now()
		c := &Contact{TenantID: tenantID, Fields: map[string]any{}, Consents: map[string]Consent{}, CreatedAt: now, UpdatedAt: now}
		if err := s.apply(c, ci.Fields, ci.Consents, false, now); err != nil {
			e := &Error{Code: EINVALID, Message: fmt.Sprintf("Invalid contact at position %d.", i+1), Fields: ErrorFields(err)}
			return nil, e
		}
		c.ID = NewID(now)
		r, err := s.seal(tk, c, nil)
		if err != nil {
			return nil, err
		}
		r.Version = 1
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].ID < rs[j].ID })
	return rs, nil
}
