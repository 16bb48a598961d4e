package sqlite

import (
	"fmt"

	"github.com/coffre/coffre/vault"
)

// SegmentQueries returns the SQL and arguments of CountContacts and of a
// first page of ListContacts for c in the tenant, for the tests of their
// plans.
func SegmentQueries(tenantID string, c *vault.Cond, limit int) (count, list string, countArgs, listArgs []any, err error) {
	cond, countArgs, err := buildCond(c, false, tenantID)
	if err != nil {
		return "", "", nil, nil, err
	}
	lcond, listArgs, _ := buildCond(c, true, tenantID, []byte{})
	return qCountContacts + cond, fmt.Sprintf(qListContacts, lcond), countArgs, append(listArgs, limit), nil
}
