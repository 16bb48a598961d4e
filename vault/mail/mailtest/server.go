// Package mailtest runs a minimal SMTP server on loopback for tests: the
// messages it accepts can be read back.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a minimal SMTP server for tests: EHLO/HELO, STARTTLS, AUTH
// PLAIN, MAIL, RCPT, DATA, RSET, NOOP and QUIT, on 127.0.0.1.
type Server struct {
	// Addr is the server's host:port.
	Addr string

	TLS      *tls.Config // offers STARTTLS when set and not implicit
	Implicit bool        // speaks TLS from the start
	User     string      // offers and requires AUTH PLAIN when set
	Pass     string
	// rejectRcpt refuses every recipient, echoing the address as real
	// servers do.
	RejectRcpt bool
	// silent accepts connections and never answers.
	Silent bool

	ln net.Listener
	wg sync.WaitGroup

	mu    sync.Mutex
	msgs  []Received
	conns int
}

// Received is a message the server accepted.
type Received struct {
	From, To string
	Data     []byte
	TLS      bool
	Authed   bool
}

// Start starts s on 127.0.0.1 and stops it when the test ends.
func Start(t testing.TB, s *Server) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.Implicit {
		ln = tls.NewListener(ln, s.TLS)
	}
	s.ln, s.Addr = ln, ln.Addr().String()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// Conns returns how many connections the server accepted.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func (s *Server) serve(c net.Conn) {
	defer func() { c.Close() }()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if s.Silent {
		var b [1]byte
		c.Read(b[:]) // until the client gives up
		return
	}
	tp := textproto.NewConn(c)
	reply := func(code int, msg string) { tp.PrintfLine("%d %s", code, msg) }
	secure, authed := s.Implicit, false
	var r Received
	reply(220, "test ESMTP ready")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			lines := []string{"test greets " + arg, "8BITMIME"}
			if s.TLS != nil && !secure {
				lines = append(lines, "STARTTLS")
			}
			if s.User != "" {
				lines = append(lines, "AUTH PLAIN")
			}
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				tp.PrintfLine("250%s%s", sep, l)
			}
		case "HELO":
			reply(250, "test")
		case "STARTTLS":
			if s.TLS == nil || secure {
				reply(502, "no")
				continue
			}
			reply(220, "go ahead")
			tc := tls.Server(c, s.TLS)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, tp, secure = tc, textproto.NewConn(tc), true
			authed, r = false, Received{}
		case "AUTH":
			mech, ir, _ := strings.Cut(arg, " ")
			b, err := base64.StdEncoding.DecodeString(ir)
			switch {
			case s.User == "" || !strings.EqualFold(mech, "PLAIN"):
				reply(504, "unsupported")
			case err != nil || !bytes.Equal(b, []byte("\x00"+s.User+"\x00"+s.Pass)):
				reply(535, "5.7.8 authentication failed")
			default:
				authed = true
				reply(235, "2.7.0 ok")
			}
		case "MAIL":
			if s.User != "" && !authed {
				reply(530, "5.7.0 authentication required")
				continue
			}
			r = Received{From: angle(arg), TLS: secure, Authed: authed}
			reply(250, "ok")
		case "RCPT":
			to := angle(arg)
			if s.RejectRcpt {
				reply(550, "5.1.1 <"+to+">: Recipient address rejected: User unknown")
				continue
			}
			r.To = to
			reply(250, "ok")
		case "DATA":
			if r.From == "" || r.To == "" {
				reply(503, "need MAIL and RCPT")
				continue
			}
			reply(354, "end with .")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			r.Data = data
			s.mu.Lock()
			s.msgs = append(s.msgs, r)
			s.mu.Unlock()
			r = Received{}
			reply(250, "2.0.0 queued")
		case "RSET":
			r = Received{}
			reply(250, "ok")
		case "NOOP":
			reply(250, "ok")
		case "QUIT":
			reply(221, "bye")
			return
		default:
			reply(502, "unknown command")
		}
	}
}

// angle returns the address between < and > of a MAIL or RCPT argument.
func angle(arg string) string {
	_, a, _ := strings.Cut(arg, "<")
	a, _, _ = strings.Cut(a, ">")
	return a
}

// TestCert returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1 and localhost, and a pool that trusts it.
func TestCert(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test relay"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}
