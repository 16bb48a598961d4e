package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/synth"
)

// maxDemoContacts bounds coffre demo: ten million contacts is already a
// large city.
const maxDemoContacts = 10_000_000

// runDemo implements coffre demo: it fills a tenant with synthetic
// residents through the service's bulk load.
func (m *Main) runDemo(ctx context.Context, args []string) error {
	fl := m.newFlagSet("demo", "demo --contacts N [--tenant demo] [--seed S] [--data-dir DIR] [--database-url URL]")
	c := storeFlags(fl, true)
	n := fl.Int("contacts", 0, "number of synthetic contacts to add (required)")
	tenant := fl.String("tenant", "demo", "tenant to fill (created if it does not exist)")
	seed := fl.Int64("seed", 1, "seed of the synthetic data: the same seed gives the same people")
	start := fl.Int("start", 0, "index of the first contact: rerun with --start N to add N more without e-mail conflicts")
	workers := fl.Int("workers", 0, "goroutines sealing contacts (0: one per CPU)")
	batch := fl.Int("batch", 0, "contacts per database transaction (0: the service's default)")
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile of the load to this file (for go tool pprof)")
	if err := fl.parse(args); err != nil {
		return err
	}
	if err := m.resolve(c); err != nil {
		return err
	}
	switch {
	case *n <= 0 || *n > maxDemoContacts:
		return usagef("demo: --contacts must be between 1 and %d", maxDemoContacts)
	case !vault.ValidTenantID(*tenant):
		return usagef("demo: invalid --tenant: use 1 to 63 lower-case letters, digits, - or _")
	case *start < 0 || *start > 1<<50:
		return usagef("demo: --start must be between 0 and 2^50")
	case *workers < 0 || *batch < 0:
		return usagef("demo: --workers and --batch must not be negative")
	}
	workerCount := *workers
	if workerCount == 0 {
		workerCount = runtime.GOMAXPROCS(0)
	}
	batchSize := *batch
	if batchSize == 0 {
		batchSize = defaultDemoBatch
	}
	th := newThrottle((2*workerCount + 2) * batchSize)
	store, svc, err := m.openVault(ctx, c, th.wrap)
	if err != nil {
		return err
	}
	defer store.Close()
	defer svc.Close()
	stopWake := context.AfterFunc(ctx, th.wake)
	defer stopWake()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	// A bulk load allocates much and keeps little: collecting less often
	// saves a fifth of the CPU, for a few hundred megabytes more.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	p := m.newProgress("demo", "contacts")
	p.total = *n
	gen := func(i int) *vault.ContactInput {
		if !th.admit(ctx, i) {
			return abandoned
		}
		return synth.Contact(*seed, *start+i)
	}
	fmt.Fprintf(m.Stderr, "coffre: adding %d synthetic contacts to tenant %q (%s store)\n", *n, *tenant, c.storeKind())
	loaded, err := svc.LoadContacts(ctx, *tenant, *n, gen, vault.LoadOptions{
		Workers: workerCount, BatchSize: batchSize, Progress: p.update, Action: "contact.demo_load",
	})
	p.done()
	elapsed := m.Now().Sub(p.begin)
	if err != nil {
		if vault.ErrorCode(err) == vault.ECONFLICT {
			return fmt.Errorf("demo: stopped after %d contacts: tenant %q already holds some of these contacts (same e-mail address); use another --tenant, --seed or --start %d", loaded, *tenant, *start+*n)
		}
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("demo: interrupted after %d contacts (stored in whole batches)", loaded)
		}
		return fmt.Errorf("demo: stopped after %d contacts: %w", loaded, err)
	}
	fmt.Fprintf(m.Stdout, "loaded %d contacts into tenant %s in %s (%s contacts/s)\n",
		loaded, *tenant, elapsed.Round(10*time.Millisecond), commas(rate(loaded, elapsed)))
	busy := th.storeTime()
	fmt.Fprintf(m.Stderr, "coffre: the store was busy writing %s of %s (%d%%); the rest of the time it waited for contacts to be sealed\n",
		busy.Round(10*time.Millisecond), elapsed.Round(10*time.Millisecond), int(100*busy/max(elapsed, 1)))
	fmt.Fprintf(m.Stderr, "coffre: to look at them: coffre token create --tenant %s --role agent --purpose casework\n", *tenant)
	return nil
}

// defaultDemoBatch is the number of contacts per store transaction.
const defaultDemoBatch = 5000

// abandoned is what the generator returns once a load has failed or was
// cancelled: an input that fails validation at once, so that the
// service's workers run through the batches left without sealing them.
var abandoned = &vault.ContactInput{Fields: map[string]any{"load abandoned": true}}

// throttle sits between the service and the store during a demo load. It
// keeps the sealing workers at most ahead contacts in front of the store,
// so that memory stays bounded when the store is the slower side, and it
// measures how long the store spends writing.
type throttle struct {
	ahead int

	mu     sync.Mutex
	cond   *sync.Cond
	stored int
	failed bool
	busy   time.Duration
}

func newThrottle(ahead int) *throttle {
	t := &throttle{ahead: ahead}
	t.cond = sync.NewCond(&t.mu)
	return t
}

func (t *throttle) wrap(s vault.Store) vault.Store { return &throttledStore{Store: s, t: t} }

// admit waits until contact i may be generated. It returns false once the
// load failed or ctx ended.
func (t *throttle) admit(ctx context.Context, i int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for !t.failed && ctx.Err() == nil && i >= t.stored+t.ahead {
		t.cond.Wait()
	}
	return !t.failed && ctx.Err() == nil
}

// wake wakes every waiting admit, to look at its context again.
func (t *throttle) wake() {
	t.mu.Lock()
	t.cond.Broadcast()
	t.mu.Unlock()
}

func (t *throttle) storeTime() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.busy
}

// throttledStore reports each batch's outcome to its throttle.
type throttledStore struct {
	vault.Store
	t *throttle
}

func (s *throttledStore) LoadContacts(ctx context.Context, rs []*vault.Record, e *vault.AuditEntry) error {
	begin := time.Now()
	err := s.Store.LoadContacts(ctx, rs, e)
	s.t.mu.Lock()
	s.t.busy += time.Since(begin)
	if err != nil {
		s.t.failed = true
	} else {
		s.t.stored += len(rs)
	}
	s.t.cond.Broadcast()
	s.t.mu.Unlock()
	return err
}

// progress reports the progress of a long command on a writer at most
// once a second, with the rate and the estimated time left: on one line
// rewritten in place on a terminal, one line per report otherwise.
type progress struct {
	w           io.Writer
	label, unit string
	total       int
	now         func() time.Time
	tty         bool
	begin       time.Time
	last        time.Time
	shown       bool
	// n is the last count reported.
	n int
}

// newProgress returns a progress on m's Stderr that starts now; label
// names the command ("demo") and unit what it counts ("contacts").
func (m *Main) newProgress(label, unit string) *progress {
	p := &progress{w: m.Stderr, label: label, unit: unit, now: m.Now, tty: isTerminal(m.Stderr)}
	p.begin = p.now()
	return p
}

// report is update for callbacks that give the total with the count.
func (p *progress) report(done, total uint64) {
	p.total = int(total)
	p.update(int(done))
}

func (p *progress) update(loaded int) {
	p.n = loaded
	now := p.now()
	if now.Sub(p.last) < time.Second && loaded < p.total {
		return
	}
	p.last = now
	elapsed := now.Sub(p.begin)
	r := rate(loaded, elapsed)
	eta := "-"
	if r > 0 {
		eta = (time.Duration(float64(p.total-loaded)/r) * time.Second).Round(time.Second).String()
	}
	pct := 100
	if p.total > 0 {
		pct = loaded * 100 / p.total
	}
	line := fmt.Sprintf("%s: %d/%d %s (%d%%), %s/s, elapsed %s, ETA %s",
		p.label, loaded, p.total, p.unit, pct, commas(r), elapsed.Round(time.Second), eta)
	if p.tty {
		fmt.Fprintf(p.w, "\r%-78s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.shown = true
}

func (p *progress) done() {
	if p.tty && p.shown {
		fmt.Fprintln(p.w)
	}
}

// rate returns n per second over d.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// commas formats a rate as an integer with thousands separators.
func commas(f float64) string {
	s := fmt.Sprintf("%d", int64(f+0.5))
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
