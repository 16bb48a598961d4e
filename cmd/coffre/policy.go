package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coffre/coffre/policy"
	"github.com/coffre/coffre/vault"
)

// policyWatchInterval is how often serve looks for changed policy files.
const policyWatchInterval = 2 * time.Second

// policyEngine returns the policy engine of c, compiled on first use. A
// broken bundle is an error naming its file and line.
func (m *Main) policyEngine(ctx context.Context, c *storeConfig, schema *vault.Schema) (*policy.Engine, error) {
	if m.policy != nil {
		return m.policy, nil
	}
	eng, err := policy.New(ctx, policy.Options{Dir: c.policyDir, Schema: schema, Logger: m.logger, OnReload: m.policyReloaded})
	if err != nil {
		return nil, fmt.Errorf("cannot load the policy: %w", err)
	}
	m.policy = eng
	return eng, nil
}

// policyReloaded writes the audit entry of a reload attempt.
func (m *Main) policyReloaded(ev policy.ReloadEvent) {
	svc := m.reloadSvc.Load()
	if svc == nil {
		return
	}
	if err := svc.RecordPolicyReload(context.Background(), ev.Revision, ev.Err); err != nil && m.logger != nil {
		m.logger.Error("cannot record the policy reload in the audit log", "err", err)
	}
}

// watchPolicy reloads the policy on SIGHUP and, for a policy directory,
// when its files change, until Close.
func (m *Main) watchPolicy(svc *vault.Service, dir string) {
	m.reloadSvc.Store(svc)
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = m.policy.Reload(ctx) // logged and audited by the engine's hook
			}
		}
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		if dir != "" {
			m.policy.Watch(ctx, policyWatchInterval)
		}
	}()
	m.stopPolicy = func() {
		signal.Stop(hup)
		cancel()
		<-done
		<-done
		m.reloadSvc.Store(nil)
	}
}

// runPolicy implements coffre policy test and coffre policy eval.
func (m *Main) runPolicy(ctx context.Context, args []string) error {
	usage := "Usage: coffre policy test [DIR] [-v] | coffre policy eval [--input FILE] [--policy-dir DIR] [--schema FILE]"
	if len(args) == 0 {
		fmt.Fprintln(m.Stderr, usage)
		return usagef("policy: name a subcommand: test or eval")
	}
	switch args[0] {
	case "test":
		return m.runPolicyTest(ctx, args[1:])
	case "eval":
		return m.runPolicyEval(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(m.Stderr, usage)
		return nil
	}
	return usagef("policy: unknown subcommand %q: use test or eval", args[0])
}

func (m *Main) runPolicyTest(ctx context.Context, args []string) error {
	fl := m.newFlagSet("policy test", "policy test [DIR] [-v] [--schema FILE]")
	fl.maxArgs = 1
	verbose := fl.Bool("v", false, "list every test, not only failures")
	c := &storeConfig{}
	fl.StringVar(&c.schemaFile, "schema", "", "field schema file the policy sees as data.schema (default: the shipped schema)")
	if err := fl.parse(args); err != nil {
		return err
	}
	dir := ""
	switch fl.NArg() {
	case 0:
	case 1:
		dir = fl.Arg(0)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return usagef("policy test: %s is not a directory", dir)
		}
	}
	schema, err := c.schema()
	if err != nil {
		return err
	}
	sum, err := policy.RunTests(ctx, dir, schema, m.Stdout, *verbose)
	if err != nil {
		return err
	}
	if !sum.OK() {
		if sum.Pass+sum.Fail+sum.Error == 0 {
			return fmt.Errorf("policy test: the bundle has no tests")
		}
		return fmt.Errorf("policy test: %d failed, %d errors", sum.Fail, sum.Error)
	}
	return nil
}

// evalAnswer is what coffre policy eval prints.
type evalAnswer struct {
	Allow      bool              `json:"allow"`
	Reason     string            `json:"reason,omitempty"`
	Conceal    bool              `json:"conceal,omitempty"`
	Fields     map[string]string `json:"fields,omitempty"`
	DecisionID string            `json:"decision_id"`
	Revision   string            `json:"revision"`
}

func (m *Main) runPolicyEval(ctx context.Context, args []string) error {
	fl := m.newFlagSet("policy eval", "policy eval [--input FILE] [--policy-dir DIR] [--schema FILE]")
	input := fl.String("input", "-", "question as JSON (see coffre policy eval --help); - reads standard input")
	c := &storeConfig{}
	fl.StringVar(&c.schemaFile, "schema", "", "field schema file the policy sees as data.schema (default: the shipped schema)")
	policyFlag(fl, c)
	if err := fl.parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return usagef("policy eval: unexpected argument %q", fl.Arg(0))
	}
	if c.policyDir == "" {
		c.policyDir = m.Getenv(EnvPolicyDir)
	}
	var r io.Reader = os.Stdin
	if *input != "-" {
		f, err := os.Open(*input)
		if err != nil {
			return fmt.Errorf("policy eval: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return fmt.Errorf("policy eval: reading the question: %w", err)
	}
	var q policy.Question
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return usagef("policy eval: the question is not valid JSON of the expected shape: %v", err)
	}
	schema, err := c.schema()
	if err != nil {
		return err
	}
	eng, err := m.policyEngine(ctx, c, schema)
	if err != nil {
		return err
	}
	d, err := eng.Eval(ctx, &q)
	if err != nil {
		return fmt.Errorf("policy eval: no decision (which denies): %w", err)
	}
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(evalAnswer{Allow: d.Allow, Reason: d.Reason, Conceal: d.Conceal, Fields: d.Fields, DecisionID: d.ID, Revision: d.Revision})
}
