package mail_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/mail"
	"github.com/coffre/coffre/vault/mail/mailtest"
)

const (
	recipient = "jeanne.martin@example.org"
	password  = "s3cret-Pa55"
)

// testMessage has a non-ASCII subject, a long line, a line starting with a
// dot (SMTP dot-stuffing) and a trailing space (quoted-printable).
func testMessage() *mail.Message {
	return &mail.Message{
		To:      "Jeanne Martin <" + recipient + ">",
		Subject: "Votre demande d'accès à vos données — code de vérification",
		Text: "Bonjour,\n\nVotre code : 482915\n.Cette ligne commence par un point.\n" +
			strings.Repeat("Une longue ligne, ", 20) + "fin \n\nLa mairie\n",
	}
}

// checkDelivered checks that data is m, sent by from, with every header.
func checkDelivered(t *testing.T, data []byte, from string, m *mail.Message) {
	t.Helper()
	checkDeliveredAt(t, data, from, m, time.Now())
}

// checkDeliveredAt checks that data is m, sent by from at about date, with
// every header.
func checkDeliveredAt(t *testing.T, data []byte, from string, m *mail.Message, date time.Time) {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadMessage: %v\n%s", err, data)
	}
	h := msg.Header
	if got, err := h.AddressList("From"); err != nil || len(got) != 1 || got[0].Address != from {
		t.Errorf("From = %v (%v), want %s", got, err, from)
	}
	if got, err := h.AddressList("To"); err != nil || len(got) != 1 || got[0].Address != recipient || got[0].Name != "Jeanne Martin" {
		t.Errorf("To = %v (%v), want Jeanne Martin <%s>", got, err, recipient)
	}
	if got, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject")); err != nil || got != m.Subject {
		t.Errorf("Subject = %q (%v), want %q", got, err, m.Subject)
	}
	if d, err := h.Date(); err != nil || d.Sub(date).Abs() > time.Minute {
		t.Errorf("Date = %v (%v), want %v", d, err, date)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, ">") || !strings.Contains(id, "@") {
		t.Errorf("Message-ID = %q, want <id@domain>", id)
	}
	for k, want := range map[string]string{
		"MIME-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
		"Auto-Submitted":            "auto-generated",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// RFC 5322 header lines of at most 998 bytes, the subject folded;
	// RFC 2045 quoted-printable lines of at most 76.
	head, text, _ := bytes.Cut(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\n\n"))
	for _, line := range bytes.Split(head, []byte("\n")) {
		if len(line) > 998 || len(m.Subject) > 100 && len(line) > 100 {
			t.Errorf("header line of %d bytes: %q", len(line), line)
		}
	}
	for _, line := range bytes.Split(text, []byte("\n")) {
		if len(line) > 76 {
			t.Errorf("body line of %d bytes: %q", len(line), line)
		}
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(string(body), "\r\n", "\n"); got != m.Text {
		t.Errorf("body = %q, want %q", got, m.Text)
	}
}

// checkClean fails if err is nil or its text holds any of secrets.
func checkClean(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	for _, s := range append(secrets, recipient, password) {
		if s != "" && strings.Contains(strings.ToLower(err.Error()), strings.ToLower(s)) {
			t.Errorf("error %q holds %q", err, s)
		}
	}
}

func newSMTP(t *testing.T, rawURL string) mail.Sender {
	t.Helper()
	s, err := mail.NewSMTP(rawURL)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return s
}

func TestSMTP(t *testing.T) {
	ctx := context.Background()
	certs, pool := mailtest.TestCert(t)

	t.Run("Insecure", func(t *testing.T) {
		srv := mailtest.Start(t, &mailtest.Server{User: "coffre", Pass: password})
		s := newSMTP(t, "smtp+insecure://coffre:"+password+"@"+srv.Addr+"?from=dpo@mairie.example")
		m := testMessage()
		if err := s.Send(ctx, m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		msgs := srv.Messages()
		if len(msgs) != 1 {
			t.Fatalf("server got %d messages, want 1", len(msgs))
		}
		r := msgs[0]
		if r.From != "dpo@mairie.example" || r.To != recipient || !r.Authed || r.TLS {
			t.Errorf("envelope = %s -> %s authed=%v tls=%v, want dpo@mairie.example -> %s authed, no TLS", r.From, r.To, r.Authed, r.TLS, recipient)
		}
		checkDelivered(t, r.Data, "dpo@mairie.example", m)
	})

	t.Run("STARTTLS", func(t *testing.T) {
		srv := mailtest.Start(t, &mailtest.Server{TLS: certs, User: "coffre", Pass: password})
		s := newSMTP(t, "smtp://coffre:"+password+"@"+srv.Addr+"?from=Mairie%20%3Cdpo@mairie.example%3E")
		mail.SetRootCAs(s, pool)
		m := testMessage()
		if err := s.Send(ctx, m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		msgs := srv.Messages()
		if len(msgs) != 1 || !msgs[0].TLS || !msgs[0].Authed {
			t.Fatalf("server got %+v, want one message over TLS, authenticated", msgs)
		}
		checkDelivered(t, msgs[0].Data, "dpo@mairie.example", m)
	})

	t.Run("ImplicitTLS", func(t *testing.T) {
		srv := mailtest.Start(t, &mailtest.Server{TLS: certs, Implicit: true})
		s := newSMTP(t, "smtps://"+srv.Addr+"?from=dpo@mairie.example")
		mail.SetRootCAs(s, pool)
		m := testMessage()
		if err := s.Send(ctx, m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		msgs := srv.Messages()
		if len(msgs) != 1 || !msgs[0].TLS {
			t.Fatalf("server got %+v, want one message over TLS", msgs)
		}
		checkDelivered(t, msgs[0].Data, "dpo@mairie.example", m)
	})

	t.Run("LoopbackWithoutTLS", func(t *testing.T) {
		// smtp:// to this machine may send a message in clear, not a password.
		srv := mailtest.Start(t, &mailtest.Server{})
		if err := newSMTP(t, "smtp://"+srv.Addr+"?from=dpo@mairie.example").Send(ctx, testMessage()); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if n := len(srv.Messages()); n != 1 {
			t.Fatalf("server got %d messages, want 1", n)
		}
	})

	t.Run("ErrPasswordWithoutTLS", func(t *testing.T) {
		srv := mailtest.Start(t, &mailtest.Server{User: "coffre", Pass: password})
		err := newSMTP(t, "smtp://coffre:"+password+"@"+srv.Addr+"?from=dpo@mairie.example").Send(ctx, testMessage())
		checkClean(t, err)
		if !strings.Contains(err.Error(), "AUTH") || !strings.Contains(err.Error(), "without TLS") {
			t.Errorf("err = %v, want a refusal to authenticate without TLS", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("server got %d messages, want 0", n)
		}
	})

	t.Run("ErrUntrustedCertificate", func(t *testing.T) {
		srv := mailtest.Start(t, &mailtest.Server{TLS: certs})
		err := newSMTP(t, "smtp://"+srv.Addr+"?from=dpo@mairie.example").Send(ctx, testMessage())
		checkClean(t, err)
		if !strings.Contains(err.Error(), "STARTTLS") {
			t.Errorf("err = %v, want a STARTTLS failure", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("server got %d messages, want 0", n)
		}
	})

	t.Run("ErrRecipientRefused", func(t *testing.T) {
		srv := mailtest.Start(t, &mailtest.Server{RejectRcpt: true})
		err := newSMTP(t, "smtp+insecure://"+srv.Addr+"?from=dpo@mairie.example").Send(ctx, testMessage())
		checkClean(t, err, "Jeanne", "User unknown")
		var re *mail.ReplyError
		if !errors.As(err, &re) || re.Command != "RCPT" || re.Code != 550 || re.Temporary() {
			t.Errorf("err = %v, want a permanent *ReplyError for RCPT with code 550", err)
		}
	})

	t.Run("ErrWrongPassword", func(t *testing.T) {
		srv := mailtest.Start(t, &mailtest.Server{User: "coffre", Pass: "another"})
		err := newSMTP(t, "smtp+insecure://coffre:"+password+"@"+srv.Addr+"?from=dpo@mairie.example").Send(ctx, testMessage())
		checkClean(t, err)
		var re *mail.ReplyError
		if !errors.As(err, &re) || re.Command != "AUTH" || re.Code != 535 {
			t.Errorf("err = %v, want a *ReplyError for AUTH with code 535", err)
		}
	})

	t.Run("ErrUnreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		err = newSMTP(t, "smtp+insecure://coffre:"+password+"@"+addr+"?from=dpo@mairie.example").Send(ctx, testMessage())
		checkClean(t, err, "Votre code", "482915")
		if !strings.HasPrefix(err.Error(), "mail.SMTP.Send: connect: ") || vault.ErrorCode(err) != vault.EINTERNAL {
			t.Errorf("err = %v, want an internal connect error", err)
		}
	})

	t.Run("ErrTimeout", func(t *testing.T) {
		srv := mailtest.Start(t, &mailtest.Server{Silent: true})
		ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := newSMTP(t, "smtp+insecure://"+srv.Addr+"?from=dpo@mairie.example").Send(ctx, testMessage())
		checkClean(t, err)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Send returned after %v, want about 200ms", d)
		}
	})

	t.Run("ErrCanceled", func(t *testing.T) {
		srv := mailtest.Start(t, &mailtest.Server{})
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		err := newSMTP(t, "smtp+insecure://"+srv.Addr+"?from=dpo@mairie.example").Send(ctx, testMessage())
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if n := srv.Conns(); n != 0 {
			t.Errorf("server got %d connections, want 0", n)
		}
	})
}

func TestNewSMTP(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		for _, u := range []string{
			"smtp://relay.example.org?from=dpo@mairie.example",
			"smtp://user:" + password + "@relay.example.org:2525/?from=dpo@mairie.example",
			"smtps://user:p%40ss%2Fword@relay.example.org?from=Mairie%20%3Cdpo@mairie.example%3E",
			"smtp+insecure://localhost?from=dpo@mairie.example",
			"smtp+insecure://127.0.0.2:1025?from=dpo@mairie.example",
			"smtp+insecure://[::1]:1025?from=dpo@mairie.example",
		} {
			if _, err := mail.NewSMTP(u); err != nil {
				t.Errorf("NewSMTP(%q): %v", u, err)
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, tt := range []struct{ url, want string }{
			{"", "scheme"},
			{"relay.example.org:587", "scheme"},
			{"smtp://relay example.org?from=dpo@mairie.example", "parse"},
			{"http://relay.example.org?from=dpo@mairie.example", "scheme"},
			{"smtp:relay.example.org?from=dpo@mairie.example", "no host"},
			{"smtp://?from=dpo@mairie.example", "no host"},
			{"smtp://:587?from=dpo@mairie.example", "no host"},
			{"smtp://relay.example.org:0?from=dpo@mairie.example", "port"},
			{"smtp://relay.example.org:99999?from=dpo@mairie.example", "port"},
			{"smtp://relay.example.org/x?from=dpo@mairie.example", "path"},
			{"smtp://relay.example.org", "from"},
			{"smtp://relay.example.org?from=", "sender address is empty"},
			{"smtp://relay.example.org?from=not-an-address", "sender address is not a valid"},
			{"smtp://relay.example.org?from=dpo@mairie.example%0D%0ABcc:%20x@y.example", "line break"},
			{"smtp://relay.example.org?from=a@b.example&from=c@d.example", "2 times"},
			{"smtp://relay.example.org?from=dpo@mairie.example&helo=x", "unknown parameter"},
			{"smtp://relay.example.org?from=dpo@mairie.example&x=%zz", "query"},
			{"smtp://user@relay.example.org?from=dpo@mairie.example", "user and a password"},
			{"smtp://:" + password + "@relay.example.org?from=dpo@mairie.example", "user and a password"},
			{"smtp://user:" + password + "%zz@relay.example.org?from=dpo@mairie.example", "parse"},
			{"smtp+insecure://user:" + password + "@relay.example.org?from=dpo@mairie.example", "this machine"},
			{"smtp+insecure://localhost.example.org?from=dpo@mairie.example", "this machine"},
		} {
			s, err := mail.NewSMTP(tt.url)
			if s != nil || vault.ErrorCode(err) != vault.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewSMTP(%q) = %v, %v; want EINVALID naming %q", tt.url, s, err, tt.want)
				continue
			}
			checkClean(t, err)
		}
	})
}

// badMessages are messages every Sender refuses with EINVALID.
var badMessages = []struct {
	name string
	m    *mail.Message
	want string
}{
	{"Nil", nil, "no message"},
	{"NoRecipient", &mail.Message{Subject: "s"}, "recipient address is empty"},
	{"NotAnAddress", &mail.Message{To: "jeanne.martin at example.org"}, "not a valid address"},
	{"TwoAddresses", &mail.Message{To: recipient + ", other@example.org"}, "not a valid address"},
	{"NonASCII", &mail.Message{To: "jéanne@example.org"}, "not ASCII"},
	{"ToInjection", &mail.Message{To: recipient + "\r\nBcc: other@example.org"}, "line break"},
	{"ToLF", &mail.Message{To: recipient + "\nBcc: other@example.org"}, "line break"},
	{"SubjectInjection", &mail.Message{To: recipient, Subject: "Hello\r\nBcc: other@example.org"}, "subject holds a line break"},
	{"SubjectLF", &mail.Message{To: recipient, Subject: "Hello\nX: y"}, "subject holds a line break"},
	{"SubjectCR", &mail.Message{To: recipient, Subject: "Hello\rX: y"}, "subject holds a line break"},
	{"SubjectControl", &mail.Message{To: recipient, Subject: "Hello\x00"}, "control character"},
	{"SubjectLong", &mail.Message{To: recipient, Subject: strings.Repeat("é", 251)}, "longer than 250"},
	{"TextNotUTF8", &mail.Message{To: recipient, Subject: "s", Text: "\xff\xfe"}, "not UTF-8"},
}

func TestSendInvalid(t *testing.T) {
	srv := mailtest.Start(t, &mailtest.Server{})
	senders := map[string]mail.Sender{
		"SMTP":   newSMTP(t, "smtp+insecure://"+srv.Addr+"?from=dpo@mairie.example"),
		"Outbox": newOutbox(t, t.TempDir()),
	}
	for name, s := range senders {
		for _, tt := range badMessages {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				err := s.Send(context.Background(), tt.m)
				checkClean(t, err, "other@example.org")
				if vault.ErrorCode(err) != vault.EINVALID || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Send = %v, want EINVALID naming %q", err, tt.want)
				}
			})
		}
	}
	if n := srv.Conns(); n != 0 {
		t.Errorf("server got %d connections, want none for invalid messages", n)
	}
}
