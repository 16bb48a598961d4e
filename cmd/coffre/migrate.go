package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/sqlite"
)

// runMigrate implements coffre migrate: it applies the migrations the
// database lacks and lists them.
func (m *Main) runMigrate(ctx context.Context, args []string) error {
	fl := m.newFlagSet("migrate", "migrate [--database-url URL] [--data-dir DIR]")
	c := storeFlags(fl, false)
	if err := fl.parse(args); err != nil {
		return err
	}
	if err := m.resolve(c); err != nil {
		return err
	}
	before, err := m.appliedMigrations(ctx, c)
	if err != nil {
		return err
	}
	if c.postgres() {
		db, err := postgres.Open(ctx, c.databaseURL, postgres.WithoutMigrate())
		if err != nil {
			return fmt.Errorf("cannot open the PostgreSQL database: %w", err)
		}
		err = db.Migrate(ctx)
		db.Close()
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	} else {
		// Open applies the migrations.
		if !exists(c.dataDir) {
			return fmt.Errorf("data folder %s does not exist: run coffre init first", c.dataDir)
		}
		db, err := sqlite.Open(ctx, c.dbPath())
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if err := db.Close(); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	after, err := m.appliedMigrations(ctx, c)
	if err != nil {
		return err
	}
	ran := 0
	for _, name := range after {
		if !slices.Contains(before, name) {
			fmt.Fprintf(m.Stdout, "applied %s\n", name)
			ran++
		}
	}
	if ran == 0 {
		fmt.Fprintf(m.Stdout, "%s database is up to date (%d migrations)\n", c.storeKind(), len(after))
	} else {
		fmt.Fprintf(m.Stderr, "coffre: applied %d migrations to the %s database; %d in all\n", ran, c.storeKind(), len(after))
	}
	return nil
}

// appliedMigrations lists the migrations recorded in the database, by
// version, as NNN_name; none for a database without a schema_migrations
// table (or, for SQLite, without a file).
func (m *Main) appliedMigrations(ctx context.Context, c *storeConfig) ([]string, error) {
	var names []string
	if c.postgres() {
		conn, err := pgx.Connect(ctx, c.databaseURL)
		if err != nil {
			return nil, fmt.Errorf("cannot connect to the PostgreSQL database: %w", err)
		}
		defer conn.Close(ctx)
		var present bool
		if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&present); err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		if !present {
			return nil, nil
		}
		rows, err := conn.Query(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
		if err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		for rows.Next() {
			var v int
			var name string
			if err := rows.Scan(&v, &name); err != nil {
				return nil, fmt.Errorf("migrate: %w", err)
			}
			names = append(names, fmt.Sprintf("%03d_%s", v, name))
		}
		return names, rows.Err()
	}
	if !exists(c.dbPath()) {
		return nil, nil
	}
	// A read-only connection: the "sqlite" driver is registered by the
	// store package.
	u := url.URL{Scheme: "file", OmitHost: true, Path: c.dbPath(), RawQuery: "mode=ro&_busy_timeout=10000"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer db.Close()
	var present int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&present); err != nil {
		return nil, fmt.Errorf("migrate: cannot read the SQLite database: %w", err)
	}
	if present == 0 {
		return nil, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		names = append(names, strings.TrimSuffix(name, ".up.sql"))
	}
	return names, rows.Err()
}
