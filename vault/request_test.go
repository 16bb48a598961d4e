package vault_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

// outbox keeps the messages a service sends.
type outbox struct {
	mu   sync.Mutex
	msgs []string
}

func (o *outbox) Send(ctx context.Context, to, subject, text string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, to+"\n"+text)
	return nil
}

func (o *outbox) code(t *testing.T) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	m := regexp.MustCompile(`: (\d{6})`).FindStringSubmatch(o.msgs[len(o.msgs)-1])
	if m == nil {
		t.Fatal("no code in the last message")
	}
	return m[1]
}

func TestSelfRequestCodes(t *testing.T) {
	env := mustService(t)
	box := &outbox{}
	env.svc.SetMailer(box)
	ctx := context.Background()
	agent := env.principal(t, "t1", vault.RoleAgent)
	if _, err := env.svc.CreateContact(ctx, agent, "casework", &vault.ContactInput{Fields: map[string]any{"given_name": "Inès", "email": "ines@example.org"}}); err != nil {
		t.Fatal(err)
	}
	id, err := env.svc.SelfRequest(ctx, "t1", vault.RequestAccess, "ines@example.org")
	if err != nil {
		t.Fatal(err)
	}
	code := box.code(t)
	// An expired code is refused like a wrong one.
	env.now = env.now.Add(16 * time.Minute)
	if err := env.svc.VerifyRequest(ctx, "t1", id, code); vault.ErrorCode(err) != vault.EUNAUTHORIZED {
		t.Fatalf("expired code: %v", err)
	}
	// The rate limit: three requests an hour for one address (the first
	// counts; an open request of the same type answers without a new
	// code).
	for _, typ := range []string{vault.RequestPortability, vault.RequestObjection} {
		if _, err := env.svc.SelfRequest(ctx, "t1", typ, "ines@example.org"); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	if _, err := env.svc.SelfRequest(ctx, "t1", vault.RequestErasure, "ines@example.org"); vault.ErrorCode(err) != vault.ETOOLARGE {
		t.Fatalf("fourth request in an hour: %v", err)
	}
	env.now = env.now.Add(61 * time.Minute)
	if _, err := env.svc.SelfRequest(ctx, "t1", vault.RequestErasure, "ines@example.org"); err != nil {
		t.Fatalf("an hour later: %v", err)
	}
	// Failed attempts are audited as denied.
	denied := 0
	for _, e := range env.auditEntries(t, "t1") {
		if e.Action == vault.ActionRequestVerify && e.Outcome == vault.OutcomeDenied {
			denied++
		}
	}
	if denied != 1 {
		t.Errorf("%d denied verifications in the audit log, want 1", denied)
	}
	// Without a way to send codes, self-service is unavailable.
	env.svc.SetMailer(nil)
	if _, err := env.svc.SelfRequest(ctx, "t1", vault.RequestAccess, "ines@example.org"); vault.ErrorCode(err) != vault.EUNAVAILABLE {
		t.Fatalf("without a mailer: %v", err)
	}
}

func TestRequestDeadlines(t *testing.T) {
	env := mustService(t)
	ctx := context.Background()
	agent := env.principal(t, "t1", vault.RoleAgent)
	dpo := env.principal(t, "t1", vault.RoleDPO)
	c, err := env.svc.CreateContact(ctx, agent, "casework", &vault.ContactInput{Fields: map[string]any{"given_name": "Jade"}})
	if err != nil {
		t.Fatal(err)
	}
	received := time.Date(2025, 1, 31, 10, 0, 0, 0, time.UTC)
	env.now = received.Add(time.Hour)
	r, err := env.svc.CreateRequest(ctx, dpo, &vault.RequestInput{Type: vault.RequestAccess, SubjectID: c.ID, ReceivedAt: &received})
	if err != nil {
		t.Fatal(err)
	}
	// One calendar month after receipt (Go normalises 31 February).
	if want := received.AddDate(0, 1, 0); !r.DueAt.Equal(want) {
		t.Errorf("due %v, want %v", r.DueAt, want)
	}
	env.now = r.DueAt.Add(-3 * 24 * time.Hour)
	list, err := env.svc.OverdueRequests(ctx, "t1")
	if err != nil || len(list) != 1 || !list[0].DueSoon || list[0].Overdue {
		t.Fatalf("three days before: %+v, %v", list, err)
	}
	env.now = r.DueAt.Add(time.Minute)
	if list, _ := env.svc.OverdueRequests(ctx, "t1"); len(list) != 1 || !list[0].Overdue {
		t.Fatalf("after the deadline: %+v", list)
	}
	if r, err = env.svc.ExtendRequest(ctx, dpo, r.ID, 2, "complexity"); err != nil || !r.DueAt.Equal(received.AddDate(0, 3, 0)) || r.Overdue {
		t.Fatalf("extended: %+v, %v", r, err)
	}
}

// TestConcurrentCodeGuesses: guesses sent at once cannot share an attempt;
// at most five are ever compared.
func TestConcurrentCodeGuesses(t *testing.T) {
	env := mustService(t)
	box := &outbox{}
	env.svc.SetMailer(box)
	ctx := context.Background()
	agent := env.principal(t, "t1", vault.RoleAgent)
	if _, err := env.svc.CreateContact(ctx, agent, "casework", &vault.ContactInput{Fields: map[string]any{"given_name": "Karl", "email": "karl@example.org"}}); err != nil {
		t.Fatal(err)
	}
	id, err := env.svc.SelfRequest(ctx, "t1", vault.RequestAccess, "karl@example.org")
	if err != nil {
		t.Fatal(err)
	}
	right := box.code(t)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			guess := fmt.Sprintf("%06d", i)
			if guess == right {
				guess = "999999"
			}
			env.svc.VerifyRequest(ctx, "t1", id, guess)
		}()
	}
	wg.Wait()
	counted := 0
	for _, e := range env.auditEntries(t, "t1") {
		for _, f := range e.Fields {
			if strings.HasPrefix(f, "attempt:") {
				counted++
			}
		}
	}
	if counted > 5 {
		t.Errorf("%d guesses were compared, want at most 5", counted)
	}
	if err := env.svc.VerifyRequest(ctx, "t1", id, right); err == nil && counted == 5 {
		t.Error("the right code was accepted after five wrong guesses")
	}
}
