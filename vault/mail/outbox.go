package mail

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffre/coffre/vault"
)

// outboxFrom is the sender of outbox messages: the .invalid domain (RFC
// 2606) says they were never sent.
var outboxFrom = &mail.Address{Name: "Coffre", Address: "outbox@coffre.invalid"}

// outbox writes each message to a file of a folder.
type outbox struct {
	dir string
	now func() time.Time
}

var _ Sender = (*outbox)(nil)

// NewOutbox returns a Sender that writes each message, instead of sending
// it, to its own RFC 5322 file in dir, readable by any mail client:
// "20250102T150405.000000000Z-k3j5….eml" (the time of writing in UTC, then
// a random suffix, so that a listing is in order). It creates dir with mode
// 0700 if it does not exist; files have mode 0600. The From address is
// outbox@coffre.invalid. Send validates a message as an SMTP Sender does,
// and writes each file whole or not at all (it appears by a rename). The
// Sender is safe for concurrent use.
func NewOutbox(dir string) (Sender, error) {
	if dir == "" {
		return nil, vault.Errorf(vault.EINVALID, "mail.NewOutbox: no folder")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail.NewOutbox: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("mail.NewOutbox: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("mail.NewOutbox: %s is not a folder", dir)
	}
	return &outbox{dir: dir, now: time.Now}, nil
}

// Send implements Sender.
func (o *outbox) Send(ctx context.Context, m *Message) error {
	to, err := m.check()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mail.Outbox.Send: %w", err)
	}
	t := o.now()
	data := format(outboxFrom, to, m, t)
	name := t.UTC().Format("20060102T150405.000000000Z") + "-" + strings.ToLower(rand.Text()[:10]) + ".eml"

	tmp, err := os.CreateTemp(o.dir, ".writing-*.tmp")
	if err != nil {
		return fmt.Errorf("mail.Outbox.Send: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails once renamed
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mail.Outbox.Send: write: %w", err)
	}
	// The random suffix keeps two messages of the same nanosecond apart.
	if err := os.Rename(tmp.Name(), filepath.Join(o.dir, name)); err != nil {
		return fmt.Errorf("mail.Outbox.Send: %w", err)
	}
	return nil
}
