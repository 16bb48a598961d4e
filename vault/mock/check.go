package mock

import "github.com/coffre/coffre/vault"

// The checks below refuse the calls a real store refuses as programming
// errors (EINVALID), so that a test using the fake fails the same way.

func invalid(op, what string) error {
	return vault.Errorf(vault.EINVALID, "%s: %s", op, what)
}

func checkRecord(op string, r *vault.Record) error {
	switch {
	case r == nil:
		return invalid(op, "nil record")
	case r.TenantID == "":
		return invalid(op, "record without tenant")
	case r.ID == "":
		return invalid(op, "record without id")
	}
	for _, ls := range [][]vault.Lookup{r.Lookups, r.Suppression} {
		for _, l := range ls {
			if l.Field == "" || len(l.Token) == 0 {
				return invalid(op, "incomplete lookup")
			}
		}
	}
	for _, t := range r.Tokens {
		if len(t) == 0 {
			return invalid(op, "empty segmentation token")
		}
	}
	return nil
}

func checkEntry(op string, e *vault.AuditEntry) error {
	if e == nil {
		return invalid(op, "nil audit entry")
	}
	return nil
}

func checkID(op, what, id string) error {
	if id == "" {
		return invalid(op, "no "+what)
	}
	return nil
}

func checkToken(op string, t *vault.APIToken) error {
	switch {
	case t == nil:
		return invalid(op, "nil token")
	case t.ID == "":
		return invalid(op, "token without id")
	case t.TenantID == "":
		return invalid(op, "token without tenant")
	}
	return nil
}

// first returns the first non-nil error.
func first(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
