package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/storetest"
)

func TestMapError(t *testing.T) {
	pg := func(code, constraint string) error {
		return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code, ConstraintName: constraint,
			Message: "server message", Detail: "Key (token)=(secret-detail) already exists."})
	}
	for _, tt := range []struct {
		name string
		err  error
		code string
		msg  string // a substring of the caller's message, if set
	}{
		{"Nil", nil, "", ""},
		{"NoRows", pgx.ErrNoRows, vault.ENOTFOUND, ""},
		{"UniqueContactID", pg("23505", "contacts_pkey"), vault.ECONFLICT, "contact with this id"},
		{"UniqueLookup", pg("23505", "contact_lookups_unique"), vault.ECONFLICT, "same unique value"},
		{"UniqueTenant", pg("23505", "tenants_pkey"), vault.ECONFLICT, "tenant"},
		{"UniqueToken", pg("23505", "api_tokens_pkey"), vault.ECONFLICT, "token"},
		{"UniqueOther", pg("23505", "some_index"), vault.ECONFLICT, ""},
		{"Serialization", pg("40001", ""), vault.ECONFLICT, ""},
		{"Deadlock", pg("40P01", ""), vault.ECONFLICT, ""},
		{"NotNull", pg("23502", ""), vault.EINVALID, ""},
		{"Check", pg("23514", ""), vault.EINVALID, ""},
		{"BadEncoding", pg("22021", ""), vault.EINVALID, ""},
		{"BadUUID", pg("22P02", ""), vault.EINVALID, ""},
		{"TooComplex", pg("54001", ""), vault.ETOOLARGE, ""},
		{"Timeout", pg("57014", ""), vault.EUNAVAILABLE, ""},
		{"AdminShutdown", pg("57P01", ""), vault.EUNAVAILABLE, ""},
		{"TooManyConnections", pg("53300", ""), vault.EUNAVAILABLE, ""},
		{"ConnectionFailure", pg("08006", ""), vault.EUNAVAILABLE, ""},
		{"UndefinedTable", pg("42P01", ""), vault.EINTERNAL, ""},
		{"Net", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, vault.EUNAVAILABLE, ""},
		{"Connect", func() error {
			_, err := pgconn.Connect(context.Background(), "postgres://u@127.0.0.1:1/db?connect_timeout=1")
			return err
		}(), vault.EUNAVAILABLE, ""},
		{"Other", io.ErrUnexpectedEOF, vault.EINTERNAL, ""},
		{"Vault", vault.Errorf(vault.EFORBIDDEN, "No."), vault.EFORBIDDEN, "No."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := postgres.MapError(tt.err)
			if got := vault.ErrorCode(err); got != tt.code {
				t.Fatalf("MapError(%v) code = %q, want %q", tt.err, got, tt.code)
			}
			if tt.err == nil {
				return
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("MapError(%v) = %v, which no longer wraps the cause", tt.err, err)
			}
			msg := vault.ErrorMessage(err)
			if tt.msg != "" && !strings.Contains(msg, tt.msg) {
				t.Errorf("MapError(%v) message = %q, want it to contain %q", tt.err, msg, tt.msg)
			}
			if strings.Contains(msg, "secret-detail") || strings.Contains(msg, "server message") {
				t.Errorf("MapError(%v) message = %q, which leaks the driver's error", tt.err, msg)
			}
		})
	}

	t.Run("Context", func(t *testing.T) {
		for _, cause := range []error{context.Canceled, context.DeadlineExceeded} {
			err := postgres.MapError(fmt.Errorf("query: %w", cause))
			if !errors.Is(err, cause) {
				t.Errorf("MapError(%v) = %v, want it to stay a context error", cause, err)
			}
		}
	})
}

// TestErrorsFromDatabase checks the codes of real driver errors.
func TestErrorsFromDatabase(t *testing.T) {
	db, _ := pgtest.MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	ctx := t.Context()

	t.Run("TenantConflict", func(t *testing.T) {
		dup := storetest.NewTenant()
		dup.ID = tn.ID
		err := db.CreateTenant(ctx, dup)
		if vault.ErrorCode(err) != vault.ECONFLICT || !strings.Contains(vault.ErrorMessage(err), "tenant") {
			t.Errorf("CreateTenant(existing) = %v, want ECONFLICT about the tenant", err)
		}
	})

	t.Run("NotUTF8", func(t *testing.T) {
		bad := storetest.NewTenant()
		bad.ID = "tenant-\xff\x00"
		if err := db.CreateTenant(ctx, bad); vault.ErrorCode(err) != vault.EINVALID {
			t.Errorf("CreateTenant(id not UTF-8) = %v (code %q), want EINVALID", err, vault.ErrorCode(err))
		}
	})

	t.Run("NonUUIDIsNotFound", func(t *testing.T) {
		for _, id := range []string{"42", "01A22921-2DBD-7B64-8519-1C78FCFBA999", "'; DROP TABLE contacts; --"} {
			if _, err := db.Contact(ctx, tn.ID, id); vault.ErrorCode(err) != vault.ENOTFOUND {
				t.Errorf("Contact(%q) = %v, want ENOTFOUND", id, err)
			}
			e := storetest.NewEntry(tn.ID, vault.ActionContactErase, id)
			if err := db.EraseContact(ctx, tn.ID, id, e); vault.ErrorCode(err) != vault.ENOTFOUND {
				t.Errorf("EraseContact(%q) = %v, want ENOTFOUND", id, err)
			}
		}
	})

	t.Run("CreateNonUUIDIsInvalid", func(t *testing.T) {
		r := storetest.NewRecord(tn.ID)
		r.ID = "contact-1"
		if err := db.CreateContact(ctx, r, storetest.NewEntry(tn.ID, vault.ActionContactCreate, r.ID)); vault.ErrorCode(err) != vault.EINVALID {
			t.Errorf("CreateContact(id not a UUID) = %v, want EINVALID", err)
		}
	})

	t.Run("ConsentTimeOutOfRange", func(t *testing.T) {
		r := storetest.NewRecord(tn.ID)
		r.Consents["sms"] = vault.ConsentState{At: storetest.Now().AddDate(20000, 0, 0)}
		if err := db.CreateContact(ctx, r, storetest.NewEntry(tn.ID, vault.ActionContactCreate, r.ID)); vault.ErrorCode(err) != vault.EINVALID {
			t.Errorf("CreateContact(consent in year 22000) = %v, want EINVALID", err)
		}
	})
}
