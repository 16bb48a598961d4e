package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/vault"
)

// SetListWalk sets how many rows a listing walks before it looks up the
// rest through the indexes.
func SetListWalk(db *DB, n int) { db.listWalk = n }

// SegmentKey exposes the key contact_segments holds for a token.
var SegmentKey = segmentKey

// SegmentQueries returns, for the condition c in the tenant, the SQL and
// arguments of CountContacts and of the two queries of a first page of
// ListContacts (the walk, then the rest after the id after), each
// argument list led by its query mode.
func SegmentQueries(tenantID string, c *vault.Cond, limit int, after string) (count, walk, rest string, countArgs, walkArgs, restArgs []any, err error) {
	cond, countArgs, err := buildCond(pgx.QueryExecModeExec, c, tenantID)
	if err != nil {
		return
	}
	count = countQuery(cond)
	cond, walkArgs, _ = buildCond(pgx.QueryExecModeDescribeExec, c, tenantID, max(listWalk, listWalkPages*limit), limit)
	walk = walkQuery(cond, false)
	cond, restArgs, _ = buildCond(pgx.QueryExecModeDescribeExec, c, tenantID, limit, after)
	rest = restQuery(cond, true)
	return count, walk, rest, countArgs, walkArgs, restArgs, nil
}
