package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/vault"
)

// runRequest implements coffre request: data-subject requests, over a
// running server's API with a dpo token, and coffre request overdue on the
// vault's own store.
func (m *Main) runRequest(ctx context.Context, args []string) error {
	usage := `Usage:
  coffre request create   --type T --subject CONTACT_ID [--identity-method M] [--received-at RFC3339]
  coffre request list     [--state S]
  coffre request show     --id ID
  coffre request start    --id ID
  coffre request extend   --id ID --months 1|2 --reason complexity|number_of_requests
  coffre request reject   --id ID --reason CODE
  coffre request complete --id ID [--body JSON]   (rectification fields, consents to withdraw, legal_retention)
  coffre request export   --id ID -o FILE.zip
  coffre request overdue  [--tenant T]           (on the vault's store: open requests overdue or due within 7 days)
The API subcommands take --url (default http://127.0.0.1:8080) and --token (default $COFFRE_TOKEN), a dpo token.`
	if len(args) == 0 {
		fmt.Fprintln(m.Stderr, usage)
		return usagef("request: name a subcommand (see coffre request help)")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(m.Stderr, usage)
		return nil
	case "overdue":
		return m.requestOverdue(ctx, args)
	case "create", "list", "show", "start", "extend", "reject", "complete", "export":
		return m.requestAPI(ctx, sub, args)
	}
	return usagef("request: unknown subcommand %q (see coffre request help)", sub)
}

func (m *Main) requestAPI(ctx context.Context, sub string, args []string) error {
	name := "request " + sub
	fl := m.newFlagSet(name, sub+" [flags] (see coffre request help)")
	base := fl.String("url", "http://127.0.0.1:8080", "base URL of the running server")
	token := fl.String("token", "", "dpo bearer token (default $"+EnvToken+")")
	id := fl.String("id", "", "request id")
	typ := fl.String("type", "", "request type: "+strings.Join(vault.RequestTypes, ", "))
	subject := fl.String("subject", "", "contact id the request is about")
	method := fl.String("identity-method", "", "how staff checked identity: identity_document, in_person, known_email, signed_letter")
	received := fl.String("received-at", "", "when the request was received (RFC 3339; default now)")
	state := fl.String("state", "", "list only requests in this state")
	months := fl.Int("months", 0, "months to extend by (1 or 2)")
	reason := fl.String("reason", "", "reason code")
	body := fl.String("body", "", "JSON body of complete")
	out := fl.String("o", "", "file to write the export to (must not exist)")
	if err := fl.parse(args); err != nil {
		return err
	}
	c, err := m.newAPIClient(name, *base, *token, "dsr")
	if err != nil {
		return err
	}
	if sub != "create" && sub != "list" && !vault.ValidID(*id) {
		return usagef("%s: --id must be a request id", name)
	}
	path := "/v1/requests/" + url.PathEscape(*id)
	var httpMethod string
	var payload any
	switch sub {
	case "create":
		in := map[string]any{"type": *typ, "subject": *subject}
		if *method != "" {
			in["identity_method"] = *method
		}
		if *received != "" {
			t, err := time.Parse(time.RFC3339, *received)
			if err != nil {
				return usagef("%s: --received-at must be an RFC 3339 time", name)
			}
			in["received_at"] = t
		}
		httpMethod, path, payload = "POST", "/v1/requests", in
	case "list":
		httpMethod, path = "GET", "/v1/requests"
		if *state != "" {
			path += "?state=" + url.QueryEscape(*state)
		}
	case "show":
		httpMethod = "GET"
	case "start":
		httpMethod, path, payload = "POST", path+"/start", map[string]any{}
	case "extend":
		httpMethod, path, payload = "POST", path+"/extend", map[string]any{"months": *months, "reason": *reason}
	case "reject":
		httpMethod, path, payload = "POST", path+"/reject", map[string]any{"reason": *reason}
	case "complete":
		var in any = map[string]any{}
		if *body != "" {
			if err := json.Unmarshal([]byte(*body), &in); err != nil {
				return usagef("%s: --body is not valid JSON", name)
			}
		}
		httpMethod, path, payload = "POST", path+"/complete", in
	case "export":
		if *out == "" {
			return usagef("%s: -o FILE.zip is required", name)
		}
		httpMethod, path = "GET", path+"/export"
	}
	resp, err := c.do(ctx, httpMethod, path, payload)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	if sub != "export" {
		_, err = io.Copy(m.Stdout, resp.Body)
		return err
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%s: %w (an export never overwrites a file)", name, err)
	}
	n, err := io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*out)
		return fmt.Errorf("%s: the transfer broke off: %w", name, err)
	}
	fmt.Fprintf(m.Stderr, "coffre: wrote %s (%d bytes)\n", *out, n)
	return nil
}

// requestOverdue lists, from the vault's store, a tenant's open requests
// overdue or due within a week; it exits 1 when one is overdue, for cron.
func (m *Main) requestOverdue(ctx context.Context, args []string) error {
	fl := m.newFlagSet("request overdue", "request overdue [--tenant T] [--data-dir DIR] [--database-url URL]")
	c := storeFlags(fl, true)
	tenant := fl.String("tenant", defaultTenant, "tenant")
	if err := fl.parse(args); err != nil {
		return err
	}
	if err := m.resolve(c); err != nil {
		return err
	}
	store, svc, err := m.openVault(ctx, c, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	defer svc.Close()
	list, err := svc.OverdueRequests(ctx, *tenant)
	if err != nil {
		return fmt.Errorf("request overdue: %w", err)
	}
	overdue := 0
	for _, r := range list {
		status := "due soon"
		if r.Overdue {
			status = "OVERDUE"
			overdue++
		}
		fmt.Fprintf(m.Stdout, "%s  %-18s %-11s due %s  %s\n", r.ID, r.Type, r.State, r.DueAt.Format("2006-01-02"), status)
	}
	fmt.Fprintf(m.Stderr, "coffre: %d open requests overdue, %d due within 7 days\n", overdue, len(list)-overdue)
	if overdue > 0 {
		return fmt.Errorf("request overdue: %s requests are past their legal deadline", strconv.Itoa(overdue))
	}
	return nil
}
