package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coffre/coffre/vault"
)

// Message is a plain-text e-mail to one person.
type Message struct {
	// To is the recipient: an address ("jeanne@example.org"), or a name
	// and an address ("Jeanne Martin <jeanne@example.org>").
	To      string
	Subject string
	// Text is the body, in UTF-8; lines end with "\n" or "\r\n".
	Text string
}

// Sender delivers messages. Send returns once the message is accepted (by
// the relay, or written to disk); EINVALID when the message is not valid
// (a bad address, a line break in a header), with a message that never
// holds the recipient nor the text.
type Sender interface {
	Send(ctx context.Context, m *Message) error
}

// maxSubject is the most characters a subject may hold.
const maxSubject = 250

// parseAddress parses a From or To address; role names it in errors. It
// refuses line breaks (header injection), lists, and addresses that are not
// ASCII, which would need SMTPUTF8.
func parseAddress(role, s string) (*mail.Address, error) {
	if s == "" {
		return nil, vault.Errorf(vault.EINVALID, "mail: the %s address is empty", role)
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, vault.Errorf(vault.EINVALID, "mail: the %s address holds a line break", role)
	}
	// net/mail's errors may quote part of the input: they are dropped.
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, vault.Errorf(vault.EINVALID, "mail: the %s address is not a valid address", role)
	}
	for _, r := range a.Address {
		if r >= utf8.RuneSelf || unicode.IsControl(r) {
			return nil, vault.Errorf(vault.EINVALID, "mail: the %s address is not ASCII", role)
		}
	}
	for _, r := range a.Name {
		if unicode.IsControl(r) {
			return nil, vault.Errorf(vault.EINVALID, "mail: the %s name holds a control character", role)
		}
	}
	return a, nil
}

// checkSubject refuses line breaks and other control characters (header
// injection) and overlong subjects.
func checkSubject(s string) error {
	if strings.ContainsAny(s, "\r\n") {
		return vault.Errorf(vault.EINVALID, "mail: the subject holds a line break")
	}
	if !utf8.ValidString(s) {
		return vault.Errorf(vault.EINVALID, "mail: the subject is not UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' {
			return vault.Errorf(vault.EINVALID, "mail: the subject holds a control character")
		}
	}
	if utf8.RuneCountInString(s) > maxSubject {
		return vault.Errorf(vault.EINVALID, "mail: the subject is longer than %d characters", maxSubject)
	}
	return nil
}

// check validates m and returns its parsed recipient.
func (m *Message) check() (*mail.Address, error) {
	if m == nil {
		return nil, vault.Errorf(vault.EINVALID, "mail: no message")
	}
	to, err := parseAddress("recipient", m.To)
	if err != nil {
		return nil, err
	}
	if err := checkSubject(m.Subject); err != nil {
		return nil, err
	}
	if !utf8.ValidString(m.Text) {
		return nil, vault.Errorf(vault.EINVALID, "mail: the text is not UTF-8")
	}
	return to, nil
}

// format writes m as an RFC 5322 message with CRLF line endings: a
// quoted-printable UTF-8 text part, the subject RFC 2047-encoded when it
// is not ASCII. m must have been checked.
func format(from, to *mail.Address, m *Message, date time.Time) []byte {
	var b bytes.Buffer
	header := func(k, v string) {
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteString("\r\n")
	}
	header("Date", date.Format(time.RFC1123Z))
	header("From", from.String())
	header("To", to.String())
	// Encoded words are split on one line; fold between them.
	header("Subject", strings.ReplaceAll(mime.QEncoding.Encode("utf-8", m.Subject), "?= =?", "?=\r\n =?"))
	header("Message-ID", "<"+strings.ToLower(rand.Text())+"@"+domain(from.Address)+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	// RFC 3834: no auto-replies to a machine's message.
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(m.Text)) // writes to a bytes.Buffer do not fail
	qp.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// domain returns the domain of an address, for Message-ID.
func domain(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		return addr[i+1:]
	}
	return "localhost"
}
