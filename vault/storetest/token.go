package storetest

import (
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

func testToken(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		for _, tt := range []struct {
			name   string
			modify func(k *vault.APIToken)
		}{
			{"Full", func(k *vault.APIToken) {}},
			{"NoExpiry", func(k *vault.APIToken) { k.ExpiresAt = time.Time{} }},
			{"Revoked", func(k *vault.APIToken) { k.RevokedAt = k.CreatedAt.Add(time.Minute) }},
			{"Bare", func(k *vault.APIToken) {
				k.Role = vault.RoleAdmin
				k.Attributes, k.Purposes, k.ExpiresAt = nil, nil, time.Time{}
			}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				want := NewToken(tn.ID)
				tt.modify(want)
				settle(t, s)
				e := NewEntry(tn.ID, vault.ActionTokenCreate, "")
				mustCode(t, "CreateToken", s.CreateToken(t.Context(), want, e), "")
				got, err := s.Token(t.Context(), want.ID)
				mustCode(t, "Token", err, "")
				if d := DiffToken(got, want); d != "" {
					t.Errorf("Token(%s): %s", want.ID, d)
				}
				checkPending(t, s, e)
			})
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		mustCode(t, "CreateToken", s.CreateToken(t.Context(), NewToken(tn.ID), NewEntry(tn.ID, vault.ActionTokenCreate, "")), "")
		_, err := s.Token(t.Context(), "tok-missing")
		checkCode(t, "Token(tok-missing)", err, vault.ENOTFOUND)
	})

	t.Run("ErrConflict", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		orig := NewToken(tn.ID)
		mustCode(t, "CreateToken", s.CreateToken(t.Context(), orig, NewEntry(tn.ID, vault.ActionTokenCreate, "")), "")
		settle(t, s)
		dup := NewToken(tn.ID)
		dup.ID = orig.ID
		dup.Role = vault.RoleAdmin
		e := NewEntry(tn.ID, vault.ActionTokenCreate, "")
		checkCode(t, "CreateToken(existing id)", s.CreateToken(t.Context(), dup, e), vault.ECONFLICT)
		if e.Seq != 0 {
			t.Errorf("failed CreateToken: e.Seq = %d, want 0", e.Seq)
		}
		got, err := s.Token(t.Context(), orig.ID)
		mustCode(t, "Token", err, "")
		if d := DiffToken(got, orig); d != "" {
			t.Errorf("Token(%s) after a refused duplicate: %s", orig.ID, d)
		}
		checkPending(t, s)
	})
}
