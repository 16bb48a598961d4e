// Package storetest is the conformance suite of vault.Store: every store
// implementation (vault/sqlite, vault/postgres) runs Run from its own tests,
// so that they all keep the same contract.
//
// The suite holds no cryptography: sealed fields, wrapped keys, lookup and
// segmentation tokens are random opaque bytes made by the fixture helpers
// (NewRecord, NewToken, NewEntry, …), which a store must keep byte for byte.
//
// Beyond what the vault.Store documentation says, the suite pins down these
// behaviours, which callers rely on:
//
//   - A nil argument, an empty tenant id, record id, token id, lookup field
//     or token, a nil audit entry on a write, an empty LoadContacts batch and
//     a limit below 1 are EINVALID, returned before anything is written.
//   - A successful write sets e.Seq to the sequence number of the entry it
//     appended; a failed write appends nothing and leaves e.Seq zero.
//   - Seq is global to the store, starts at 1 in a fresh store and has no
//     gaps, whatever the concurrency; AuditEntries returns one tenant's
//     entries in Seq order.
//   - Times round-trip to the microsecond; fixtures hold whole microseconds.
//     A zero APIToken.ExpiresAt or RevokedAt comes back zero.
//   - Nil and empty maps and slices are interchangeable; the order of
//     Record.Lookups and Record.Tokens is not significant.
//   - UpdateContact replaces everything but the id, the tenant and
//     CreatedAt: sealed fields, wrapped key, consents, flags, lookups,
//     tokens, UpdatedAt and Version.
//   - FindContacts orders by CreatedAt then id, and returns an empty result
//     (no error) when nothing matches.
//   - A unique lookup conflicts only with unique lookups of other records of
//     the same tenant and field.
package storetest
