package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/coffre/coffre/vault"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// mapError turns a driver error into a vault error where callers can act on
// it: a unique or primary key violation is ECONFLICT, a missing tenant is
// ENOTFOUND, a lock wait that ran out is EUNAVAILABLE, and a statement cut
// short by ctx reports ctx's error. The driver's text, which names tables
// and columns but never values, stays in the chain for the operator log.
// Any other error is returned as is and reaches callers as EINTERNAL.
func mapError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var verr *vault.Error
	if errors.As(err, &verr) {
		return err
	}
	var serr *msqlite.Error
	if errors.As(err, &serr) {
		switch code := serr.Code(); {
		case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w (%v)", vault.Errorf(vault.ECONFLICT, "%s", conflictMessage(serr.Error())), err)
		case code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			// The only parents a write can miss are tenants: the
			// foreign keys are those of contacts, api_tokens, segments
			// and data_requests.
			return fmt.Errorf("%w (%v)", vault.Errorf(vault.ENOTFOUND, "Tenant not found."), err)
		case code&0xff == sqlite3.SQLITE_BUSY || code&0xff == sqlite3.SQLITE_LOCKED:
			if ctx.Err() == nil {
				return fmt.Errorf("%w (%v)", vault.Errorf(vault.EUNAVAILABLE, "Database is busy."), err)
			}
		}
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// conflictMessage names what a unique constraint protects, from the
// driver's message ("UNIQUE constraint failed: contacts.tenant_id, …").
func conflictMessage(msg string) string {
	switch {
	case strings.Contains(msg, "data_requests.type"):
		return "The subject has an open request of this type."
	case strings.Contains(msg, "data_requests."):
		return "A request with this id already exists."
	case strings.Contains(msg, "contact_lookups_unique."):
		return "A unique lookup value is taken by another contact."
	case strings.Contains(msg, "contacts."):
		return "Contact already exists."
	case strings.Contains(msg, "tenants."):
		return "Tenant already exists."
	case strings.Contains(msg, "api_tokens."):
		return "Token already exists."
	case strings.Contains(msg, "segments."):
		return "A segment with this name already exists."
	}
	return "Conflict with existing data."
}

// isConstraint reports whether err is a unique or primary key violation.
func isConstraint(err error) bool {
	var serr *msqlite.Error
	if !errors.As(err, &serr) {
		return false
	}
	code := serr.Code()
	return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// fail maps err and prefixes it with op.
func fail(ctx context.Context, op string, err error) error {
	return fmt.Errorf("%s: %w", op, mapError(ctx, err))
}

// invalid returns an EINVALID error prefixed with op.
func invalid(op, format string, args ...any) error {
	return fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, format, args...))
}
