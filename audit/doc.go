// Package audit is the pure core of Coffre's tamper-evident audit log: the
// entry record and its canonical encoding, the RFC 6962 Merkle tree over
// the entries, checkpoints signed as C2SP signed notes, inclusion and
// consistency proofs, the export format and an offline verifier that needs
// nothing but an export and the log's public key.
//
// The package holds no SQL and imports nothing of Coffre. It declares the
// storage it consumes, Store (with HashReader); the stores implement it:
// they keep entries, leaf hashes, node hashes and checkpoints, and enforce
// append-only in the database. Log is the one sequencer that numbers the
// entries the stores committed, cuts signed checkpoints, serves proofs and
// writes exports.
//
// # One log per instance
//
// A Coffre instance keeps one log, and every entry names its tenant. One
// checkpoint then commits to everything that happened on the instance, in
// one order: an auditor (or the CNIL) checks one signature chain with one
// key, a tenant cannot be left out of the history while others are shown,
// and the sequencer and the checkpointer are single components rather than
// one per tenant. What a tenant's DPO must not see, the other tenants'
// entries, is kept out of their export by redaction rather than by separate
// logs: a tenant export shows the tenant's entries in full and every other
// entry as its sequence number and leaf hash only, which is enough to
// recompute the tree and check every checkpoint. Redaction reveals how many
// entries other tenants produced and when (by position), nothing of their
// content. Its limit: the redacted lines are not proven to belong to other
// tenants, so the completeness of one tenant's view rests on the full export
// being verified by the instance's auditor; entries shown are proven intact
// and in place either way.
//
// # Entry encoding
//
// An entry is hashed in a binary encoding with exactly one form per entry.
// All integers are big-endian; a string is a 4-byte length followed by that
// many bytes of valid UTF-8; bytes are a 4-byte length followed by the
// bytes. Version 1, in order:
//
//	version          1 byte, 0x01
//	seq              8 bytes, the leaf index (the first entry is 0)
//	time             8 bytes, microseconds since 1970-01-01T00:00:00Z,
//	                 below 253402300800000000 (year 10000)
//	tenant           string
//	actor_id         string
//	actor_role       string
//	action           string
//	subject          string, the subject's pseudonymous id or empty
//	fields           4-byte count n, then n strings (field names, in the
//	                 order the caller gave them)
//	purpose          string
//	outcome          string
//	request_id       string
//	decision_id      string
//	policy_revision  string
//	sealed           bytes, opaque (sealed under the subject's key), or
//	                 empty
//
// Nothing may follow, and the whole is at most MaxEntrySize bytes. Decode
// rejects anything else, so an encoding and the entry it decodes to map one
// to one. The leaf of the Merkle tree is the RFC 6962 leaf hash
// SHA-256(0x00 || encoding): the time, the sequence number and every field
// are inside it.
//
// # Tree and storage
//
// The tree is the RFC 6962 Merkle tree over the leaf hashes in sequence
// order, interior nodes SHA-256(0x01 || left || right) and the empty tree's
// root SHA-256 of nothing; it uses the compact ranges and proof node lists
// of github.com/transparency-dev/merkle and gives proofs that its
// proof.VerifyInclusion and proof.VerifyConsistency accept.
//
// A Tree is the compact range of the current tree: at most one hash per
// level (64 at most, about 20 for a million entries), enough to append and
// to give the current root without reading storage. A writer loads it once
// with LoadTree and then extends it with Tree.Append, which returns a new
// Tree and the node hashes to store; the Tree can also be kept in one
// database row (Tree.MarshalBinary) so that several processes can append
// under a row lock.
//
// The intended writer is a sequencer in the manner of Trillian and Tessera:
// each audited transaction commits its entry unsequenced (durable, in the
// transaction of the change, so a failed write fails the operation), and a
// single sequencer takes the committed entries in batches, numbers them
// from Tree.Size(), computes their leaf hashes, calls Tree.Append, and
// stores the sequence numbers, leaf hashes, returned nodes and new head in
// one transaction before it swaps in the new Tree. Sequence numbers are
// then dense whatever the number of concurrent writers, and hashing costs
// the writers nothing. Entries that record no change (reads) have no
// transaction to join: Log.Append numbers them after the pending ones and
// has the store insert them already sequenced, with the new head, in the
// same kind of transaction.
//
// Proofs and roots of past sizes come from storage. Storing only the leaf
// hashes would make a proof in a log of a million entries rehash up to half
// a million leaves; storing every node doubles the writes. The store keeps
// instead, besides the leaf hash of every entry, the hash of every complete
// node at levels TileHeight, 2*TileHeight, ... (8, 16, 24, ...): one extra
// row per 255 entries. Any complete node at level l is rebuilt from the
// at most 2^(TileHeight-1) = 128 stored hashes of level l - l%TileHeight
// under it, and all the nodes of a proof that share a stored level fall in
// one or two tiles of 256 stored hashes, so an inclusion or consistency
// proof in a log of a million entries costs a handful of reads and a few
// hundred hashes, whatever the size. This is the scheme of the tiled logs
// of the Go checksum database and Tessera, with the tiles kept as rows.
//
// # Checkpoints
//
// A checkpoint is a C2SP tlog-checkpoint, signed as a C2SP signed note with
// an Ed25519 key whose name is the log's origin (for example
// "coffre.example.org/audit"):
//
//	coffre.example.org/audit
//	1048576
//	<base64 of the root hash>
//
//	— coffre.example.org/audit <base64 of key hash and signature>
//
// GenerateKey makes the key pair in the note formats; Signer.Sign signs a
// size and root; Verifier.Open checks the signature before anything in the
// note is trusted, and the origin.
//
// # Export
//
// An export is UTF-8 JSON Lines: one JSON object per line, each line,
// the last included, ending in a newline. It is written in one canonical
// form only (keys in the order below, no white space, strings escaped only
// for '"', '\', newline (\n), carriage return (\r), tab (\t) and other
// control characters (\u00xx, lower-case hex), base64 standard and padded),
// and Verify accepts only that form: reformatting an export breaks it. The
// first line is the header, then entry lines in sequence order, each
// checkpoint line right after the entry that completes its size; the last
// line is a checkpoint covering every entry:
//
//	{"coffre_audit_export":1,"origin":"coffre.example.org/audit","tenant":"mairie","size":2}
//	{"seq":0,"time":"2025-03-01T09:30:00.123456Z","tenant":"mairie","actor_id":"tok_1","actor_role":"agent","action":"contact.read","subject":"c_9","fields":["email","phone"],"purpose":"casework","outcome":"ok","request_id":"r1","decision_id":"d1","policy_revision":"p1","sealed":"","leaf":"<base64 leaf hash>"}
//	{"seq":1,"leaf":"<base64 leaf hash>"}
//	{"checkpoint":"coffre.example.org/audit\n2\n<base64 root>\n\n— coffre.example.org/audit <base64>\n"}
//
// The time is RFC 3339 in UTC with six fractional digits. "leaf" is the
// leaf hash the store kept for the entry, not one recomputed at export
// time. The second entry line is redacted to its sequence number and leaf
// hash: only an export whose header names a tenant may hold redacted lines
// (the other tenants' entries), and its full entry lines must all be that
// tenant's; a full export, whose header tenant is empty, holds none.
//
// # Verification
//
// Verify reads an export once, in constant memory, and checks that: the
// header names the key's origin; sequence numbers run 0, 1, 2, ... (a
// deleted, moved or repeated entry is named); every entry re-encodes to the
// leaf hash stored with it (a changed entry is named); every checkpoint
// carries a valid signature and its root equals the root recomputed over
// the entries before it (entries whose stored hashes were changed with them
// are caught by the first checkpoint after them, and named as the range
// since the previous checkpoint); the last checkpoint covers every entry
// and the header's size (a truncated tail is named); and, against what the
// verifier kept from before, that the log extends an old checkpoint (a
// shorter or rewritten log is caught) or a previous export (a history
// rewritten and re-signed with the log's own key is named at its first
// differing entry).
//
// Verify cannot detect what an export never held: a log cut back to an
// earlier checkpoint, header and checkpoints included, verifies as that
// shorter log unless an old checkpoint or previous export is supplied. Keep
// the last checkpoint of each verification (Summary.Checkpoint) for the
// next.
package audit
