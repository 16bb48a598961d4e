package postgres

import (
	"strconv"
	"strings"
	"sync"

	"github.com/coffre/coffre/vault"
)

// A create is one statement: the suppression check, the record, its
// lookups, its segment row and its audit entry are the parts of one
// INSERT with data-modifying WITH clauses, which PostgreSQL runs as its
// own transaction. Against BEGIN, five statements and COMMIT in one
// round trip, it saves the database six statements' overhead and the
// driver six messages to encode, for the same all-or-nothing outcome: a
// unique violation or any other error fails the whole statement.
//
// The suppression check is a WITH query that finds the first listed token
// of the record's suppression fields, one probe of the list's primary key
// per token, and the statement returns its field. The record's INSERT
// writes nothing when it found one, and the other parts write only if the
// record's did: a suppressed create commits nothing. (The check was a
// PL/pgSQL function that raised an error, migration 006: the statement took
// 90-92 µs to execute at concurrency 1, against 70-72 µs now.)

// createShape says which optional parts a create's statement holds; each
// shape has its own text, prepared once per connection.
type createShape struct{ suppression, lookups, audit bool }

var createSQLs sync.Map // createShape → string

// createSQL returns the statement of a create of the given shape. Its
// parameters are the record's contactValues ($1 to $14), then the
// segment keys, then the suppression fields and tokens, the lookups'
// fields, tokens and uniqueness, and the audit entry's entryArgs, each
// group only when the shape holds it.
func createSQL(s createShape) string {
	if q, ok := createSQLs.Load(s); ok {
		return q.(string)
	}
	n := 14
	next := func() string { n++; return "$" + strconv.Itoa(n) }
	var b strings.Builder
	b.WriteString("WITH ")
	// With a suppression check, the record's INSERT writes nothing when a
	// token is listed, and the other parts write only what it wrote.
	gate, written := "", ""
	segKeys := next()
	if s.suppression {
		fields, tokens := next(), next()
		b.WriteString(`sup AS (SELECT l.field FROM unnest(` + fields + `::text[], ` + tokens + `::bytea[]) AS l (field, token)
	WHERE EXISTS (SELECT FROM suppressions p WHERE p.tenant_id = $1 AND p.field = l.field AND p.token = l.token)
	LIMIT 1),
`)
		gate, written = "\n\tWHERE NOT EXISTS (SELECT FROM sup) RETURNING 1", "\n\tWHERE EXISTS (SELECT FROM c)"
	}
	b.WriteString(`c AS (INSERT INTO contacts (tenant_id, id, wrapped_key, sealed, consents, restricted, objected,
		version, tokens, lookup_fields, lookup_tokens, lookup_unique, created_at, updated_at)
	SELECT $1::text, $2::uuid, $3::bytea, $4::bytea, $5::jsonb, $6::boolean, $7::boolean, $8::bigint,
		$9::bytea[], $10::text[], $11::bytea[], $12::boolean[], $13::timestamptz, $14::timestamptz` + gate + `),
s AS (INSERT INTO contact_segments (tenant_id, id, created_at, updated_at, restricted, objected, tokens)
	SELECT $1, $2::uuid, $13::timestamptz, $14::timestamptz, $6, $7, ` + segKeys + `::bigint[]` + written + `)`)
	if s.lookups {
		fields, tokens, unique := next(), next(), next()
		b.WriteString(`,
l AS (INSERT INTO contact_lookups (tenant_id, field, token, contact_id, is_unique)
	SELECT $1::text, l.field, l.token, $2::uuid, l.is_unique
	FROM unnest(` + fields + `::text[], ` + tokens + `::bytea[], ` + unique + `::boolean[]) AS l (field, token, is_unique)` + written + `)`)
	}
	if s.audit {
		ps := make([]string, 13)
		for i := range ps {
			ps[i] = next()
		}
		b.WriteString(`,
a AS (INSERT INTO audit_entries (` + entryColumns + `) SELECT ` + strings.Join(ps, ", ") + written + `)`)
	}
	if s.suppression {
		b.WriteString("\nSELECT (SELECT field FROM sup)")
	} else {
		b.WriteString("\nSELECT NULL::text")
	}
	q, _ := createSQLs.LoadOrStore(s, b.String())
	return q.(string)
}

// createArgs returns the shape and the parameters of the create of r
// (its contactValues vals) with entry e, nil when the audit is off.
func createArgs(r *vault.Record, vals []any, e *vault.AuditEntry) (createShape, []any) {
	args := append(vals, segmentKeys(r.Tokens))
	var s createShape
	if len(r.Suppression) > 0 {
		s.suppression = true
		fields, tokens, _ := splitLookups(r.Suppression)
		args = append(args, fields, tokens)
	}
	if ls := distinctLookups(r.Lookups); len(ls) > 0 {
		s.lookups = true
		fields, tokens, unique := splitLookups(ls)
		args = append(args, fields, tokens, unique)
	}
	if e != nil {
		s.audit = true
		args = append(args, entryArgs(e)...)
	}
	return s, args
}
