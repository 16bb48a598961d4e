package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Log defaults.
const (
	DefaultSequenceInterval   = 100 * time.Millisecond
	DefaultCheckpointInterval = time.Second
	DefaultBatchSize          = 4096
)

// exportChunk is how many entries Export reads from the store at once.
const exportChunk = 4096

// closeTimeout bounds the final sequence and checkpoint pass of Close.
const closeTimeout = 10 * time.Second

// maxPendingRetries bounds how often one Append reads the pending entries
// again because the store refused its entries alone while some were
// pending, each time committed after the previous read.
const maxPendingRetries = 8

// maxRetryDelay caps the delay between sequencing attempts after store
// errors.
const maxRetryDelay = 10 * time.Second

// LogOptions configure a Log.
type LogOptions struct {
	// Signer signs the checkpoints; its name is the log's origin.
	// Required.
	Signer *Signer
	// SequenceInterval is how often the background loop sequences pending
	// entries. Default DefaultSequenceInterval.
	SequenceInterval time.Duration
	// CheckpointInterval is how often the background loop cuts a checkpoint
	// if the size changed since the last one. Default
	// DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// BatchSize is the most pending entries numbered by one
	// Store.SequenceAudit call (the entries of one Append join the last
	// call whatever their number). Default DefaultBatchSize.
	BatchSize int
	// Logger receives operational messages: sizes, counts, row ids and
	// errors, never the content of an entry. Default: discard.
	Logger *slog.Logger
	// Now is the clock for the CreatedAt of checkpoints. Default time.Now.
	Now func() time.Time
}

// Log is the sequencer, checkpointer, prover and exporter of an audit log
// kept in a Store.
//
// # Sequencing
//
// Writers never number entries. Each audited transaction commits its entry
// unsequenced, in the transaction of the change it records, so a change and
// its entry are durable together and concurrent writers share no counter.
// Only the sequencer numbers them: a sequencing pass reads the oldest
// pending entries (Store.PendingAudit), gives them the sequence numbers
// Size(), Size()+1, ... in row order, hashes them with their number,
// appends the leaf hashes to the tree and hands everything to
// Store.SequenceAudit, which, in one transaction, checks that the stored
// tree head is still the one the numbering started from, sets each entry's
// number exactly once, stores the node hashes and the new head.
//
// Entries that record no change (a read, a search, a refusal) have no
// transaction of their own to join. Append numbers them at once instead:
// after the entries pending in the store, which it numbers first, it
// hashes them and has Store.SequenceAudit insert them already numbered,
// with the nodes and the new head, under the same head check. A read is
// then answered only once its entry is in the tree, every entry committed
// before it comes first in the log, and the store writes each such entry
// once rather than inserting it and numbering it later. A writer may also
// commit such entries pending, in a transaction of their own, for the
// sequencer to number like any other: the entry is as durable, it enters
// the tree within SequenceInterval, and on a store where the pending
// insert is much the cheaper statement the reader waits less.
//
// Sequence numbers are therefore dense and gap-free whatever the number of
// writers: they are assigned by one party from the size of the head it
// read, and they become visible only together with the head that accounts
// for them. A batch commits whole or not at all, so a failed transaction
// leaves no number behind. Another Log on the same store (a CLI command
// beside the server) that sequenced meanwhile has moved the head: the
// store refuses the stale batch with ErrHeadMoved, and the Log reloads the
// head and numbers the still pending entries after the other's. An entry
// cannot be numbered twice, since the head check fails for every batch but
// the first, and the store refuses an entry already sequenced.
//
// The log's order is thus the order in which entries were committed and
// found pending, which may differ by a few milliseconds from the order of
// their times.
//
// Within one process, one mutex serialises the sequencing passes of Sync,
// Checkpoint, Export and the background loop, so that a pass always starts
// from the head of the previous one. Entries are numbered in batches of
// BatchSize, and a pass goes on while batches come back full; hashing
// costs the writers nothing.
//
// An entry that cannot be encoded (see Entry.Encode) stops sequencing at
// that entry until it is repaired: writers must check entries with
// Entry.Encode before they commit them.
//
// # Background loop
//
// Open starts one goroutine, stopped by Close, that sequences every
// SequenceInterval and cuts a checkpoint every CheckpointInterval when the
// size changed since the last checkpoint. A store error is logged and the
// pass retried, after a delay that grows with consecutive failures up to
// ten seconds; it is never fatal. Sync, Checkpoint and the other methods
// work without Open too, for a command that needs no loop.
//
// A Log is safe for concurrent use.
type Log struct {
	store  Store
	signer *Signer
	seqInt time.Duration
	cpInt  time.Duration
	batch  int
	logger *slog.Logger
	now    func() time.Time

	// size mirrors tree.Size() for Size, without the lock.
	size atomic.Uint64

	mu     sync.Mutex
	tree   *Tree  // the head the next batch is numbered from; nil until loaded
	head   []byte // tree as the store holds it: the prevHead of the next batch
	enc    []byte // the encoding buffer of number
	cpSize uint64 // size of the latest checkpoint known
	hasCP  bool   // whether cpSize is known to be stored

	run    sync.Mutex // guards the fields below
	opened bool
	closed bool
	stop   context.CancelFunc // stops the loop
	done   chan struct{}      // closed when the loop has returned
}

// NewLog returns a Log over store. It reads nothing: Open loads the head.
// It fails if opts.Signer is nil or an option is negative.
func NewLog(store Store, opts LogOptions) (*Log, error) {
	switch {
	case store == nil:
		return nil, errors.New("audit.NewLog: nil store")
	case opts.Signer == nil:
		return nil, errors.New("audit.NewLog: a signer is required")
	case opts.SequenceInterval < 0 || opts.CheckpointInterval < 0 || opts.BatchSize < 0:
		return nil, errors.New("audit.NewLog: negative interval or batch size")
	}
	l := &Log{
		store:  store,
		signer: opts.Signer,
		seqInt: opts.SequenceInterval,
		cpInt:  opts.CheckpointInterval,
		batch:  opts.BatchSize,
		logger: opts.Logger,
		now:    opts.Now,
	}
	if l.seqInt == 0 {
		l.seqInt = DefaultSequenceInterval
	}
	if l.cpInt == 0 {
		l.cpInt = DefaultCheckpointInterval
	}
	if l.batch == 0 {
		l.batch = DefaultBatchSize
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l, nil
}

// Origin returns the log's origin, the name of its signing key.
func (l *Log) Origin() string { return l.signer.Origin() }

// Size returns the number of entries sequenced, as of the last head this
// Log read or wrote.
func (l *Log) Size() uint64 { return l.size.Load() }

// Open loads the stored tree head, checks it against the stored node
// hashes, and starts the background loop. It fails if the head does not
// decode or does not match the stored hashes, or if the Log was opened
// before.
func (l *Log) Open(ctx context.Context) error {
	l.run.Lock()
	defer l.run.Unlock()
	if l.opened {
		return errors.New("audit.Log.Open: already opened")
	}
	l.mu.Lock()
	err := l.refresh(ctx)
	if err == nil {
		err = l.loadCheckpoint(ctx)
	}
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("audit.Log.Open: %w", err)
	}
	l.opened = true
	loopCtx, stop := context.WithCancel(context.Background())
	l.stop, l.done = stop, make(chan struct{})
	go l.loop(loopCtx, l.done)
	l.logger.Info("audit log opened", "origin", l.Origin(), "size", l.Size())
	return nil
}

// Close stops the background loop, waits for it, then attempts a final
// sequencing pass and checkpoint, whose error it returns. Calling Close
// again, or on a Log never opened, does nothing.
func (l *Log) Close() error {
	l.run.Lock()
	defer l.run.Unlock()
	if !l.opened || l.closed {
		return nil
	}
	l.closed = true
	l.stop() // cancels a pass in flight too
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	l.mu.Lock()
	_, err := l.maybeCheckpoint(ctx)
	l.mu.Unlock()
	if err != nil {
		l.logger.Error("audit log: final checkpoint failed", "err", err)
		return fmt.Errorf("audit.Log.Close: %w", err)
	}
	l.logger.Info("audit log closed", "size", l.Size())
	return nil
}

// loop is the background goroutine: it sequences every seqInt and
// checkpoints every cpInt until ctx is cancelled. After a failure it waits
// longer before the next attempt, up to maxRetryDelay.
func (l *Log) loop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	seq := time.NewTimer(l.seqInt)
	defer seq.Stop()
	cp := time.NewTicker(l.cpInt)
	defer cp.Stop()
	failures := 0
	pass := func(f func(context.Context) error) {
		l.mu.Lock()
		err := f(ctx)
		l.mu.Unlock()
		switch {
		case ctx.Err() != nil:
			return // closing
		case err != nil:
			failures++
			delay := min(l.seqInt<<min(failures, 16), max(maxRetryDelay, l.seqInt))
			l.logger.Error("audit log: sequencing failed; retrying", "err", err, "failures", failures, "retry_in", delay)
			seq.Reset(delay)
		case failures > 0:
			l.logger.Info("audit log: sequencing recovered", "failures", failures, "size", l.Size())
			failures = 0
			seq.Reset(l.seqInt)
		default:
			seq.Reset(l.seqInt)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-seq.C:
			pass(func(ctx context.Context) error {
				_, err := l.sequence(ctx)
				return err
			})
		case <-cp.C:
			if failures > 0 {
				continue // the sequencing timer retries first
			}
			pass(func(ctx context.Context) error {
				_, err := l.maybeCheckpoint(ctx)
				return err
			})
		}
	}
}

// Sync sequences every entry committed before it was called and returns
// the log's size. It is safe to call from many goroutines; calls are
// serialised with each other and with the background loop. It returns the
// store's error, or one wrapping ErrInvalidEntry for an entry that cannot
// be encoded.
func (l *Log) Sync(ctx context.Context) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.sequence(ctx)
	if err != nil {
		return n, fmt.Errorf("audit.Log.Sync: %w", err)
	}
	return n, nil
}

// Checkpoint sequences every entry committed before it was called, then
// signs and stores a checkpoint of the resulting size unless one is stored
// at that size already, and returns the stored checkpoint. If another
// process stored a larger checkpoint meanwhile, that one is returned.
func (l *Log) Checkpoint(ctx context.Context) (*StoredCheckpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, err := l.checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit.Log.Checkpoint: %w", err)
	}
	return c, nil
}

// LatestCheckpoint returns the stored checkpoint of the largest size, or
// nil if none is stored. It does not sequence.
func (l *Log) LatestCheckpoint(ctx context.Context) (*StoredCheckpoint, error) {
	c, err := l.store.LatestCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit.Log.LatestCheckpoint: %w", err)
	}
	return c, nil
}

// InclusionProof returns the RFC 6962 inclusion proof of entry index in the
// tree of the given size, as proof.VerifyInclusion of
// github.com/transparency-dev/merkle takes it. It returns an error wrapping
// ErrOutOfRange unless index < size <= the stored size.
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("audit.Log.InclusionProof: %w: index %d, size %d", ErrOutOfRange, index, size)
	}
	if err := l.checkSize(ctx, size); err != nil {
		return nil, fmt.Errorf("audit.Log.InclusionProof: %w", err)
	}
	return InclusionProof(ctx, l.store, index, size)
}

// ConsistencyProof returns the RFC 6962 consistency proof that the tree of
// size from is a prefix of the tree of size to, as proof.VerifyConsistency
// of github.com/transparency-dev/merkle takes it. It returns an error
// wrapping ErrOutOfRange unless 0 < from <= to <= the stored size.
//
// For from == to the proof is empty (not nil), and VerifyConsistency
// accepts it when the two roots are equal. From 0 is refused, as in RFC
// 6962 and Trillian: every tree extends the empty tree, VerifyConsistency
// accepts any size over 0 with no proof at all, so there is nothing to
// prove.
func (l *Log) ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	if from == 0 || from > to {
		return nil, fmt.Errorf("audit.Log.ConsistencyProof: %w: from %d, to %d", ErrOutOfRange, from, to)
	}
	if err := l.checkSize(ctx, to); err != nil {
		return nil, fmt.Errorf("audit.Log.ConsistencyProof: %w", err)
	}
	if from == to {
		return [][]byte{}, nil
	}
	return ConsistencyProof(ctx, l.store, from, to)
}

// checkSize returns an error wrapping ErrOutOfRange if size exceeds the
// stored tree. A size past this Log's own head may have been sequenced by
// another process: the stored head decides.
func (l *Log) checkSize(ctx context.Context, size uint64) error {
	if size <= l.Size() {
		return nil
	}
	b, err := l.store.AuditHead(ctx)
	if err != nil {
		return err
	}
	stored := uint64(0)
	if b != nil {
		t, err := UnmarshalTree(b)
		if err != nil {
			return err
		}
		stored = t.Size()
	}
	if size > stored {
		return fmt.Errorf("%w: size %d, log size %d", ErrOutOfRange, size, stored)
	}
	return nil
}

// Export writes the log as an export (see the package documentation) to w:
// it takes a fresh checkpoint, so that the export covers every entry
// committed before the call and ends with a checkpoint of its size, then
// streams the entries with the stored checkpoints at their places. With
// tenant "" the export is full; otherwise it shows tenant's entries in full
// and the others redacted to their sequence number and leaf hash.
// progress, if not nil, is called after each chunk of entries with the
// number written and the export's size.
//
// Export reads the store in chunks and holds one at a time, whatever the
// size of the log. It writes the entries and leaf hashes as the store holds
// them, without checking them: that is Verify's job. It fails if an entry
// cannot be encoded (naming its sequence number) or on a store or write
// error, having written part of the export.
func (l *Log) Export(ctx context.Context, w io.Writer, tenant string, progress func(done, total uint64)) error {
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("audit.Log.Export: %w", err)
	}
	size := cp.Size
	x, err := NewExportWriter(w, ExportHeader{Origin: l.Origin(), Size: size, Tenant: tenant})
	if err != nil {
		return fmt.Errorf("audit.Log.Export: %w", err)
	}
	last := uint64(0) // size of the last checkpoint written
	wrote := false
	for start := uint64(0); start < size; start += exportChunk {
		end := min(start+exportChunk, size)
		entries, leaves, err := l.store.SequencedEntries(ctx, start, end)
		if err != nil {
			return fmt.Errorf("audit.Log.Export: %w", err)
		}
		if len(leaves) != len(entries) {
			return fmt.Errorf("audit.Log.Export: store returned %d entries and %d leaf hashes", len(entries), len(leaves))
		}
		// The checkpoints of sizes (start, end]: one of size n goes before
		// the first entry whose number is n or more, so that a checkpoint
		// stays in place even if entries before it are missing.
		cps, err := l.store.Checkpoints(ctx, start+1, end)
		if err != nil {
			return fmt.Errorf("audit.Log.Export: %w", err)
		}
		c := 0
		for i, e := range entries {
			for ; c < len(cps) && cps[c].Size <= e.Seq; c++ {
				if err := x.WriteCheckpoint(cps[c].Note); err != nil {
					return fmt.Errorf("audit.Log.Export: %w", err)
				}
				last, wrote = cps[c].Size, true
			}
			if tenant != "" && e.Tenant != tenant {
				err = x.WriteRedacted(e.Seq, leaves[i])
			} else {
				err = x.WriteEntry(e, leaves[i])
			}
			if err != nil {
				return fmt.Errorf("audit.Log.Export: %w", err)
			}
		}
		// The rest have sizes up to end, at or below every later entry.
		for ; c < len(cps); c++ {
			if err := x.WriteCheckpoint(cps[c].Note); err != nil {
				return fmt.Errorf("audit.Log.Export: %w", err)
			}
			last, wrote = cps[c].Size, true
		}
		if progress != nil {
			progress(end, size)
		}
	}
	if !wrote || last != size {
		// The empty log, or a store that did not list the fresh
		// checkpoint: the export must end with one covering every entry.
		if err := x.WriteCheckpoint(cp.Note); err != nil {
			return fmt.Errorf("audit.Log.Export: %w", err)
		}
	}
	if err := x.Flush(); err != nil {
		return fmt.Errorf("audit.Log.Export: %w", err)
	}
	if progress != nil && size == 0 {
		progress(0, 0)
	}
	return nil
}

// refresh reads the stored head and, if it is not the one l holds, loads
// it: it decodes it and checks its root against the root rebuilt from the
// stored node hashes, which costs a few reads. Callers hold l.mu.
func (l *Log) refresh(ctx context.Context) error {
	b, err := l.store.AuditHead(ctx)
	if err != nil {
		return err
	}
	if l.tree != nil && bytes.Equal(b, l.head) {
		return nil
	}
	t := &Tree{}
	if b != nil {
		if t, err = UnmarshalTree(b); err != nil {
			return fmt.Errorf("stored head: %w", err)
		}
	}
	root, err := RootAt(ctx, l.store, t.Size())
	if err != nil {
		return fmt.Errorf("stored head of size %d: %w", t.Size(), err)
	}
	if !bytes.Equal(root, t.Root()) {
		return fmt.Errorf("stored head of size %d does not match the stored node hashes", t.Size())
	}
	if l.tree != nil && t.Size() < l.tree.Size() {
		l.logger.Error("audit log: stored head went back", "from", l.tree.Size(), "to", t.Size())
	}
	l.tree, l.head = t, bytes.Clone(b)
	l.size.Store(t.Size())
	return nil
}

// loadCheckpoint reads the size of the latest stored checkpoint. Callers
// hold l.mu.
func (l *Log) loadCheckpoint(ctx context.Context) error {
	c, err := l.store.LatestCheckpoint(ctx)
	if err != nil {
		return err
	}
	l.hasCP = c != nil
	if c != nil {
		l.cpSize = c.Size
	}
	return nil
}

// sequence numbers pending entries in batches until a batch comes back
// short, and returns the size. Callers hold l.mu.
func (l *Log) sequence(ctx context.Context) (uint64, error) {
	if err := l.refresh(ctx); err != nil {
		return l.Size(), err
	}
	n, err := l.sequenceBatches(ctx, nil)
	if err != nil {
		return l.Size(), err
	}
	if n == 0 {
		// Another process may have sequenced the entries committed before
		// this pass since the head was read: read it again, so that the
		// size returned covers them.
		if err := l.refresh(ctx); err != nil {
			return l.Size(), err
		}
	}
	return l.Size(), nil
}

// Append adds entries that record no change of their own (reads,
// searches, refusals) to the log at once, without the pending stage: it
// numbers the entries pending in the store, then these after them, and
// stores these as new entries with the tree nodes and the new head, in the
// last Store.SequenceAudit call of the pass. Every entry committed before the call is
// thus numbered before the appended ones. It returns once they are
// durable and in the tree, or fails and stores none of them. Entries are
// appended in the order given; a zero Time is set to the Log's clock (the
// entries are copied, not changed). It returns an error wrapping
// ErrInvalidEntry, before storing them, if one cannot be encoded.
//
// An entry that records a change must still commit with the change, in
// its transaction, and be sequenced from there (see Sequencing): Append
// is for the entries that have no transaction of their own to join.
func (l *Log) Append(ctx context.Context, entries ...*Entry) error {
	if len(entries) == 0 {
		return nil
	}
	fresh := make([]Entry, len(entries))
	now := l.now()
	for i, e := range entries {
		if e == nil {
			return fmt.Errorf("audit.Log.Append: entry %d: %w: nil", i, ErrInvalidEntry)
		}
		fresh[i] = *e
		if fresh[i].Time.IsZero() {
			fresh[i].Time = now
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tree == nil {
		if err := l.refresh(ctx); err != nil {
			return fmt.Errorf("audit.Log.Append: %w", err)
		}
	}
	if _, err := l.sequenceBatches(ctx, fresh); err != nil {
		return fmt.Errorf("audit.Log.Append: %w", err)
	}
	return nil
}

// sequenceBatches numbers and stores the pending entries in batches of
// l.batch, with fresh after the pending ones of the last batch, until a
// batch comes back short; when another process moved the head, it reloads
// it and reads the pending entries again. It returns how many entries it
// stored. Callers hold l.mu.
//
// With fresh, it first offers them alone, without reading what is
// pending: the store refuses a batch of new entries alone while it holds
// pending ones (ErrHeadMoved), and the log then reads and numbers those
// first. Without writes, a read's entry costs one store call.
func (l *Log) sequenceBatches(ctx context.Context, fresh []Entry) (int, error) {
	stored, moved, refused := 0, 0, 0
	optimistic := fresh != nil
	for {
		var pending []Pending
		if !optimistic {
			var err error
			if pending, err = l.store.PendingAudit(ctx, l.batch); err != nil {
				return stored, err
			}
		}
		last := len(pending) < l.batch
		var add []Entry
		if last {
			add = fresh
		}
		if len(pending) == 0 && len(add) == 0 {
			return stored, nil
		}
		size := l.tree.Size()
		seqs, nodes, next, head, err := l.number(pending, add)
		if err != nil {
			return stored, err
		}
		start := time.Now()
		err = l.store.SequenceAudit(ctx, l.head, seqs, nodes, head)
		if errors.Is(err, ErrHeadMoved) {
			// Another process sequenced: number after its entries.
			moved++
			l.logger.Debug("audit log: head moved; reloading", "size", size, "attempt", moved)
			if err := l.refresh(ctx); err != nil {
				return stored, err
			}
			optimistic = false
			if l.tree.Size() <= size && len(pending) == 0 && len(add) > 0 && refused < maxPendingRetries {
				// New entries alone, refused because entries are pending
				// (committed since they were last read): read them.
				refused++
				continue
			}
			if l.tree.Size() <= size {
				// Heads only grow: a head that did not is a store fault,
				// and retrying would spin.
				return stored, fmt.Errorf("store reports the head of size %d moved, but it is of size %d", size, l.tree.Size())
			}
			continue
		}
		if err != nil {
			return stored, err
		}
		l.tree, l.head = next, head
		l.size.Store(next.Size())
		stored += len(seqs)
		l.logger.Debug("audit log: sequenced", "entries", len(seqs), "size", next.Size(), "took", time.Since(start))
		if last {
			return stored, nil
		}
	}
}

// number numbers pending, then fresh (whose Seq it sets), from the size of
// l.tree, and returns what Store.SequenceAudit stores and the tree they
// make. Callers hold l.mu.
func (l *Log) number(pending []Pending, fresh []Entry) (seqs []Sequenced, nodes []Node, next *Tree, head []byte, err error) {
	size := l.tree.Size()
	n := len(pending) + len(fresh)
	seqs = make([]Sequenced, n)
	leaves := make([][]byte, n)
	hashes := make([]byte, n*HashSize) // one allocation for the batch's leaf hashes
	leaf := func(i int, e *Entry) error {
		// The leaf hash, as Entry.LeafHash, in a reused buffer.
		var err error
		if l.enc, err = e.AppendEncode(append(l.enc[:0], leafPrefix)); err != nil {
			return err
		}
		sum := sha256.Sum256(l.enc)
		leaves[i] = hashes[i*HashSize : (i+1)*HashSize : (i+1)*HashSize]
		copy(leaves[i], sum[:])
		return nil
	}
	for i, p := range pending {
		if p.Entry == nil {
			return nil, nil, nil, nil, fmt.Errorf("entry row %d: no entry", p.ID)
		}
		e := *p.Entry
		e.Seq = size + uint64(i)
		if err := leaf(i, &e); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("entry row %d: %w", p.ID, err)
		}
		seqs[i] = Sequenced{ID: p.ID, Seq: e.Seq, LeafHash: leaves[i]}
	}
	for j := range fresh {
		i, e := len(pending)+j, &fresh[j]
		e.Seq = size + uint64(i)
		if err := leaf(i, e); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("new entry %d: %w", j, err)
		}
		seqs[i] = Sequenced{Seq: e.Seq, LeafHash: leaves[i], Entry: e}
	}
	if next, nodes, err = l.tree.Append(leaves...); err != nil {
		return nil, nil, nil, nil, err
	}
	if head, err = next.MarshalBinary(); err != nil {
		return nil, nil, nil, nil, err
	}
	return seqs, nodes, next, head, nil
}

// checkpoint sequences, then stores a checkpoint of the size unless one is
// stored at that size or beyond, and returns the stored one. Callers hold
// l.mu.
func (l *Log) checkpoint(ctx context.Context) (*StoredCheckpoint, error) {
	size, err := l.sequence(ctx)
	if err != nil {
		return nil, err
	}
	return l.cut(ctx, size)
}

// maybeCheckpoint sequences, then cuts a checkpoint if the size grew past
// the latest one known. It returns the new checkpoint, or nil. Callers hold
// l.mu.
func (l *Log) maybeCheckpoint(ctx context.Context) (*StoredCheckpoint, error) {
	size, err := l.sequence(ctx)
	if err != nil {
		return nil, err
	}
	if (l.hasCP && size <= l.cpSize) || (!l.hasCP && size == 0) {
		return nil, nil
	}
	return l.cut(ctx, size)
}

// cut stores a checkpoint of size, the size of l.tree, unless one is stored
// at that size or beyond, and returns the stored one. Callers hold l.mu.
func (l *Log) cut(ctx context.Context, size uint64) (*StoredCheckpoint, error) {
	latest, err := l.store.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if latest != nil && latest.Size >= size {
		l.cpSize, l.hasCP = latest.Size, true
		if latest.Size > size {
			// Another process sequenced and checkpointed past our head:
			// catch up, so that proofs up to its size are served.
			if err := l.refresh(ctx); err != nil {
				return nil, err
			}
		}
		return latest, nil
	}
	note, err := l.signer.Sign(size, l.tree.Root())
	if err != nil {
		return nil, err
	}
	if err := l.store.AddCheckpoint(ctx, &StoredCheckpoint{Size: size, Note: note, CreatedAt: l.now().UTC()}); err != nil {
		return nil, err
	}
	// Return what is stored: another process may have stored this size
	// first, and then ours was not.
	cps, err := l.store.Checkpoints(ctx, size, size)
	if err != nil {
		return nil, err
	}
	if len(cps) != 1 || cps[0].Size != size {
		return nil, fmt.Errorf("checkpoint of size %d not stored", size)
	}
	l.cpSize, l.hasCP = size, true
	l.logger.Debug("audit log: checkpoint", "size", size)
	return cps[0], nil
}
