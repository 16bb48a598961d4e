package mock_test

import (
	"testing"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/mock"
	"github.com/coffre/coffre/vault/storetest"
)

// TestSegments holds the in-memory store to the segment part of the
// conformance suite: its answers are the reference semantics, Matches,
// which the suite checks the database stores against.
func TestSegments(t *testing.T) {
	storetest.RunSegments(t, func(t *testing.T) vault.Store { return mock.NewStore() })
}

// TestRequests holds the in-memory store to the request part of the
// conformance suite.
func TestRequests(t *testing.T) {
	storetest.RunRequests(t, func(t *testing.T) vault.Store { return mock.NewStore() })
}
