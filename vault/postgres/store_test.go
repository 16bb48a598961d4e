package postgres_test

import (
	"testing"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/storetest"
)

// TestStore runs the conformance suite, each subtest on a store in a
// fresh schema.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) vault.Store {
		db, _ := pgtest.MustOpen(t)
		return db
	})
}
