package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/coffre/coffre/vault/mail"
)

// EnvSMTPURL names the SMTP server of one-time codes (--smtp-url).
const EnvSMTPURL = "COFFRE_SMTP_URL"

// outboxDir is where messages go without SMTP, in the data folder.
const outboxDir = "outbox"

// mailer adapts a mail.Sender to the vault's Mailer.
type mailer struct{ s mail.Sender }

func (m mailer) Send(ctx context.Context, to, subject, text string) error {
	return m.s.Send(ctx, &mail.Message{To: to, Subject: subject, Text: text})
}

// newMailer returns the SMTP sender of rawURL, or, without one, the outbox
// folder of the data folder, so that a newcomer sees the messages.
func (m *Main) newMailer(rawURL, dataDir string) (mailer, string, error) {
	if rawURL == "" {
		dir := filepath.Join(dataDir, outboxDir)
		s, err := mail.NewOutbox(dir)
		if err != nil {
			return mailer{}, "", fmt.Errorf("outbox: %w", err)
		}
		return mailer{s}, "outbox " + dir, nil
	}
	s, err := mail.NewSMTP(rawURL)
	if err != nil {
		// The URL may hold a password: the error says what is wrong, not
		// the URL.
		return mailer{}, "", usagef("serve: --smtp-url: %v", err)
	}
	return mailer{s}, "smtp", nil
}
