package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/coffre/coffre/vault"
	vhttp "github.com/coffre/coffre/vault/http"
)

// runServe implements coffre serve. It returns once the server listens;
// the server runs until Close.
func (m *Main) runServe(ctx context.Context, args []string) error {
	fl := m.newFlagSet("serve", "serve [--addr 127.0.0.1:8080] [--data-dir DIR] [--database-url URL] [--schema FILE] [--policy-dir DIR] [--smtp-url URL] [--origin NAME]")
	addr := fl.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free port)")
	c := storeFlags(fl, true)
	policyFlag(fl, c)
	smtpURL := fl.String("smtp-url", "", "SMTP server for the one-time codes of self-service requests, smtp://user:pass@host:587?from=dpo@example.org (default $"+EnvSMTPURL+"; without one, messages go to the outbox folder of the data folder)")
	tenant := fl.String("tenant", defaultTenant, "tenant of the first admin token, when serve initialises a new data folder")
	level := fl.String("log-level", "info", "log level: debug, info, warn or error")
	maxBody := fl.Int64("max-body-bytes", 0, "largest request body accepted, in bytes (0: the server's default)")
	debugAddr := fl.String("debug-addr", "", "serve Go's profiler on this loopback address (off by default)")
	origin := fl.String("origin", "", "name of the audit log, when serve initialises a new data folder (default coffre/ and 8 random hex digits)")
	if err := fl.parse(args); err != nil {
		return err
	}
	if err := m.resolve(c); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return usagef("serve: invalid --log-level %q: use debug, info, warn or error", *level)
	}
	if *maxBody < 0 {
		return usagef("serve: --max-body-bytes must not be negative")
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		return usagef("serve: invalid --addr %q: use host:port", *addr)
	}
	if !vault.ValidTenantID(*tenant) {
		return usagef("serve: invalid --tenant: use 1 to 63 lower-case letters, digits, - or _")
	}
	originGiven := *origin != ""
	if !originGiven {
		*origin = defaultOrigin()
	} else if err := checkOrigin("serve", *origin); err != nil {
		return err
	}

	m.logs = newLogBuffer(m.Stderr)
	logger := slog.New(slog.NewJSONHandler(m.logs, &slog.HandlerOptions{Level: lvl}))
	m.logger = logger
	// The policy is compiled before anything is created: a broken one
	// stops start-up with its file and line.
	schema, err := c.schema()
	if err != nil {
		return err
	}
	if _, err := m.policyEngine(ctx, c, schema); err != nil {
		return err
	}

	var store vault.Store
	var svc *vault.Service
	if m.needsInit(c) {
		fmt.Fprintf(m.Stderr, "coffre: data folder %s does not exist: initialising a new vault first.\n", c.dataDir)
		var token string
		if store, svc, token, err = m.initialise(ctx, c, *tenant, *origin); err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, token)
		m.initNotice(c, *tenant, *origin)
	} else if store, svc, err = m.openVault(ctx, c, nil); err != nil {
		return err
	}
	m.store, m.svc = store, svc
	m.watchPolicy(svc, c.policyDir)
	if *smtpURL == "" {
		*smtpURL = m.Getenv(EnvSMTPURL)
	}
	ml, mailWhere, err := m.newMailer(*smtpURL, c.dataDir)
	if err != nil {
		return err
	}
	svc.SetMailer(ml)

	// Entries are sequenced and checkpoints signed by the log while the
	// server runs; a vault made before the log was signed gets its key now.
	l, err := m.newAuditLog(ctx, c, store, *origin, logger)
	if err != nil {
		return err
	}
	if originGiven && l.Origin() != *origin {
		return usagef("serve: --origin %q: the audit log of this vault is %q, named when its key was made; the name cannot change", *origin, l.Origin())
	}
	if err := l.Open(ctx); err != nil {
		return fmt.Errorf("serve: cannot open the audit log: %w", err)
	}
	m.audit = l
	svc.SetAuditLog(l)

	srv := vhttp.NewServer(svc, vhttp.Options{Logger: logger, MaxBodyBytes: *maxBody})
	if err := srv.Open(*addr); err != nil {
		return fmt.Errorf("serve: cannot listen on %s: %w", *addr, err)
	}
	m.server = srv
	if *debugAddr != "" {
		dbg, _, err := startDebug(*debugAddr)
		if err != nil {
			return err
		}
		m.debug = dbg
	}
	if !loopbackHost(hostOf(srv.Addr())) {
		logger.Warn("listening on a non-loopback address without TLS: put a TLS-terminating proxy in front", "addr", srv.Addr().String())
	}
	logger.Info("coffre serving", "url", srv.URL(), "store", c.storeKind(), "audit_log", l.Origin(),
		"policy", m.policy.PolicyInfo().Source, "policy_revision", m.policy.Revision(), "mail", mailWhere, "version", version())
	return nil
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// loopbackHost reports whether host names this machine's loopback
// interface: localhost, 127.0.0.0/8 or ::1.
func loopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
