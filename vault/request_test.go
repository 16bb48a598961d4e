package vault_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/policy"
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

// denyFlags is a policy that refuses every update of a record's flags
// alone and otherwise answers as inner does.
type denyFlags struct {
	inner vault.Authorizer
	mu    sync.Mutex
	asked [][]string // the SetFlags of each contact.update asked
}

func (a *denyFlags) Authorize(ctx context.Context, req *vault.AuthzRequest) (*vault.Decision, error) {
	if req.Action == vault.ActionContactUpdate {
		a.mu.Lock()
		a.asked = append(a.asked, req.Resource.SetFlags)
		a.mu.Unlock()
		if req.Resource.SetFlags != nil {
			return &vault.Decision{ID: "deny-flags", Revision: "test", Reason: "no restriction under this policy"}, nil
		}
	}
	return a.inner.Authorize(ctx, req)
}

// TestCompleteRequestUnderLegalRetention: an erasure that a legal duty
// to keep the data prevents (GDPR Art. 17(3)) is rejected and the record
// restricted instead, when the policy allows the restriction; when it
// does not, the completion is refused and nothing changes.
func TestCompleteRequestUnderLegalRetention(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T, wrap func(vault.Authorizer) vault.Authorizer) (*testEnv, *vault.Principal, string, *vault.RequestView) {
		t.Helper()
		env := mustServiceWith(t, func(s *vault.Schema) vault.Authorizer {
			eng, err := policy.New(ctx, policy.Options{Schema: s})
			if err != nil {
				t.Fatal(err)
			}
			return wrap(eng)
		})
		agent := env.principal(t, "t1", vault.RoleAgent)
		dpo := env.principal(t, "t1", vault.RoleDPO)
		c, err := env.svc.CreateContact(ctx, agent, "casework", &vault.ContactInput{Fields: map[string]any{"given_name": "Léon", "email": "leon@example.org"}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := env.svc.CreateRequest(ctx, dpo, &vault.RequestInput{Type: vault.RequestErasure, SubjectID: c.ID, IdentityMethod: "identity_document"})
		if err != nil {
			t.Fatal(err)
		}
		return env, dpo, c.ID, r
	}

	t.Run("default policy", func(t *testing.T) {
		env, dpo, id, r := setup(t, func(a vault.Authorizer) vault.Authorizer { return a })
		done, err := env.svc.CompleteRequest(ctx, dpo, r.ID, &vault.CompleteInput{LegalRetention: true})
		if err != nil {
			t.Fatal(err)
		}
		if done.State != vault.StateRejected || done.Reason != "legal_retention" {
			t.Errorf("request = %+v", done.DataRequest)
		}
		rec, err := env.store.Contact(ctx, "t1", id)
		if err != nil {
			t.Fatalf("the record is kept: %v", err)
		}
		if !rec.Flags.Restricted || rec.Flags.Objected {
			t.Errorf("flags = %+v, want restricted only", rec.Flags)
		}
		var updates []*vault.AuditEntry
		for _, e := range env.auditEntries(t, "t1") {
			if e.Action == vault.ActionContactUpdate && e.Subject == id {
				updates = append(updates, e)
			}
		}
		if len(updates) != 1 || updates[0].Outcome != vault.OutcomeOK || updates[0].DecisionID == "" ||
			strings.Join(updates[0].Fields, ",") != vault.FlagRestricted+",request:"+r.ID {
			t.Errorf("the restriction's audit entries = %+v", updates)
		}
		// The record is now only stored: an agent no longer reads it.
		agent := env.principal(t, "t1", vault.RoleAgent)
		if _, err := env.svc.GetContact(ctx, agent, "casework", id); vault.ErrorCode(err) != vault.EFORBIDDEN {
			t.Errorf("an agent reads the restricted record: %v", err)
		}
	})

	t.Run("policy denies the restriction", func(t *testing.T) {
		deny := &denyFlags{}
		env, dpo, id, r := setup(t, func(a vault.Authorizer) vault.Authorizer { deny.inner = a; return deny })
		before, err := env.store.Contact(ctx, "t1", id)
		if err != nil {
			t.Fatal(err)
		}
		_, err = env.svc.CompleteRequest(ctx, dpo, r.ID, &vault.CompleteInput{LegalRetention: true})
		if vault.ErrorCode(err) != vault.EFORBIDDEN {
			t.Fatalf("completion = %v, want %s", err, vault.EFORBIDDEN)
		}
		if len(deny.asked) != 1 || !slices.Equal(deny.asked[0], []string{vault.FlagRestricted}) {
			t.Errorf("the policy was asked updates setting %q, want one setting [restricted]", deny.asked)
		}
		after, err := env.store.Contact(ctx, "t1", id)
		if err != nil {
			t.Fatalf("the record is gone: %v", err)
		}
		if after.Flags != before.Flags || after.Version != before.Version {
			t.Errorf("the record changed: %+v v%d, was %+v v%d", after.Flags, after.Version, before.Flags, before.Version)
		}
		still, err := env.svc.Request(ctx, dpo, r.ID)
		if err != nil || still.State != vault.StateVerified {
			t.Errorf("the request is %+v, %v; want it open, verified", still, err)
		}
		// The denial is on record, with the decision that made it, and no
		// change is.
		denied := 0
		for _, e := range env.auditEntries(t, "t1") {
			switch {
			case e.Action == vault.ActionContactUpdate && e.Subject == id:
				t.Errorf("an update of the record is on record: %+v", e)
			case e.Action == vault.ActionRequestComplete && e.Outcome == vault.OutcomeDenied && e.DecisionID == "deny-flags":
				denied++
			}
		}
		if denied != 1 {
			t.Errorf("%d denied completions on record, want 1", denied)
		}
	})
}
