package postgres

import (
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/coffre/coffre/vault"
)

// conflictMessages names, per unique constraint, what a unique_violation
// means to a caller.
var conflictMessages = map[string]string{
	"tenants_pkey":           "A tenant with this id already exists.",
	"contacts_pkey":          "A contact with this id already exists.",
	"contact_lookups_unique": "A contact with the same unique value already exists.",
	"api_tokens_pkey":        "A token with this id already exists.",
	"segments_pkey":          "A segment with this name already exists.",
	"data_requests_pkey":     "A request with this id already exists.",
	"data_requests_open":     "The subject has an open request of this type.",
}

// mapError turns a driver error into an error whose vault code callers can
// act on: a unique violation is ECONFLICT, a missing row ENOTFOUND, a value
// the database refuses EINVALID, a database that cannot be reached or is
// shutting down EUNAVAILABLE. The vault.Error's message is safe to show; the
// driver error stays in the chain for the operator log. Errors that already
// carry a vault code, context errors and anything else are returned as they
// are (anything else is EINTERNAL to callers).
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var ve *vault.Error
	if errors.As(err, &ve) {
		return err
	}
	code, msg := classify(err)
	if code == "" {
		return err
	}
	return fmt.Errorf("%w: %w", vault.Errorf(code, "%s", msg), err)
}

// classify returns the vault code and message for a driver error, or "" if
// none applies.
func classify(err error) (code, msg string) {
	if errors.Is(err, pgx.ErrNoRows) {
		return vault.ENOTFOUND, "Not found."
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return classifyPg(pe)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne):
		return vault.EUNAVAILABLE, "The database is unavailable."
	case errors.Is(err, puddle.ErrClosedPool):
		return vault.EUNAVAILABLE, "The database is closed."
	}
	return "", ""
}

// validFieldName reports whether s has the form of a schema field name, so
// that only a field name, never anything else the database returns,
// reaches an error message.
func validFieldName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// classifyPg maps a server error by its SQLSTATE
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
func classifyPg(pe *pgconn.PgError) (code, msg string) {
	switch pe.Code {
	case "23505": // unique_violation
		if m, ok := conflictMessages[pe.ConstraintName]; ok {
			return vault.ECONFLICT, m
		}
		return vault.ECONFLICT, "Already exists."
	case "40001", "40P01", "55P03": // serialization_failure, deadlock_detected, lock_not_available
		return vault.ECONFLICT, "Concurrent change; retry."
	case "23502", "23503", "23514", "23P01": // not_null, foreign_key, check, exclusion
		return vault.EINVALID, "Invalid or missing value."
	case "54000", "54001": // program_limit_exceeded, statement_too_complex
		return vault.ETOOLARGE, "Too large."
	case "57014": // query_canceled (statement timeout or cancelled request)
		return vault.EUNAVAILABLE, "The database did not answer in time."
	}
	if len(pe.Code) != 5 {
		return "", ""
	}
	switch pe.Code[:2] {
	case "22": // data_exception: bad encoding, value out of range, …
		return vault.EINVALID, "Invalid value."
	case "08", "53", "57", "58": // connection, resources, operator intervention, system
		return vault.EUNAVAILABLE, "The database is unavailable."
	}
	return "", ""
}
