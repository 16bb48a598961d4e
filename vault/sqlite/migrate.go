package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/coffre/coffre/vault"
)

//go:embed migration/*.up.sql
var migrations embed.FS

// migration is one embedded schema change. Its name, as recorded in
// schema_migrations, is the file's without ".up.sql" ("001_initial").
type migration struct {
	version int
	name    string
	file    string
}

// dataSteps are the parts of migrations that SQL cannot express, run in
// the migration's transaction right after its file, by version.
var dataSteps = map[int]func(ctx context.Context, tx *sql.Tx) error{
	3: copyContactsV1,
	4: fillSegmentTokens,
}

// listMigrations returns the embedded migrations in version order.
func listMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migration/*.up.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := make(map[int]string)
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNN_name.up.sql", base)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same version", other, base)
		}
		seen[v] = base
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(base, ".up.sql"), file: name})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// Migrate applies the embedded migrations the file lacks, in order, each
// in its own transaction together with its row in schema_migrations. It is
// idempotent. It fails if the file was migrated by a newer version of
// Coffre (it records a migration this binary does not know). Open calls
// it; writes wait while it runs.
func (db *DB) Migrate(ctx context.Context) error {
	return db.exclusive(ctx, db.migrate)
}

// migrate is Migrate on the writer's connection. When it applied a
// migration that left much of the file free (a rewrite of tables), it
// compacts the file with VACUUM.
func (db *DB) migrate(ctx context.Context, conn *sql.Conn) error {
	const op = "sqlite.Migrate"
	ms, err := listMigrations()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fail(ctx, op, err)
	}
	var newest int
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return fail(ctx, op, err)
	}
	if len(ms) > 0 && newest > ms[len(ms)-1].version {
		return fmt.Errorf("%s: database schema version %d is newer than this program's %d", op, newest, ms[len(ms)-1].version)
	}
	applied := false
	for _, m := range ms {
		did, err := db.migrateOne(ctx, conn, m)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", op, m.name, mapError(ctx, err))
		}
		applied = applied || did
	}
	if applied {
		if err := compact(ctx, conn); err != nil {
			return fmt.Errorf("%s: vacuum: %w", op, mapError(ctx, err))
		}
		// Copy the migration's pages into the file and empty the log,
		// which a table rewrite grows to the size of the tables.
		if _, err := conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			return fmt.Errorf("%s: checkpoint: %w", op, mapError(ctx, err))
		}
	}
	return nil
}

// migrateOne applies m unless it is recorded as applied, and reports
// whether it did.
func (db *DB) migrateOne(ctx context.Context, conn *sql.Conn, m migration) (bool, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return false, err
	} else if n > 0 {
		return false, nil
	}
	src, err := migrations.ReadFile(m.file)
	if err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, string(src)); err != nil {
		return false, err
	}
	if step := dataSteps[m.version]; step != nil {
		if err := step(ctx, tx); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, db.now().UnixMicro()); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// compact rebuilds the file with VACUUM when more than a quarter of its
// pages are free, as after a migration that copied tables: SQLite reuses
// free pages but never returns them to the file system by itself.
func compact(ctx context.Context, conn *sql.Conn) error {
	var pages, free int64
	if err := conn.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return err
	}
	if err := conn.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
		return err
	}
	if free*4 <= pages {
		return nil
	}
	_, err := conn.ExecContext(ctx, `VACUUM`)
	return err
}

// copyContactsV1 is the data step of 003_compact: it copies the contacts
// of the renamed version-1 tables into the new ones, a page of rows at a
// time in key order, fills the lookup tables in their key order, so that
// every insert appends, and drops the old tables.
func copyContactsV1(ctx context.Context, tx *sql.Tx) error {
	insert, err := tx.PrepareContext(ctx, qInsertContact)
	if err != nil {
		return err
	}
	defer insert.Close()
	const page = 1000
	var lastTenant, lastID string
	for {
		rs, err := contactsV1(ctx, tx, lastTenant, lastID, page)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			break
		}
		if err := indexesV1(ctx, tx, rs); err != nil {
			return err
		}
		for _, r := range rs {
			key, ok := packID(r.ID)
			if !ok {
				return fmt.Errorf("contact id %q is not a UUID", r.ID)
			}
			consents, err := marshalConsents(r.Consents)
			if err != nil {
				return err
			}
			if _, err := insert.ExecContext(ctx, r.TenantID, key, r.WrappedKey, vault.MarshalSealed(r.Sealed),
				packLookups(normLookups(r.Lookups)), packTokens(normTokens(r.Tokens)), consents,
				boolInt(r.Flags.Restricted), boolInt(r.Flags.Objected), r.Version,
				toMicro(r.CreatedAt), toMicro(r.UpdatedAt)); err != nil {
				return fmt.Errorf("copy contact %s: %w", r.ID, err)
			}
		}
		if len(rs) < page {
			break
		}
		lastTenant, lastID = rs[len(rs)-1].TenantID, rs[len(rs)-1].ID
	}
	for _, q := range []string{`
		INSERT INTO contact_lookups_unique (token, tenant_id, field, contact)
		SELECT l.token, l.tenant_id, l.field, c.rid
		FROM contact_lookups_v1 AS l JOIN contacts AS c ON c.tenant_id = l.tenant_id AND c.id = unhex(replace(l.contact_id, '-', ''))
		WHERE l.is_unique = 1
		ORDER BY l.token, l.tenant_id, l.field`, `
		INSERT INTO contact_lookups_shared (token, tenant_id, field, contact)
		SELECT l.token, l.tenant_id, l.field, c.rid
		FROM contact_lookups_v1 AS l JOIN contacts AS c ON c.tenant_id = l.tenant_id AND c.id = unhex(replace(l.contact_id, '-', ''))
		WHERE l.is_unique = 0
		ORDER BY l.token, l.tenant_id, l.field, c.rid`,
		`DROP TABLE contact_tokens_v1`,
		`DROP TABLE contact_lookups_v1`,
		`DROP TABLE contacts_v1`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// contactsV1 returns up to limit version-1 contacts after (tenantID, id),
// in key order, without lookups and tokens.
func contactsV1(ctx context.Context, tx *sql.Tx, tenantID, id string, limit int) ([]*vault.Record, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT tenant_id, id, wrapped_key, sealed, consents, restricted, objected, version, created_at, updated_at
		FROM contacts_v1 WHERE (tenant_id, id) > (?, ?) ORDER BY tenant_id, id LIMIT ?`, tenantID, id, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []*vault.Record
	for rows.Next() {
		var r vault.Record
		var sealed []byte
		var consents string
		var createdAt, updatedAt int64
		if err := rows.Scan(&r.TenantID, &r.ID, &r.WrappedKey, &sealed, &consents,
			&r.Flags.Restricted, &r.Flags.Objected, &r.Version, &createdAt, &updatedAt); err != nil {
			return nil, err
		}
		if r.Sealed, err = vault.UnmarshalSealed(sealed); err != nil {
			return nil, fmt.Errorf("contact %s: sealed fields: %w", r.ID, err)
		}
		if r.Consents, err = unmarshalConsents(consents); err != nil {
			return nil, fmt.Errorf("contact %s: consents: %w", r.ID, err)
		}
		r.CreatedAt, r.UpdatedAt = fromMicro(createdAt), fromMicro(updatedAt)
		rs = append(rs, &r)
	}
	return rs, rows.Err()
}

// indexesV1 fills in the lookups and tokens of rs, version-1 contacts in
// key order, from the version-1 tables, with one range query each.
func indexesV1(ctx context.Context, tx *sql.Tx, rs []*vault.Record) error {
	byKey := make(map[string]*vault.Record, len(rs))
	for _, r := range rs {
		byKey[r.TenantID+"\x00"+r.ID] = r
	}
	first, last := rs[0], rs[len(rs)-1]
	const where = `WHERE (tenant_id, contact_id) >= (?, ?) AND (tenant_id, contact_id) <= (?, ?)`
	rows, err := tx.QueryContext(ctx, `SELECT tenant_id, contact_id, field, token, is_unique FROM contact_lookups_v1 `+where,
		first.TenantID, first.ID, last.TenantID, last.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var tenantID, id string
		var l vault.Lookup
		if err := rows.Scan(&tenantID, &id, &l.Field, &l.Token, &l.Unique); err != nil {
			return err
		}
		if r := byKey[tenantID+"\x00"+id]; r != nil {
			r.Lookups = append(r.Lookups, l)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	rows, err = tx.QueryContext(ctx, `SELECT tenant_id, contact_id, token FROM contact_tokens_v1 `+where,
		first.TenantID, first.ID, last.TenantID, last.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var tenantID, id string
		var t []byte
		if err := rows.Scan(&tenantID, &id, &t); err != nil {
			return err
		}
		if r := byKey[tenantID+"\x00"+id]; r != nil {
			r.Tokens = append(r.Tokens, t)
		}
	}
	return rows.Err()
}
