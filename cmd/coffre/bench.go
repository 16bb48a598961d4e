package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/coffre/coffre/vault"
	vhttp "github.com/coffre/coffre/vault/http"
	"github.com/coffre/coffre/vault/synth"
)

// Bench operations.
const (
	opCreate = "create"
	opGet    = "get"
	opSearch = "search"
	opErase  = "erase"
)

var benchOps = []string{opCreate, opGet, opSearch, opErase}

// Limits that keep coffre bench bounded whatever its flags.
const (
	maxBenchConcurrency = 1024
	maxBenchDuration    = time.Hour
	maxBenchWarmup      = 10 * time.Minute
	maxBenchPreload     = 100_000
	// benchRequestTimeout bounds one request.
	benchRequestTimeout = 30 * time.Second
	// maxOwned bounds the contacts a worker keeps for erase in mix mode.
	maxOwned = 10_000
)

// runBench implements coffre bench: a load driver for a server on this
// machine.
func (m *Main) runBench(ctx context.Context, args []string) error {
	fl := m.newFlagSet("bench", "bench --url URL --token T [--concurrency 16] [--duration 10s] [--requests N] [--ops create,get,search,erase] [--warmup 2s] [--json]")
	rawURL := fl.String("url", "http://127.0.0.1:8080", "base URL of the server; only this machine (localhost, 127.0.0.0/8, [::1]) is accepted")
	token := fl.String("token", "", "bearer token with the rights the ops need (default $"+EnvToken+")")
	purpose := fl.String("purpose", "casework", "purpose sent in the Coffre-Purpose header")
	conc := fl.Int("concurrency", 16, "concurrent workers, each with one request in flight")
	duration := fl.Duration("duration", 10*time.Second, "measured run time (after the warm-up), at most 1h")
	requests := fl.Int64("requests", 0, "stop after this many measured requests (0: only the duration bounds the run)")
	opsFlag := fl.String("ops", strings.Join(benchOps, ","), "operations each worker runs in turn; with weights (get:8,create:1) they are drawn at random in that mix")
	warmup := fl.Duration("warmup", 2*time.Second, "unmeasured warm-up before the measured run")
	preload := fl.Int("preload", 200, "contacts created before the run for get and search to read when they have no contact of their own")
	seed := fl.Int64("seed", 0, "seed of the synthetic contacts (0: from the clock, so reruns do not collide)")
	asJSON := fl.Bool("json", false, "print the report as JSON")
	procs := fl.Int("procs", 1, "OS threads that run the driver's Go code at once (GOMAXPROCS): few leave more of the machine to the server measured; 0 for one per core")
	if err := fl.parse(args); err != nil {
		return err
	}
	base, err := benchURL(*rawURL)
	if err != nil {
		return err
	}
	if *token == "" {
		*token = m.Getenv(EnvToken)
	}
	switch {
	case *token == "":
		return usagef("bench: --token (or $%s) is required", EnvToken)
	case *conc < 1 || *conc > maxBenchConcurrency:
		return usagef("bench: --concurrency must be between 1 and %d", maxBenchConcurrency)
	case *duration <= 0 || *duration > maxBenchDuration:
		return usagef("bench: --duration must be above 0 and at most %s", maxBenchDuration)
	case *warmup < 0 || *warmup > maxBenchWarmup:
		return usagef("bench: --warmup must be between 0 and %s", maxBenchWarmup)
	case *requests < 0:
		return usagef("bench: --requests must not be negative")
	case *preload < 0 || *preload > maxBenchPreload:
		return usagef("bench: --preload must be between 0 and %d", maxBenchPreload)
	case *procs < 0 || *procs > maxBenchConcurrency:
		return usagef("bench: --procs must be between 0 and %d", maxBenchConcurrency)
	}
	if *procs > 0 {
		// The workers mostly wait on their connections: one thread runs
		// them with fewer wake-ups across cores than one per core.
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(*procs))
	}
	ops, weights, err := parseOps(*opsFlag)
	if err != nil {
		return err
	}
	if *seed == 0 {
		*seed = m.Now().UnixNano()
	}

	b := &bench{
		base:    base,
		purpose: *purpose,
		seed:    *seed,
		ops:     ops,
		weights: weights,
	}
	// One connection per worker, used by fill and then by run.
	b.clients = make([]*benchClient, *conc)
	for i := range b.clients {
		if b.clients[i], err = newBenchClient(base, *token, *purpose); err != nil {
			return err
		}
	}
	if b.scraper, err = newBenchClient(base, *token, *purpose); err != nil {
		return err
	}
	defer func() {
		for _, c := range b.clients {
			c.close()
		}
		b.scraper.close()
	}()
	// Synthetic contacts are numbered from the clock in microseconds: a
	// later run starts past every index an earlier one used, so e-mail
	// addresses never collide.
	b.next.Store(m.Now().UnixMicro())
	if *requests > 0 {
		b.budget.Store(*requests)
		b.limited = true
	}
	needPool := slices.Contains(ops, opGet) || slices.Contains(ops, opSearch)
	if needPool && *preload == 0 {
		*preload = 1
	}
	mode := "in turn"
	if weights != nil {
		mode = "mixed"
	}
	fmt.Fprintf(m.Stderr, "coffre: bench %s: %d workers, ops %s %s, %s warm-up, %s measured", b.base, *conc, strings.Join(ops, ","), mode, *warmup, *duration)
	if *requests > 0 {
		fmt.Fprintf(m.Stderr, " or %d requests", *requests)
	}
	fmt.Fprintln(m.Stderr)
	if err := b.fill(ctx, *preload, *conc); err != nil {
		return err
	}
	rep, err := b.run(ctx, *conc, *warmup, *duration)
	if err != nil {
		return err
	}
	rep.URL, rep.Concurrency, rep.Mode, rep.WarmupS = b.base, *conc, strings.ReplaceAll(mode, "in ", ""), warmup.Seconds()
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.print(m.Stdout)
	}
	if rep.Total.OK == 0 {
		return errors.New("bench: no request succeeded")
	}
	if n := rep.Total.failed(); n > 0 {
		fmt.Fprintf(m.Stderr, "coffre: %d of %d requests failed\n", n, rep.Total.Requests)
	}
	return nil
}

// benchURL checks that raw is an http(s) URL on the loopback interface
// and returns it without a trailing slash.
func benchURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usagef("bench: --url must be an http:// or https:// URL such as http://127.0.0.1:8080")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", usagef("bench: --url takes a base URL without user, query or fragment")
	}
	if !loopbackHost(u.Hostname()) {
		return "", usagef("bench: refusing to load %s: --url must name this machine (localhost, 127.0.0.0/8 or [::1])", u.Hostname())
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// parseOps parses --ops: op names in turn order, or op:weight pairs for a
// random mix (weights is nil for turn order).
func parseOps(s string) ([]string, []int, error) {
	var ops []string
	var weights []int
	weighted := strings.Contains(s, ":")
	for _, part := range strings.Split(s, ",") {
		name, w, hasW := strings.Cut(strings.TrimSpace(part), ":")
		if !slices.Contains(benchOps, name) {
			return nil, nil, usagef("bench: unknown op %q in --ops (use %s)", name, strings.Join(benchOps, ", "))
		}
		if weighted {
			n, err := strconv.Atoi(w)
			if !hasW || err != nil || n < 1 || n > 1000 {
				return nil, nil, usagef("bench: --ops with weights takes op:N for every op, N from 1 to 1000")
			}
			if slices.Contains(ops, name) {
				return nil, nil, usagef("bench: op %q given twice in a weighted --ops", name)
			}
			weights = append(weights, n)
		}
		ops = append(ops, name)
	}
	return ops, weights, nil
}

// bench is one run of coffre bench.
type bench struct {
	clients []*benchClient // one per worker
	scraper *benchClient   // reads the server's /metrics
	base    string
	purpose string
	seed    int64
	ops     []string
	weights []int // nil: ops in turn

	next    atomic.Int64 // index of the next synthetic contact
	limited bool
	budget  atomic.Int64 // measured requests left when limited

	pool []contactRef // created by fill, read-only during run
}

// contactRef is a contact the bench created.
type contactRef struct {
	id     string
	search []byte // the body of a search for its e-mail address
}

// result is the outcome of one request.
type result struct {
	status int // 0 for a transport error
	ok     bool
	d      time.Duration
}

// fill creates n contacts for get and search, with conc workers. It stops
// at the first failure, which usually means a wrong token or URL.
func (b *bench) fill(ctx context.Context, n, conc int) error {
	if n == 0 {
		return nil
	}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	var left atomic.Int64
	left.Store(int64(n))
	for w := 0; w < min(conc, n); w++ {
		wg.Add(1)
		c := b.clients[w]
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				ref, res, detail := b.create(ctx, c)
				mu.Lock()
				if !res.ok && firstErr == nil {
					firstErr = b.failure("creating the contacts to read", res, detail)
				}
				if res.ok {
					b.pool = append(b.pool, ref)
				}
				stop := firstErr != nil
				mu.Unlock()
				if stop || ctx.Err() != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

// failure describes a failed request without echoing anything personal:
// the status and the problem document's title.
func (b *bench) failure(what string, res result, detail string) error {
	if res.status == 0 {
		return fmt.Errorf("bench: %s: cannot reach %s: %s", what, b.base, detail)
	}
	msg := fmt.Sprintf("bench: %s: the server answered %d %s", what, res.status, http.StatusText(res.status))
	if detail != "" {
		msg += " (" + detail + ")"
	}
	switch res.status {
	case http.StatusUnauthorized:
		msg += ": check --token"
	case http.StatusForbidden:
		msg += ": the token's role or purposes may not do this; use an agent token (coffre token create --role agent)"
	case http.StatusNotFound:
		msg += ": check --url"
	}
	return errors.New(msg)
}

// run drives the server with conc workers: warm-up, then the measured
// phase until the duration or the request budget is spent.
func (b *bench) run(ctx context.Context, conc int, warmup, duration time.Duration) (*benchReport, error) {
	start := time.Now()
	measureFrom := start.Add(warmup)
	deadline := measureFrom.Add(duration)
	workers := make([]*benchWorker, conc)
	var wg sync.WaitGroup
	for i := range workers {
		w := &benchWorker{b: b, c: b.clients[i], rng: rand.New(rand.NewPCG(uint64(b.seed), uint64(i))), stats: map[string]*opStats{}}
		for _, op := range b.ops {
			w.stats[op] = &opStats{errors: map[string]int64{}}
		}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, measureFrom, deadline)
		}()
	}
	// CPU time of the server and of the driver over the measured phase,
	// sampled when it starts and once every request has ended.
	var cpu0 cpuSample
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		select {
		case <-time.After(time.Until(measureFrom)):
			cpu0 = b.sampleCPU(ctx)
		case <-ctx.Done():
		}
	}()
	wg.Wait()
	end := time.Now()
	<-sampled
	cpu1 := b.sampleCPU(ctx)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// Requests in flight at the deadline finish and count, so the
	// measured time runs until the last one ended.
	elapsed := end.Sub(measureFrom)
	if elapsed <= 0 {
		elapsed = time.Nanosecond
	}
	rep := &benchReport{DurationS: elapsed.Seconds()}
	total := &opStats{errors: map[string]int64{}}
	for _, op := range b.ops {
		s := &opStats{errors: map[string]int64{}}
		for _, w := range workers {
			s.merge(w.stats[op])
		}
		total.merge(s)
		rep.Ops = append(rep.Ops, s.report(op, elapsed))
	}
	rep.Total = total.report("total", elapsed)
	if n := float64(rep.Total.Requests); n > 0 {
		if cpu0.serverOK && cpu1.serverOK && cpu1.server >= cpu0.server {
			us := (cpu1.server - cpu0.server) / n * 1e6
			rep.ServerCPUUs = &us
		}
		if cpu0.driverOK && cpu1.driverOK {
			us := (cpu1.driver - cpu0.driver) / n * 1e6
			rep.DriverCPUUs = &us
		}
	}
	return rep, nil
}

// cpuSample is the CPU time, in seconds, the server (from its /metrics)
// and this process had used at one moment; ok false where unknown.
type cpuSample struct {
	server, driver     float64
	serverOK, driverOK bool
}

// sampleCPU reads the server's process_cpu_seconds_total and this
// process's CPU time. A server without the metric, or one that does not
// answer, leaves serverOK false: the report then says nothing of it.
func (b *bench) sampleCPU(ctx context.Context) cpuSample {
	var s cpuSample
	s.driver, s.driverOK = vhttp.ProcessCPUSeconds()
	var body []byte
	if res, _ := b.scraper.request(ctx, http.MethodGet, "/metrics", "", nil, http.StatusOK, &body); res.ok {
		s.server, s.serverOK = parseCPUMetric(body)
	}
	return s
}

// parseCPUMetric returns the value of process_cpu_seconds_total in a
// Prometheus text exposition.
func parseCPUMetric(text []byte) (float64, bool) {
	for line := range strings.Lines(string(text)) {
		v, found := strings.CutPrefix(strings.TrimSpace(line), "process_cpu_seconds_total ")
		if !found {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil && f >= 0
	}
	return 0, false
}

// benchWorker is one worker: one request in flight at a time.
type benchWorker struct {
	b     *bench
	c     *benchClient
	rng   *rand.Rand
	stats map[string]*opStats
	turn  int
	cur   *contactRef  // contact of this turn's create (turn mode)
	owned []contactRef // contacts created to erase (mix mode)
}

func (w *benchWorker) loop(ctx context.Context, measureFrom, deadline time.Time) {
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(deadline) {
			return
		}
		measured := !now.Before(measureFrom)
		if measured && w.b.limited && w.b.budget.Add(-1) < 0 {
			return
		}
		op := w.pick()
		res := w.do(ctx, op)
		if ctx.Err() != nil {
			return
		}
		if measured {
			w.stats[op].add(res)
		}
	}
}

func (w *benchWorker) pick() string {
	if w.b.weights == nil {
		op := w.b.ops[w.turn%len(w.b.ops)]
		w.turn++
		return op
	}
	total := 0
	for _, n := range w.b.weights {
		total += n
	}
	r := w.rng.IntN(total)
	for i, n := range w.b.weights {
		if r < n {
			return w.b.ops[i]
		}
		r -= n
	}
	return w.b.ops[0]
}

// target returns the contact a get or search reads: this turn's own
// contact, or one from the pool.
func (w *benchWorker) target() *contactRef {
	if w.cur != nil {
		return w.cur
	}
	return &w.b.pool[w.rng.IntN(len(w.b.pool))]
}

func (w *benchWorker) do(ctx context.Context, op string) result {
	b, c := w.b, w.c
	switch op {
	case opCreate:
		ref, res, _ := b.create(ctx, c)
		if res.ok {
			if b.weights == nil {
				w.cur = &ref
			} else if len(w.owned) < maxOwned {
				w.owned = append(w.owned, ref)
			}
		}
		return res
	case opGet:
		res, _ := c.request(ctx, http.MethodGet, "/v1/contacts/", w.target().id, nil, http.StatusOK, nil)
		return res
	case opSearch:
		res, _ := c.request(ctx, http.MethodPost, "/v1/contacts/search", "", w.target().search, http.StatusOK, nil)
		return res
	case opErase:
		var ref contactRef
		switch {
		case w.cur != nil:
			ref, w.cur = *w.cur, nil
		case len(w.owned) > 0:
			ref, w.owned = w.owned[len(w.owned)-1], w.owned[:len(w.owned)-1]
		default:
			// Erase needs a contact of its own; its creation is not
			// measured.
			r, res, _ := b.create(ctx, c)
			if !res.ok {
				return res
			}
			ref = r
		}
		res, _ := c.request(ctx, http.MethodDelete, "/v1/contacts/", ref.id, nil, http.StatusNoContent, nil)
		return res
	}
	panic("bench: unknown op " + op)
}

// benchSchema is the schema the bench's contacts follow.
var benchSchema = vault.DefaultSchema()

// create posts the next synthetic contact on c, with the fields the
// default schema lets the bench's purpose write.
func (b *bench) create(ctx context.Context, c *benchClient) (contactRef, result, string) {
	in := synth.Contact(b.seed, int(b.next.Add(1)))
	for k := range in.Fields {
		if f := benchSchema.Field(k); f != nil && !slices.Contains(f.Purposes, b.purpose) {
			delete(in.Fields, k)
		}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return contactRef{}, result{}, err.Error()
	}
	var id createdID
	res, detail := c.request(ctx, http.MethodPost, "/v1/contacts", "", body, http.StatusCreated, &id)
	if !res.ok {
		return contactRef{}, res, detail
	}
	search, _ := json.Marshal(vault.SearchQuery{Email: in.Fields["email"].(string)})
	return contactRef{id: string(id), search: search}, res, detail
}

// opStats are the measured results of one op.
type opStats struct {
	ok     int64
	errors map[string]int64 // by status code, "transport" for no answer
	h      hist
}

func (s *opStats) add(r result) {
	switch {
	case r.ok:
		s.ok++
		s.h.record(r.d)
	case r.status == 0:
		s.errors["transport"]++
	default:
		s.errors[strconv.Itoa(r.status)]++
	}
}

func (s *opStats) merge(o *opStats) {
	s.ok += o.ok
	for k, n := range o.errors {
		s.errors[k] += n
	}
	s.h.merge(&o.h)
}

func (s *opStats) report(op string, elapsed time.Duration) opReport {
	r := opReport{Op: op, OK: s.ok, Requests: s.ok, Errors: s.errors,
		OpsPerS: float64(s.ok) / elapsed.Seconds(),
		P50Ms:   ms(s.h.quantile(0.50)), P90Ms: ms(s.h.quantile(0.90)),
		P99Ms: ms(s.h.quantile(0.99)), MaxMs: ms(s.h.max)}
	for _, n := range s.errors {
		r.Requests += n
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// benchReport is what coffre bench prints.
type benchReport struct {
	URL         string     `json:"url"`
	Concurrency int        `json:"concurrency"`
	Mode        string     `json:"mode"`
	WarmupS     float64    `json:"warmup_s"`
	DurationS   float64    `json:"duration_s"`
	Ops         []opReport `json:"ops"`
	Total       opReport   `json:"total"`
	// ServerCPUUs and DriverCPUUs are the CPU time the server (from its
	// /metrics) and the driver used over the measured phase, per
	// measured request, in microseconds; absent where unknown. They tell
	// where a request's time goes, and with the database's share their
	// sum bounds what the machine's cores can serve.
	ServerCPUUs *float64 `json:"server_cpu_us_per_request,omitempty"`
	DriverCPUUs *float64 `json:"driver_cpu_us_per_request,omitempty"`
}

// opReport is the summary of one op. Requests counts every measured
// request, OK the successful ones; rates and latencies are over the
// successful ones.
type opReport struct {
	Op       string           `json:"op"`
	Requests int64            `json:"requests"`
	OK       int64            `json:"ok"`
	OpsPerS  float64          `json:"ops_per_s"`
	P50Ms    float64          `json:"p50_ms"`
	P90Ms    float64          `json:"p90_ms"`
	P99Ms    float64          `json:"p99_ms"`
	MaxMs    float64          `json:"max_ms"`
	Errors   map[string]int64 `json:"errors"`
}

func (r opReport) failed() int64 { return r.Requests - r.OK }

func (r *benchReport) print(w io.Writer) {
	fmt.Fprintf(w, "%d workers, %s, %.1fs measured after %.1fs warm-up, against %s\n\n", r.Concurrency, r.Mode, r.DurationS, r.WarmupS, r.URL)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\trequests\tops/s\tp50\tp90\tp99\tmax\terrors\t")
	for _, o := range append(r.Ops, r.Total) {
		lat := fmt.Sprintf("%.2fms\t%.2fms\t%.2fms\t%.2fms", o.P50Ms, o.P90Ms, o.P99Ms, o.MaxMs)
		if o.Op == "total" {
			lat = "\t\t\t"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t\n", o.Op, o.Requests, o.OpsPerS, lat, errorList(o.Errors))
	}
	tw.Flush()
	var cpu []string
	if r.ServerCPUUs != nil {
		cpu = append(cpu, fmt.Sprintf("server %.0f µs", *r.ServerCPUUs))
	}
	if r.DriverCPUUs != nil {
		cpu = append(cpu, fmt.Sprintf("driver (this process) %.0f µs", *r.DriverCPUUs))
	}
	if len(cpu) > 0 {
		fmt.Fprintf(w, "\nCPU per request: %s\n", strings.Join(cpu, ", "))
	}
}

// errorList formats error counts as "409×2 500×1", or "0".
func errorList(m map[string]int64) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
