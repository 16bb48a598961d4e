package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/vault"
)

// URL schemes of NewSMTP.
const (
	schemeSMTP     = "smtp"
	schemeSMTPS    = "smtps"
	schemeInsecure = "smtp+insecure"
)

// defaultTimeout bounds a Send whose context has no deadline.
const defaultTimeout = time.Minute

// smtpSender delivers each message over a new connection to a relay.
type smtpSender struct {
	scheme string
	// host is the relay's host name, checked against its certificate.
	host string
	// addr is host:port.
	addr       string
	user, pass string
	from       *mail.Address
	// rootCAs verifies the relay's certificate; nil means the system's.
	rootCAs *x509.CertPool
	timeout time.Duration
	now     func() time.Time
}

var _ Sender = (*smtpSender)(nil)

// NewSMTP returns a Sender that hands each message to the SMTP relay that
// rawURL names, over a new connection:
//
//	smtp://[user:pass@]host[:port]?from=ADDRESS
//	smtps://[user:pass@]host[:port]?from=ADDRESS
//	smtp+insecure://[user:pass@]loopback-host[:port]?from=ADDRESS
//
// smtp (port 587 by default) upgrades the connection with STARTTLS when the
// server offers it; when it does not, the message is sent only to a
// loopback host and the password never. smtps (port 465) speaks TLS from
// the start. smtp+insecure (port 25), for tests and relays on the same
// machine, never uses TLS and accepts only localhost, 127.0.0.0/8 and ::1;
// it alone sends a password without TLS. Certificates are verified against
// the system's roots. The password is sent with AUTH PLAIN; special
// characters in it are percent-encoded. from is the sender's address,
// percent-encoded too when it holds a name ("Mairie <dpo@mairie.fr>").
//
// NewSMTP returns EINVALID, without the URL (it holds the password), when
// the URL is not one of these. The Sender is safe for concurrent use; Send
// returns a *ReplyError in its chain when the server refuses the message.
func NewSMTP(rawURL string) (Sender, error) {
	invalid := func(format string, args ...any) error {
		return vault.Errorf(vault.EINVALID, "mail.NewSMTP: "+format, args...)
	}
	// url.Parse's errors quote the URL, password included: dropped.
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, invalid("the URL does not parse")
	}
	s := &smtpSender{scheme: u.Scheme, timeout: defaultTimeout, now: time.Now}
	port := ""
	switch u.Scheme {
	case schemeSMTP:
		port = "587"
	case schemeSMTPS:
		port = "465"
	case schemeInsecure:
		port = "25"
	default:
		return nil, invalid("unsupported scheme %q, want smtp, smtps or smtp+insecure", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, invalid("the URL names no host, want %s://host", u.Scheme)
	}
	s.host = u.Hostname()
	if s.host == "" {
		return nil, invalid("the URL names no host, want %s://host", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, invalid("the port is not between 1 and 65535")
		}
		port = p
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.Scheme == schemeInsecure && !loopback(s.host) {
		return nil, invalid("smtp+insecure is only for a relay on this machine (localhost, 127.0.0.1, ::1); use smtp or smtps")
	}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" {
		return nil, invalid("the URL has a path or a fragment")
	}
	if u.User != nil {
		var ok bool
		s.user = u.User.Username()
		s.pass, ok = u.User.Password()
		if s.user == "" || !ok {
			return nil, invalid("the URL needs both a user and a password, or neither")
		}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, invalid("the query does not parse")
	}
	for k, v := range q {
		if k != "from" {
			return nil, invalid("unknown parameter %q, want from", k)
		}
		if len(v) != 1 {
			return nil, invalid("from is given %d times", len(v))
		}
	}
	if !q.Has("from") {
		return nil, invalid("the URL needs the sender's address: ?from=ADDRESS")
	}
	if s.from, err = parseAddress("sender", q.Get("from")); err != nil {
		return nil, err
	}
	return s, nil
}

// loopback reports whether host names this machine without a lookup.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ReplyError is a refusal by an SMTP server: the command it refused and
// the reply code. The reply's text is dropped, as servers often echo the
// recipient's address in it.
type ReplyError struct {
	// Command is the SMTP command refused ("RCPT", "DATA", …), or
	// "connect" for the server's greeting.
	Command string
	Code    int
}

// Error implements the error interface.
func (e *ReplyError) Error() string {
	return fmt.Sprintf("mail: the server refused %s with code %d", e.Command, e.Code)
}

// Temporary reports whether the refusal is transient (a 4xx code): the
// same message may be sent again later.
func (e *ReplyError) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// Send implements Sender: it connects, upgrades with STARTTLS when the
// scheme is smtp and the server offers it, authenticates when the URL names
// a user, and sends m. The context bounds the whole exchange; without a
// deadline the exchange is bounded to one minute.
func (s *smtpSender) Send(ctx context.Context, m *Message) (err error) {
	to, err := m.check()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mail.SMTP.Send: %w", err)
	}
	data := format(s.from, to, m, s.now())
	step := "connect"
	defer func() {
		if err != nil {
			err = s.sendError(ctx, step, to, err)
		}
	}()

	conn, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, ok := ctx.Deadline(); !ok {
		if err := conn.SetDeadline(time.Now().Add(s.timeout)); err != nil {
			return err
		}
	}
	// The end of the context ends any read or write in progress, so that
	// the error is the context's.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return err
	}
	defer c.Close()
	step = "EHLO"
	hasTLS, _ := c.Extension("STARTTLS")
	if s.scheme == schemeSMTP && hasTLS {
		step = "STARTTLS"
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return err
		}
	}
	_, secure := c.TLSConnectionState()
	if !secure && s.scheme != schemeInsecure && !loopback(s.host) {
		step = "STARTTLS"
		return errors.New("the server does not offer STARTTLS: refusing to send a message in clear to another machine")
	}
	if s.user != "" {
		step = "AUTH"
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the URL names a user but the server does not offer AUTH")
		}
		if err := c.Auth(&plainAuth{user: s.user, pass: s.pass, host: s.host, insecure: s.scheme == schemeInsecure}); err != nil {
			return err
		}
	}
	step = "MAIL"
	if err := c.Mail(s.from.Address); err != nil {
		return err
	}
	step = "RCPT"
	if err := c.Rcpt(to.Address); err != nil {
		return err
	}
	step = "DATA"
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	// The message is accepted: a failed QUIT does not undo it.
	c.Quit()
	return nil
}

func (s *smtpSender) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{Timeout: s.timeout}
	if s.scheme == schemeSMTPS {
		return (&tls.Dialer{NetDialer: d, Config: s.tlsConfig()}).DialContext(ctx, "tcp", s.addr)
	}
	return d.DialContext(ctx, "tcp", s.addr)
}

func (s *smtpSender) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: s.host, RootCAs: s.rootCAs, MinVersion: tls.VersionTLS12}
}

// sendError names the step that failed. It keeps a server reply's code,
// not its text, and drops any error whose text holds the recipient.
func (s *smtpSender) sendError(ctx context.Context, step string, to *mail.Address, err error) error {
	var te *textproto.Error
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("mail.SMTP.Send: %s: %w", step, ctx.Err())
	case errors.As(err, &te):
		return fmt.Errorf("mail.SMTP.Send: %w", &ReplyError{Command: step, Code: te.Code})
	case strings.Contains(strings.ToLower(err.Error()), strings.ToLower(to.Address)):
		return fmt.Errorf("mail.SMTP.Send: %s failed", step)
	}
	return fmt.Errorf("mail.SMTP.Send: %s: %w", step, err)
}

// plainAuth is AUTH PLAIN (RFC 4616). Unlike smtp.PlainAuth it lets
// smtp+insecure send the password in clear to any loopback address, and
// never lets smtp do so.
type plainAuth struct {
	user, pass, host string
	insecure         bool
}

func (a *plainAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	if si.Name != a.host {
		return "", nil, errors.New("the server name changed")
	}
	if !si.TLS && !a.insecure {
		return "", nil, errors.New("refusing to send the password without TLS (smtp+insecure allows it on this machine)")
	}
	if !slices.Contains(si.Auth, "PLAIN") {
		return "", nil, errors.New("the server does not offer AUTH PLAIN")
	}
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a *plainAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge")
	}
	return nil, nil
}
