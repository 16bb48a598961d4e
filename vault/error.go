package vault

import (
	"errors"
	"fmt"
)

// Application error codes. The list is append-only: codes are part of the
// public contract (they appear in problem+json documents).
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ETOOLARGE     = "too_large"
	EUNAVAILABLE  = "unavailable"
)

// Error is an application error that is safe to show to the caller: its
// message never holds personal data. Any error that is not an *Error is
// reported to callers as EINTERNAL with a generic message, and its details go
// to the operator log only.
type Error struct {
	Code    string
	Message string
	// Fields lists per-field validation problems, for EINVALID.
	Fields []FieldError

	// decision is the policy decision of a denial, for its audit entry.
	decision *Decision
}

// FieldError names one invalid input field and why it is invalid. Reason
// describes the rule that failed, never the value that failed it.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("coffre error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for a nil
// error and EINTERNAL for any other error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic message for any other error.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorFields returns the per-field problems of the first *Error in err's
// chain, if any.
func ErrorFields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
