// Package vault is the domain of Coffre: contacts and their field schema,
// principals and API tokens, authorisation decisions, and the Service that
// applies normalisation, per-field encryption, policy and audit around every
// operation.
//
// The package declares the interfaces it consumes (Store, KeyRing,
// Authorizer); implementations live in sub-packages named after their
// dependency (vault/postgres, vault/sqlite, vault/keyring) and in policy/.
// Only vault/keyring ever sees a raw key; stores only ever see sealed bytes,
// blind indexes and tokens.
package vault
