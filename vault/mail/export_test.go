package mail

import (
	"crypto/x509"
	"time"
)

// SetRootCAs makes s, a Sender of NewSMTP, verify certificates against pool.
func SetRootCAs(s Sender, pool *x509.CertPool) { s.(*smtpSender).rootCAs = pool }

// SetNow replaces the clock of s, a Sender of NewSMTP or NewOutbox.
func SetNow(s Sender, now func() time.Time) {
	switch s := s.(type) {
	case *smtpSender:
		s.now = now
	case *outbox:
		s.now = now
	}
}
