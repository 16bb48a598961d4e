// Command coffre runs and operates a Coffre vault: coffre serve starts the
// HTTP API, coffre init prepares a data folder, coffre token create issues
// API tokens, coffre migrate applies database migrations, coffre demo fills
// a tenant with synthetic residents, coffre bench drives a running server
// with load, and coffre audit exports, checkpoints and verifies the audit
// log. Run coffre help for the list and coffre CMD -h for the flags of one
// command.
//
// # Audit log
//
// coffre init creates, besides the root key, the audit log's Ed25519
// signing key in the data folder: audit.key (mode 0600, never
// overwritten; back it up) and audit.pub, its public verifier key, named by
// the log's origin (--origin, by default "coffre/" and eight random hex
// digits). coffre serve runs the log: it sequences entries and signs
// checkpoints while it serves, and sequences what is left when it stops. A
// data folder made before the log had signed checkpoints gets a key pair
// the first time coffre serve runs, with a notice; if the key is missing
// but the store holds signed checkpoints, serve refuses to start, since a
// new key would not verify the log's history: restore audit.key.
//
//	coffre audit public-key                 the verifier key, on stdout
//	coffre audit checkpoint                 a fresh signed checkpoint, on stdout
//	coffre audit export [--tenant T] [-o F] the full log, or one tenant's view
//	coffre audit verify --log F --key K [--checkpoint OLD] [--previous OLD_EXPORT]
//
// coffre audit verify needs no data folder and no database: it recomputes
// every leaf hash and the tree from the export, checks every checkpoint's
// signature and, given a checkpoint or an export kept from before, that the
// log extends it. It prints a summary and exits 0, or names the first entry
// that does not match (its sequence number, or the range a checkpoint
// covers) and exits 1.
//
// # Policy
//
// Authorisation decisions come from an OPA policy: the default bundle built
// into the binary, or the Rego files of --policy-dir (or
// $COFFRE_POLICY_DIR). serve refuses to start on a policy that does not
// compile, naming the file and line; while it serves, SIGHUP or a change to
// a file of the directory reloads the policy, and a reload that fails keeps
// the previous policy in force. Every reload attempt is an audit entry.
//
//	coffre policy test [DIR] [-v]           run the bundle's Rego tests
//	coffre policy eval [--input F]          answer one question (JSON)
//
// # Segments and data-subject requests
//
// These talk to a running server (--url, default http://127.0.0.1:8080)
// with a token (--token or $COFFRE_TOKEN): an agent's or volunteer's for
// segments, a DPO's for requests.
//
//	coffre segment count|list|export|save|saved|delete --purpose P --filter JSON
//	coffre request create|list|show|start|extend|reject|complete|export
//	coffre request overdue                  on the vault's own store; exit 1 when a request is late
//
// Results go to standard output (a token, a report), everything else to
// standard error. A bad command line exits with status 2, any other failure
// with status 1, always with a one-line message.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/policy"
	"github.com/coffre/coffre/vault"
	vhttp "github.com/coffre/coffre/vault/http"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	m := NewMain()
	err := m.Run(ctx, os.Args[1:])
	if err == nil && m.Serving() {
		serverGC()
		if m.debug == nil {
			// Memory-profile sampling unwinds the stack of an allocation
			// every 512 KiB allocated, about 1 % of a busy server's CPU,
			// for a profile that only --debug-addr serves.
			runtime.MemProfileRate = 0
		}
		<-ctx.Done()
		// A second signal kills the process instead of waiting for the
		// graceful shutdown.
		stop()
		fmt.Fprintln(m.Stderr, "coffre: shutting down")
	}
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	stop()
	os.Exit(m.Exit(err))
}

// serverGCPercent is the garbage collector's target for a serving
// process, unless GOGC says otherwise. A server's live heap is a few tens
// of megabytes (caches, pools, requests in flight), so the default target
// of 100 runs a collection every few thousand requests and spends about a
// tenth of the server's CPU collecting; 400 lets the heap grow to five
// times the live data before collecting, a few hundred megabytes at
// most, and gives that CPU back to the requests.
const serverGCPercent = 400

// serverGC sets the collector's target for serving, unless the operator
// set GOGC.
func serverGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serverGCPercent)
	}
}

// Main is the coffre program: Run executes one command line. It is the
// whole program minus the process (arguments, environment, signals, exit
// status), so end-to-end tests run it in the test process. A Main runs one
// command; it is not safe for concurrent use.
type Main struct {
	// Stdout receives results, Stderr messages and, while serving, the
	// server's JSON logs. Both default to the process's streams.
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment; os.Getenv by default.
	Getenv func(string) string
	// Now is the clock; time.Now by default.
	Now func() time.Time

	store  vault.Store
	svc    *vault.Service
	audit  *audit.Log
	server *vhttp.Server
	debug  *http.Server
	logger *slog.Logger
	logs   *logBuffer // the server's log lines, batched

	policy     *policy.Engine
	reloadSvc  atomic.Pointer[vault.Service]
	stopPolicy func()
}

// NewMain returns a Main wired to the process's streams and environment.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now}
}

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// commands maps each command to its runner and a one-line summary.
var commands = []struct {
	name, summary string
	run           func(m *Main, ctx context.Context, args []string) error
}{
	{"serve", "run the HTTP API (initialises a new data folder first)", (*Main).runServe},
	{"init", "create the data folder, root key, database, tenant and a first admin token", (*Main).runInit},
	{"token", "manage API tokens (token create)", (*Main).runToken},
	{"migrate", "apply database migrations", (*Main).runMigrate},
	{"demo", "fill a tenant with synthetic residents", (*Main).runDemo},
	{"bench", "drive a running server on this machine with HTTP load", (*Main).runBench},
	{"audit", "the audit log: verify, export, checkpoint, public-key", (*Main).runAudit},
	{"policy", "the authorisation policy: test its Rego tests, eval one question", (*Main).runPolicy},
	{"segment", "count, list, export and save segments on a running server", (*Main).runSegment},
	{"request", "data-subject requests: create, list, extend, complete, export, overdue", (*Main).runRequest},
	{"version", "print the version", (*Main).runVersion},
}

// Run executes one command line (without the program name). For serve it
// returns once the server listens; the server runs until Close. Errors
// are meant for Exit.
func (m *Main) Run(ctx context.Context, args []string) error {
	if m.Stdout == nil {
		m.Stdout = io.Discard
	}
	if m.Stderr == nil {
		m.Stderr = io.Discard
	}
	if m.Getenv == nil {
		m.Getenv = os.Getenv
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	if len(args) == 0 {
		m.usage()
		return usagef("no command given (see coffre help)")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		m.usage()
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			if err := c.run(m, ctx, args[1:]); !errors.Is(err, errHelp) {
				return err
			}
			return nil
		}
	}
	return usagef("unknown command %q (see coffre help)", args[0])
}

// Serving reports whether Run started a server that runs until Close.
func (m *Main) Serving() bool { return m.server != nil }

// URL returns the base URL of the running server, or "".
func (m *Main) URL() string {
	if m.server == nil {
		return ""
	}
	return m.server.URL()
}

// Close stops the server gracefully (requests in flight get up to 10
// seconds), then the service's audit writer, then the audit log (which
// sequences what is left), closes the store and writes the last log
// lines. It is safe to call more
// than once.
func (m *Main) Close() error {
	var errs []error
	if m.stopPolicy != nil {
		m.stopPolicy()
		m.stopPolicy = nil
	}
	if m.debug != nil {
		errs = append(errs, m.debug.Close())
		m.debug = nil
	}
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, m.server.Close(ctx))
		cancel()
		m.server = nil
	}
	if m.svc != nil {
		errs = append(errs, m.svc.Close())
		m.svc = nil
	}
	if m.audit != nil {
		if err := m.audit.Close(); err != nil {
			errs = append(errs, fmt.Errorf("audit log: %w", err))
		}
		m.audit = nil
	}
	if m.store != nil {
		errs = append(errs, m.store.Close())
		m.store = nil
	}
	if m.logs != nil {
		errs = append(errs, m.logs.Close())
		m.logs = nil
	}
	return errors.Join(errs...)
}

// Exit prints err as one line on Stderr and returns the exit status: 0
// for nil, 2 for a bad command line, 1 otherwise. An application error
// shows its safe message; other errors show their text, which names the
// operation that failed but never a personal value (the stores and the
// key ring only ever handle sealed data).
func (m *Main) Exit(err error) int {
	if err == nil {
		return 0
	}
	var msg string
	var ue *usageError
	var ve *vault.Error
	switch {
	case errors.As(err, &ue):
		msg = ue.msg
	case errors.Is(err, context.Canceled):
		msg = "interrupted"
	case errors.As(err, &ve) && ve.Code != vault.EINTERNAL:
		// The operation's context, with the application error's safe
		// message in place of its coded form.
		safe := ve.Message
		for _, f := range ve.Fields {
			safe += " " + f.Field + " " + f.Reason + "."
		}
		msg = strings.Replace(err.Error(), ve.Error(), safe, 1)
	default:
		msg = err.Error()
	}
	msg = strings.Join(strings.Fields(msg), " ")
	fmt.Fprintln(m.Stderr, "coffre: "+msg)
	if ue != nil {
		return 2
	}
	return 1
}

func (m *Main) usage() {
	fmt.Fprintln(m.Stderr, "Usage: coffre COMMAND [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(m.Stderr, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(m.Stderr, "\nRun coffre COMMAND -h for the flags of a command.")
}

// flagSet is a command's flags: errors become one-line usage errors and
// -h prints the usage.
type flagSet struct {
	*flag.FlagSet
	m        *Main
	synopsis string
	// storeEnv adds the environment of the store flags to the usage.
	storeEnv bool
	// maxArgs is how many arguments may follow the flags.
	maxArgs int
}

func (m *Main) newFlagSet(name, synopsis string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, m: m, synopsis: synopsis}
}

// parse parses args; -h prints usage and yields errHelp, which Run turns
// into success.
func (fs *flagSet) parse(args []string) error {
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(fs.m.Stderr, "Usage: coffre %s\n\n", fs.synopsis)
		fs.SetOutput(fs.m.Stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		if fs.storeEnv {
			fmt.Fprint(fs.m.Stderr, storeEnvHelp)
		}
		return errHelp
	} else if err != nil {
		return usagef("%s: %v (see coffre %s -h)", fs.Name(), err, fs.Name())
	}
	if fs.NArg() > fs.maxArgs {
		return usagef("%s: unexpected argument %q (see coffre %s -h)", fs.Name(), fs.Arg(fs.maxArgs), fs.Name())
	}
	return nil
}

// storeEnvHelp documents the environment of the commands that open a
// vault.
const storeEnvHelp = `
Environment:
  COFFRE_DATA_DIR      data folder, when --data-dir is not given
  COFFRE_DATABASE_URL  PostgreSQL URL, when --database-url is not given;
                       without either, the store is SQLite in the data folder
  COFFRE_ROOT_KEY      root key (standard base64 of 32 bytes). It takes
                       precedence over the data folder's root.key; when both
                       exist they must hold the same key, or coffre refuses
                       to start
`

// errHelp ends a command after it printed its usage.
var errHelp = errors.New("help requested")

// multiFlag is a repeatable string flag.
type multiFlag []string

func (f *multiFlag) String() string     { return strings.Join(*f, ",") }
func (f *multiFlag) Set(s string) error { *f = append(*f, s); return nil }
