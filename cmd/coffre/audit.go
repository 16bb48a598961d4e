package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
)

// Files of the audit log's signing key in the data folder: the private
// key (mode 0600) signs checkpoints, the public verifier key (0644) is
// what auditors get.
const (
	auditKeyFile = "audit.key"
	auditPubFile = "audit.pub"
)

func (c *storeConfig) auditKeyPath() string { return filepath.Join(c.dataDir, auditKeyFile) }
func (c *storeConfig) auditPubPath() string { return filepath.Join(c.dataDir, auditPubFile) }

// Intervals of the audit log a server runs: entries get their sequence
// number within a fraction of a second (GET /v1/audit/entries lists them
// then), and a checkpoint is signed every few seconds while the log grows.
const (
	auditSequenceInterval   = 200 * time.Millisecond
	auditCheckpointInterval = 5 * time.Second
)

// defaultOrigin returns a fresh origin for a log: "coffre/" and eight
// random hex digits, so that two instances never share one.
func defaultOrigin() string {
	var b [4]byte
	rand.Read(b[:])
	return "coffre/" + hex.EncodeToString(b[:])
}

// checkOrigin reports a usage error for an origin GenerateKey refuses.
func checkOrigin(cmd, origin string) error {
	if _, _, err := audit.GenerateKey(origin); err != nil {
		return usagef("%s: invalid --origin: use a name without spaces or '+', such as coffre.example.org/audit", cmd)
	}
	return nil
}

// createAuditKey makes the audit signing key pair named origin in the data
// folder. It never overwrites a key, and leaves no half pair behind.
func (m *Main) createAuditKey(c *storeConfig, origin string) error {
	if exists(c.auditKeyPath()) || exists(c.auditPubPath()) {
		return fmt.Errorf("data folder %s already holds an audit key (%s or %s), which coffre never overwrites", c.dataDir, auditKeyFile, auditPubFile)
	}
	skey, vkey, err := audit.GenerateKey(origin)
	if err != nil {
		return fmt.Errorf("audit key: %w", err)
	}
	if err := audit.WriteKeyFiles(c.auditKeyPath(), c.auditPubPath(), skey, vkey); err != nil {
		os.Remove(c.auditKeyPath())
		os.Remove(c.auditPubPath())
		return fmt.Errorf("cannot create the audit key: %w", err)
	}
	return nil
}

// readSigner reads the data folder's audit signing key.
func (m *Main) readSigner(c *storeConfig) (*audit.Signer, error) {
	fi, err := os.Stat(c.auditKeyPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("cannot read the audit key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s can be read by other users: run chmod 600 on it", c.auditKeyPath())
	}
	s, err := audit.ReadSignerFile(c.auditKeyPath())
	if err != nil {
		return nil, fmt.Errorf("cannot read the audit key %s: %w", c.auditKeyPath(), err)
	}
	return s, nil
}

// newAuditLog returns the audit log over store with the data folder's
// signing key, not opened: serve opens it to run its background loop, the
// audit commands sequence and checkpoint as they need.
//
// A vault made before the audit log had signed checkpoints has no key:
// given a createOrigin, a key pair of that name is made for it (with a
// notice), as long as the store holds no checkpoint. A log that has
// checkpoints needs the key that signed them, so a missing key then is an
// error, and so is a key (or an audit.pub) that does not verify the latest
// checkpoint: a new key would not verify the log's history.
func (m *Main) newAuditLog(ctx context.Context, c *storeConfig, store vault.Store, createOrigin string, logger *slog.Logger) (*audit.Log, error) {
	latest, err := store.LatestCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	signer, err := m.readSigner(c)
	if errors.Is(err, fs.ErrNotExist) {
		switch {
		case latest != nil:
			return nil, fmt.Errorf("the audit key %s is missing, but the audit log holds signed checkpoints: restore the key from a backup (a new key would not verify the log's history)", c.auditKeyPath())
		case createOrigin == "":
			return nil, fmt.Errorf("the audit key %s does not exist: run coffre serve once to create it", c.auditKeyPath())
		}
		if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("cannot create the data folder: %w", err)
		}
		if err := m.createAuditKey(c, createOrigin); err != nil {
			return nil, err
		}
		fmt.Fprintf(m.Stderr, "coffre: this vault had no audit signing key: created one for the log %q in %s (mode 0600: back it up) and its public key in %s.\n",
			createOrigin, c.auditKeyPath(), c.auditPubPath())
		if signer, err = m.readSigner(c); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if err := checkAuditKey(c, signer, latest); err != nil {
		return nil, err
	}
	l, err := audit.NewLog(store, audit.LogOptions{
		Signer:             signer,
		SequenceInterval:   auditSequenceInterval,
		CheckpointInterval: auditCheckpointInterval,
		Logger:             logger,
		Now:                m.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return l, nil
}

// checkAuditKey checks that the signing key and audit.pub belong to the
// log: same origin, and audit.pub verifies the latest stored checkpoint.
// A replaced key would sign checkpoints that no auditor's key verifies.
func checkAuditKey(c *storeConfig, signer *audit.Signer, latest *audit.StoredCheckpoint) error {
	b, err := os.ReadFile(c.auditPubPath())
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is missing: it is the public half of %s, which auditors verify the log with; restore it from a backup", c.auditPubPath(), c.auditKeyPath())
	} else if err != nil {
		return fmt.Errorf("cannot read the audit public key: %w", err)
	}
	v, err := audit.NewVerifier(string(b))
	if err != nil {
		return fmt.Errorf("%s does not hold a verifier key", c.auditPubPath())
	}
	if v.Origin() != signer.Origin() {
		return fmt.Errorf("%s and %s name different logs (%q, %q): restore the pair from a backup", c.auditKeyPath(), c.auditPubPath(), signer.Origin(), v.Origin())
	}
	if latest == nil {
		return nil
	}
	if _, err := v.Open(latest.Note); err != nil {
		return fmt.Errorf("the audit log's latest checkpoint (size %d) was not signed with the key of %s: restore the log's key from a backup", latest.Size, c.auditPubPath())
	}
	return nil
}

// runAudit implements coffre audit and its subcommands.
func (m *Main) runAudit(ctx context.Context, args []string) error {
	subs := []struct {
		name, summary string
		run           func(m *Main, ctx context.Context, args []string) error
	}{
		{"verify", "verify an export offline against the log's public key", (*Main).runAuditVerify},
		{"export", "write the audit log (or one tenant's view of it) as an export", (*Main).runAuditExport},
		{"checkpoint", "print a fresh signed checkpoint of the log, for the DPO to keep", (*Main).runAuditCheckpoint},
		{"public-key", "print the log's public verifier key", (*Main).runAuditPublicKey},
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(m.Stderr, "Usage: coffre audit SUBCOMMAND [flags]\n\nSubcommands:")
		for _, s := range subs {
			fmt.Fprintf(m.Stderr, "  %-11s %s\n", s.name, s.summary)
		}
		fmt.Fprintln(m.Stderr, "\nRun coffre audit SUBCOMMAND -h for its flags.")
		if len(args) == 0 {
			return usagef("audit: missing subcommand: use coffre audit verify, export, checkpoint or public-key")
		}
		return nil
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(m, ctx, args[1:])
		}
	}
	return usagef("audit: unknown subcommand %q: use verify, export, checkpoint or public-key", args[0])
}

// runAuditPublicKey implements coffre audit public-key: the verifier key,
// alone on standard output, for coffre audit verify --key.
func (m *Main) runAuditPublicKey(ctx context.Context, args []string) error {
	fl := m.newFlagSet("audit public-key", "audit public-key [--data-dir DIR]")
	c := &storeConfig{}
	fl.StringVar(&c.dataDir, "data-dir", "", "data folder holding audit.pub (default $"+EnvDataDir+" or ./"+defaultDataDir+")")
	if err := fl.parse(args); err != nil {
		return err
	}
	if err := m.resolve(c); err != nil {
		return err
	}
	b, err := os.ReadFile(c.auditPubPath())
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("audit public-key: %s does not exist: run coffre init (or coffre serve) first", c.auditPubPath())
	} else if err != nil {
		return fmt.Errorf("audit public-key: %w", err)
	}
	vkey := strings.TrimSpace(string(b))
	if _, err := audit.NewVerifier(vkey); err != nil {
		return fmt.Errorf("audit public-key: %s does not hold a verifier key", c.auditPubPath())
	}
	fmt.Fprintln(m.Stdout, vkey)
	return nil
}

// openAuditStore opens the store and its audit log for the audit commands
// that read the log. They need no root key: the log holds no personal data
// in the clear, and they decrypt nothing.
func (m *Main) openAuditStore(ctx context.Context, c *storeConfig) (vault.Store, *audit.Log, error) {
	store, err := m.openStore(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	l, err := m.newAuditLog(ctx, c, store, "", nil)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, l, nil
}

// runAuditCheckpoint implements coffre audit checkpoint: it sequences what
// is pending and prints a fresh signed checkpoint, the note exactly.
func (m *Main) runAuditCheckpoint(ctx context.Context, args []string) error {
	fl := m.newFlagSet("audit checkpoint", "audit checkpoint [--data-dir DIR] [--database-url URL]")
	c := storeFlags(fl, false)
	if err := fl.parse(args); err != nil {
		return err
	}
	if err := m.resolve(c); err != nil {
		return err
	}
	store, l, err := m.openAuditStore(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("audit checkpoint: %w", err)
	}
	if _, err := m.Stdout.Write(cp.Note); err != nil {
		return fmt.Errorf("audit checkpoint: %w", err)
	}
	fmt.Fprintf(m.Stderr, "coffre: signed checkpoint of the log %q at size %d: keep it, and check later exports with coffre audit verify --checkpoint FILE\n", l.Origin(), cp.Size)
	return nil
}

// runAuditExport implements coffre audit export.
func (m *Main) runAuditExport(ctx context.Context, args []string) error {
	fl := m.newFlagSet("audit export", "audit export [--tenant T] [-o FILE] [--data-dir DIR] [--database-url URL]")
	c := storeFlags(fl, false)
	tenant := fl.String("tenant", "", "export this tenant's view only, other tenants' entries redacted (default: the full log)")
	out := fl.String("o", "", "write the export to this new file (default: standard output)")
	if err := fl.parse(args); err != nil {
		return err
	}
	if err := m.resolve(c); err != nil {
		return err
	}
	if *tenant != "" && !vault.ValidTenantID(*tenant) {
		return usagef("audit export: invalid --tenant: use 1 to 63 lower-case letters, digits, - or _")
	}
	if *out != "" && exists(*out) {
		return fmt.Errorf("audit export: %s exists: coffre never overwrites an export (an old one is evidence); choose another name", *out)
	}
	store, l, err := m.openAuditStore(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()

	w := m.Stdout
	var f *os.File
	if *out != "" {
		// Written beside the target and renamed at the end, so that a
		// failed export leaves no file that looks whole.
		f, err = os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*.partial")
		if err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
		defer func() {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}()
		w = f
	}
	p := m.newProgress("audit export", "entries")
	cw := &countWriter{w: w}
	err = l.Export(ctx, cw, *tenant, p.report)
	p.done()
	if err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	if f != nil {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
		// Link rather than rename, so that a file made meanwhile under the
		// same name is not replaced.
		if err := os.Link(f.Name(), *out); err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
		os.Remove(f.Name())
		f = nil
	}
	what := "the full log"
	if *tenant != "" {
		what = fmt.Sprintf("tenant %q's view of the log", *tenant)
	}
	dest := "standard output"
	if *out != "" {
		dest = *out
	}
	fmt.Fprintf(m.Stderr, "coffre: exported %s %q, %d entries (%d bytes), to %s; check it with coffre audit verify --log FILE --key \"$(coffre audit public-key)\"\n",
		what, l.Origin(), p.n, cw.n, dest)
	return nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// runAuditVerify implements coffre audit verify. It needs no data folder
// and no database: an export, the log's public key and, optionally, what
// the verifier kept from before.
func (m *Main) runAuditVerify(ctx context.Context, args []string) error {
	fl := m.newFlagSet("audit verify", "audit verify --log FILE --key PUBKEY_OR_FILE [--checkpoint OLD_CHECKPOINT] [--previous OLD_EXPORT] [--save-checkpoint FILE]")
	logPath := fl.String("log", "", "the export to verify (from coffre audit export or GET /v1/audit/export; - for standard input) (required)")
	keyArg := fl.String("key", "", "the log's public key, or a file holding it (from coffre audit public-key) (required)")
	oldCP := fl.String("checkpoint", "", "a signed checkpoint kept from before (coffre audit checkpoint): the log must extend it")
	prevPath := fl.String("previous", "", "an earlier export of the same log: the log must extend it entry by entry")
	saveCP := fl.String("save-checkpoint", "", "write the export's last checkpoint to this new file, to pass as --checkpoint next time")
	if err := fl.parse(args); err != nil {
		return err
	}
	switch {
	case *logPath == "":
		return usagef("audit verify: --log is required")
	case *keyArg == "":
		return usagef("audit verify: --key is required (coffre audit public-key prints it)")
	}
	vkey, err := readVerifierKey(*keyArg)
	if err != nil {
		return err
	}
	if *saveCP != "" && exists(*saveCP) {
		return fmt.Errorf("audit verify: %s exists: choose another name for --save-checkpoint", *saveCP)
	}
	var opts audit.VerifyOptions
	if *oldCP != "" {
		if opts.OldCheckpoint, err = os.ReadFile(*oldCP); err != nil {
			return fmt.Errorf("audit verify: --checkpoint: %w", err)
		}
	}
	var in io.Reader = os.Stdin
	if *logPath != "-" {
		f, err := os.Open(*logPath)
		if err != nil {
			return fmt.Errorf("audit verify: --log: %w", err)
		}
		defer f.Close()
		in = f
	}
	if *prevPath != "" {
		f, err := os.Open(*prevPath)
		if err != nil {
			return fmt.Errorf("audit verify: --previous: %w", err)
		}
		defer f.Close()
		opts.Previous = f
	}
	p := m.newProgress("audit verify", "entries")
	opts.Progress = p.report
	sum, err := audit.Verify(ctx, in, vkey, opts)
	p.done()
	var ve *audit.VerifyError
	switch {
	case errors.As(err, &ve):
		where := fmt.Sprintf("entry %d", ve.Seq)
		if ve.End > ve.Seq+1 {
			where = fmt.Sprintf("entries %d to %d", ve.Seq, ve.End-1)
		}
		if ve.Previous {
			where += " of the previous export"
		}
		if ve.Line > 0 {
			where += fmt.Sprintf(" (line %d)", ve.Line)
		}
		why := strings.TrimPrefix(ve.Err.Error(), "audit: ")
		if ve.Detail != "" {
			why += ": " + ve.Detail
		}
		return fmt.Errorf("audit verify: FAILED at %s: %s", where, why)
	case errors.Is(err, audit.ErrSignature), errors.Is(err, audit.ErrCheckpoint):
		return fmt.Errorf("audit verify: FAILED: %s", strings.TrimPrefix(err.Error(), "audit.Verify: "))
	case err != nil:
		return fmt.Errorf("audit verify: %w", err)
	}
	tenant := "(full log)"
	if sum.Tenant != "" {
		tenant = sum.Tenant
	}
	fmt.Fprintf(m.Stdout, "origin       %s\n", sum.Origin)
	fmt.Fprintf(m.Stdout, "tenant       %s\n", tenant)
	fmt.Fprintf(m.Stdout, "size         %d entries (%d redacted)\n", sum.Size, sum.Redacted)
	fmt.Fprintf(m.Stdout, "root         %s\n", base64.StdEncoding.EncodeToString(sum.Root))
	fmt.Fprintf(m.Stdout, "checkpoints  %d verified\n", sum.Checkpoints)
	if len(opts.OldCheckpoint) > 0 {
		fmt.Fprintln(m.Stdout, "extends      the old checkpoint")
	}
	if opts.Previous != nil {
		fmt.Fprintln(m.Stdout, "extends      the previous export")
	}
	if *saveCP != "" {
		if err := os.WriteFile(*saveCP, sum.Checkpoint, 0o644); err != nil {
			return fmt.Errorf("audit verify: --save-checkpoint: %w", err)
		}
	}
	fmt.Fprintf(m.Stderr, "coffre: the audit log verifies: %d entries, every leaf, root and signature checked\n", sum.Size)
	return nil
}

// readVerifierKey returns the verifier key arg holds, or the one in the
// file it names.
func readVerifierKey(arg string) (string, error) {
	key := arg
	if fi, err := os.Stat(arg); err == nil && fi.Mode().IsRegular() {
		b, err := os.ReadFile(arg)
		if err != nil {
			return "", fmt.Errorf("audit verify: --key: %w", err)
		}
		key = string(bytes.TrimSpace(b))
	}
	if _, err := audit.NewVerifier(key); err != nil {
		return "", usagef("audit verify: --key is neither a verifier key (origin+hash+key, from coffre audit public-key) nor a file holding one")
	}
	return key, nil
}
