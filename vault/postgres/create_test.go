package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/storetest"
)

// TestCreateShapes creates a record through each form of the create's
// statement (with and without suppression tokens, lookups and audit
// entry) and checks that the record, its lookups, its segment row and
// its entry are stored, or the entry left out when the audit is off.
func TestCreateShapes(t *testing.T) {
	for _, audited := range []bool{true, false} {
		db, u := pgtest.MustOpen(t)
		if !audited {
			postgres.SkipAudit(db)
		}
		tn := storetest.MustCreateTenant(t, db)
		for _, suppression := range []bool{true, false} {
			for _, lookups := range []bool{true, false} {
				t.Run(fmt.Sprintf("audit=%v/suppression=%v/lookups=%v", audited, suppression, lookups), func(t *testing.T) {
					r := storetest.NewRecord(tn.ID)
					if !lookups {
						r.Lookups = nil
					}
					if suppression {
						r.Suppression = []vault.Lookup{{Field: storetest.FieldEmail, Token: storetest.RandomBytes(32)}}
					}
					before := count(t, u, "audit_entries")
					if err := db.CreateContact(context.Background(), r, storetest.NewEntry(tn.ID, vault.ActionContactCreate, r.ID)); err != nil {
						t.Fatalf("CreateContact = %v, want nil", err)
					}
					got, err := db.Contact(context.Background(), tn.ID, r.ID)
					if err != nil {
						t.Fatalf("Contact = %v, want nil", err)
					}
					if d := storetest.DiffRecord(got, r); d != "" {
						t.Error(d)
					}
					var restricted, objected bool
					var tokens int
					if err := pgtest.Conn(t, u).QueryRow(context.Background(), `SELECT restricted, objected, cardinality(tokens)
						FROM contact_segments WHERE tenant_id = $1 AND id = $2`, tn.ID, r.ID).Scan(&restricted, &objected, &tokens); err != nil {
						t.Fatalf("segment row: %v", err)
					}
					if restricted != r.Flags.Restricted || objected != r.Flags.Objected || tokens != len(r.Tokens) {
						t.Errorf("segment row restricted %v, objected %v, %d tokens; want %v, %v, %d",
							restricted, objected, tokens, r.Flags.Restricted, r.Flags.Objected, len(r.Tokens))
					}
					for _, l := range r.Lookups {
						found, err := db.FindContacts(context.Background(), tn.ID, l.Field, l.Token, 10)
						if err != nil || len(found) != 1 || found[0].ID != r.ID {
							t.Errorf("FindContacts(%s) = %d records, %v; want the record", l.Field, len(found), err)
						}
					}
					want := before
					if audited {
						want++
					}
					if n := count(t, u, "audit_entries"); n != want {
						t.Errorf("%d audit entries after the create, want %d", n, want)
					}
				})
			}
		}
	}
}
