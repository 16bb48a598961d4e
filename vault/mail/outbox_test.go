package mail_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/mail"
)

func newOutbox(t *testing.T, dir string) mail.Sender {
	t.Helper()
	s, err := mail.NewOutbox(dir)
	if err != nil {
		t.Fatalf("NewOutbox: %v", err)
	}
	return s
}

func TestOutbox(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "outbox", "new")
		s := newOutbox(t, dir)
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o700 {
			t.Errorf("folder mode = %o, want 700", perm)
		}
		clock := time.Date(2025, 3, 9, 23, 59, 59, 0, time.FixedZone("CET", 3600))
		mail.SetNow(s, func() time.Time { clock = clock.Add(time.Second); return clock })

		first, second := testMessage(), testMessage()
		second.Subject = strings.Repeat("Réponse à votre demande d'accès, ", 7)
		for _, m := range []*mail.Message{first, second} {
			if err := s.Send(ctx, m); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
		des, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		if len(names) != 2 || !strings.HasPrefix(names[0], "20250309T230000.000000000Z-") ||
			!strings.HasPrefix(names[1], "20250309T230001.000000000Z-") || !slices.IsSorted(names) {
			t.Fatalf("outbox holds %q, want two .eml files named by UTC time, in order", names)
		}
		for i, m := range []*mail.Message{first, second} {
			path := filepath.Join(dir, names[i])
			if filepath.Ext(path) != ".eml" {
				t.Errorf("%s: want a .eml file", names[i])
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s: mode = %o, want 600", names[i], perm)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "\r\n\r\n") || strings.Contains(strings.ReplaceAll(string(b), "\r\n", ""), "\n") {
				t.Errorf("%s: want CRLF line endings only", names[i])
			}
			checkDeliveredAt(t, b, "outbox@coffre.invalid", m, clock.Add(time.Duration(i-1)*time.Second))
		}
	})

	t.Run("ExistingFolder", func(t *testing.T) {
		dir := t.TempDir()
		if err := newOutbox(t, dir).Send(ctx, testMessage()); err != nil {
			t.Fatalf("Send: %v", err)
		}
	})

	t.Run("ErrNotAFolder", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := mail.NewOutbox(path); err == nil {
			t.Errorf("NewOutbox(a file) = %v, nil; want an error", s)
		}
		if s, err := mail.NewOutbox(""); vault.ErrorCode(err) != vault.EINVALID {
			t.Errorf("NewOutbox(\"\") = %v, %v; want EINVALID", s, err)
		}
	})

	t.Run("ErrCanceled", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := newOutbox(t, dir).Send(ctx, testMessage()); !errors.Is(err, context.Canceled) {
			t.Errorf("Send = %v, want context.Canceled", err)
		}
		if des, _ := os.ReadDir(dir); len(des) != 0 {
			t.Errorf("outbox holds %d files, want none", len(des))
		}
	})

	t.Run("ErrWrite", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "outbox")
		s := newOutbox(t, dir)
		// The folder becomes a file: no write can succeed, even as root.
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		err := s.Send(ctx, testMessage())
		checkClean(t, err, "Votre code", "482915")
		if !strings.HasPrefix(err.Error(), "mail.Outbox.Send: ") {
			t.Errorf("err = %v, want one naming mail.Outbox.Send", err)
		}
	})
}
