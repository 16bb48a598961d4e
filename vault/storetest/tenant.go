package storetest

import (
	"bytes"
	"testing"

	"github.com/coffre/coffre/vault"
)

func testTenant(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		want := NewTenant()
		mustCode(t, "CreateTenant", s.CreateTenant(t.Context(), want), "")
		got, err := s.Tenant(t.Context(), want.ID)
		mustCode(t, "Tenant", err, "")
		if got.ID != want.ID {
			t.Errorf("Tenant(%s).ID = %q, want %q", want.ID, got.ID, want.ID)
		}
		if !bytes.Equal(got.Keys, want.Keys) {
			t.Errorf("Tenant(%s).Keys = %x, want %x", want.ID, got.Keys, want.Keys)
		}
		if !got.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("Tenant(%s).CreatedAt = %v, want %v", want.ID, got.CreatedAt, want.CreatedAt)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		MustCreateTenant(t, s)
		_, err := s.Tenant(t.Context(), "tenant-missing")
		checkCode(t, "Tenant(tenant-missing)", err, vault.ENOTFOUND)
	})

	t.Run("ErrConflict", func(t *testing.T) {
		s := open(t)
		orig := MustCreateTenant(t, s)
		dup := NewTenant()
		dup.ID = orig.ID
		checkCode(t, "CreateTenant(existing id)", s.CreateTenant(t.Context(), dup), vault.ECONFLICT)
		got, err := s.Tenant(t.Context(), orig.ID)
		mustCode(t, "Tenant", err, "")
		if !bytes.Equal(got.Keys, orig.Keys) {
			t.Errorf("Tenant(%s).Keys = %x, want the original %x", orig.ID, got.Keys, orig.Keys)
		}
	})
}
