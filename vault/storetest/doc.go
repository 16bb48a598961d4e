// Package storetest is the conformance suite of vault.Store: every store
// implementation (vault/sqlite, vault/postgres) runs Run from its own tests,
// so that they all keep the same contract.
//
// The suite holds no cryptography: sealed fields, wrapped keys, lookup and
// segmentation tokens are random opaque bytes made by the fixture helpers
// (NewRecord, NewToken, NewEntry, …), which a store must keep byte for byte.
// Audit entries are hashed for real, with package audit, and proofs over a
// store are checked with the transparency-dev verifier. Sequence,
// SequenceAll, StartSequencer and CheckLog are exported for stores' own
// tests and benchmarks.
//
// Beyond what the vault.Store documentation says, the suite pins down these
// behaviours, which callers rely on:
//
//   - A nil argument, an empty tenant id, record id, token id, lookup field
//     or token, a nil audit entry on a write, an empty LoadContacts batch and
//     a limit below 1 are EINVALID, returned before anything is written.
//   - An audit entry that the log could not encode, and so never sequence,
//     fails the write with EINVALID: no tenant or action, a string that is
//     not UTF-8, a time outside the years 1970 to 9999. A zero entry time is
//     set to the store's time.
//   - A successful write commits its audit entry pending (unsequenced), in
//     its transaction, and leaves e.Seq alone; a failed write appends
//     nothing. AppendAudit appends a batch the same way, all or nothing; an
//     empty batch is a no-op. PendingAudit lists pending entries by
//     increasing id, which is write order for writes that do not overlap;
//     a limit below 1 is EINVALID.
//   - Sequencing (see Sequence, which follows the audit log's sequencer)
//     numbers pending entries 0, 1, … with no gap or repeat, whatever the
//     concurrency of writers and sequencers. SequenceAudit refuses a stale
//     head with audit.ErrHeadMoved and an entry already sequenced, unknown
//     or listed twice with another error; either way it changes nothing.
//   - AuditEntries returns sequenced entries only, of one tenant, in Seq
//     order; its limit is 1 to 1000 (EINVALID otherwise, or without tenant).
//   - ReadHashes fails for a hash not stored; SequencedEntries returns
//     nothing past the sequenced size; AddCheckpoint keeps the first note
//     stored for a size, and EINVALID for a nil checkpoint or empty note.
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
//   - CountContacts and ListContacts agree with (*vault.Cond).Matches on
//     the records every write left (RunSegments checks hundreds of random
//     conditions), whatever the tokens' lengths: a time bound is compared
//     to the nanosecond, an empty Tokens list matches nothing, an And of
//     none everything, an Or of none nothing. They refuse with EINVALID,
//     never answering more or fewer records, a nil condition or child,
//     CondConsent, an unknown op, flag or column, a Not without exactly
//     one child and an empty token, anywhere in the tree; and an empty
//     tenant, a limit below 1, an afterID that is neither empty nor a
//     canonical UUID. An unknown tenant has no records. Pages follow id
//     order; afterID need not be a stored id.
//   - Saved segment names are exact and sort byte-wise; SaveSegment and
//     DeleteSegment commit their entry as a write does; a zero CreatedAt
//     is set to the store's time.
//   - Data-subject requests (RunRequests): a request is stored whole and
//     read back whole; UpdateRequest replaces everything but the tenant
//     and the id. Request ids are a tenant's. A zero UpdatedAt is set to
//     the store's time, in the caller's request too; a zero CompletedAt
//     or UsedAt comes back zero. A request without id, tenant or
//     subject, of an unknown type or state, with a zero ReceivedAt or
//     DueAt, or an extension outside 0 to 2 months is EINVALID.
//   - A subject has at most one open request (not completed nor rejected)
//     of a type in a tenant: a create or an update that would make a
//     second one is ECONFLICT, concurrent ones included.
//   - DataRequests orders by DueAt then id; a zero member of the filter
//     selects nothing out (Limit 0 is no limit); DueBefore is strict and
//     compared to the nanosecond; a negative limit or no tenant is
//     EINVALID.
//   - PutVerificationCode replaces the request's code whole (attempts and
//     use included), appends no entry, and is ENOTFOUND without the
//     request; UpdateVerificationCode records one attempt, storing
//     Attempts and UsedAt only, is ECONFLICT unless the stored code is
//     unused with one attempt fewer, and ENOTFOUND without a code.
//   - EraseSubject erases the contact r.SubjectID of r's tenant: ENOTFOUND
//     if it or the request is absent, ECONFLICT for a stale version, and
//     then nothing changes. A suppression already listed, or listed twice,
//     is no conflict; one of another tenant than r's is EINVALID.
//   - CreateContact of a record whose Suppression holds a token listed
//     for its tenant and field is the ECONFLICT of vault.SuppressedError
//     naming that field, and writes nothing; another tenant's list,
//     another field's or an unlisted token does not stop it.
//   - Suppressed returns the given tokens that are listed for the tenant
//     and field, exact bytes, in the order given, each once; none asked,
//     none answered; an empty token is EINVALID.
package storetest
