package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coffre/coffre/vault"
)

// runToken implements coffre token create.
func (m *Main) runToken(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(m.Stderr, "Usage: coffre token create --tenant T --role R [--attr k=v]… [--purpose P]… [--ttl 720h]")
			return nil
		}
		return usagef("token: missing subcommand: use coffre token create (see coffre token create -h)")
	}
	fl := m.newFlagSet("token create", "token create --tenant T --role R [--attr k=v]… [--purpose P]… [--ttl 720h] [--data-dir DIR] [--database-url URL]")
	c := storeFlags(fl, true)
	tenant := fl.String("tenant", "", "tenant of the token (created if it does not exist) (required)")
	role := fl.String("role", "", "role: "+strings.Join(vault.Roles, ", ")+" (required)")
	var attrs, purposes multiFlag
	fl.Var(&attrs, "attr", "attribute k=v of the principal, e.g. districts=d3 (repeatable; a volunteer reaches the contacts of their districts, a citizen with subject=ID their own record)")
	fl.Var(&purposes, "purpose", "purpose the token may act for, e.g. casework (repeatable)")
	ttl := fl.Duration("ttl", 720*time.Hour, "lifetime of the token (0: never expires)")
	if err := fl.parse(args[1:]); err != nil {
		return err
	}
	if err := m.resolve(c); err != nil {
		return err
	}
	switch {
	case *tenant == "":
		return usagef("token create: --tenant is required")
	case *role == "":
		return usagef("token create: --role is required (%s)", strings.Join(vault.Roles, ", "))
	case *ttl < 0:
		return usagef("token create: --ttl must not be negative")
	}
	spec := vault.TokenSpec{TenantID: *tenant, Role: *role, Purposes: purposes, TTL: *ttl}
	for _, a := range attrs {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" || v == "" {
			return usagef("token create: --attr takes key=value")
		}
		if spec.Attributes == nil {
			spec.Attributes = map[string][]string{}
		}
		spec.Attributes[k] = append(spec.Attributes[k], v)
	}

	store, svc, err := m.openVault(ctx, c, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	defer svc.Close()
	token, t, err := svc.IssueToken(ctx, spec)
	if vault.ErrorCode(err) == vault.EINVALID {
		return usagef("token create: %s", vault.ErrorMessage(err))
	} else if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	fmt.Fprintln(m.Stdout, token)
	expiry := "never expires"
	if !t.ExpiresAt.IsZero() {
		expiry = "expires " + t.ExpiresAt.Format(time.RFC3339)
	}
	fmt.Fprintf(m.Stderr, "coffre: created %s token %s for tenant %q (%s); it is shown only this once.\n", t.Role, t.ID, t.TenantID, expiry)
	return nil
}
