package vault

import (
	"time"
)

// Contact is a decrypted contact record. It exists only inside the process;
// what leaves it is a ContactView shaped by the policy's field obligations,
// and what reaches a store is a Record holding sealed fields.
type Contact struct {
	ID       string
	TenantID string
	// Fields holds normalised values: a string for scalar fields, a
	// []string for list fields. Absent fields are not in the map.
	Fields    map[string]any
	Consents  map[string]Consent
	Flags     Flags
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Consent is one consent of a person (newsletter, sms, events, …).
type Consent struct {
	Granted bool      `json:"granted"`
	At      time.Time `json:"at"`
	// Source says where the consent was collected ("web form", "paper").
	Source string `json:"source,omitempty"`
	// Proof is evidence of the consent (form id, signed paper reference).
	// It may identify the person, so it is sealed like a field.
	Proof string `json:"proof,omitempty"`
}

// Flags are the GDPR state flags of a record that policy decisions read.
type Flags struct {
	// Restricted is set while processing is restricted (GDPR Art. 18).
	Restricted bool `json:"restricted"`
	// Objected is set when the person objected to processing (Art. 21).
	Objected bool `json:"objected"`
}

// ContactInput is the body of a create: field values as decoded from JSON
// (strings, arrays of strings) and consents.
type ContactInput struct {
	Fields   map[string]any          `json:"fields"`
	Consents map[string]ConsentInput `json:"consents"`
}

// ContactPatch is the body of an update. A field set to nil is removed; a
// field absent from the map is left unchanged. Consents given replace the
// current state of that consent.
type ContactPatch struct {
	Fields   map[string]any          `json:"fields"`
	Consents map[string]ConsentInput `json:"consents"`
}

// ConsentInput is a consent as sent by a client. At defaults to the time of
// the request.
type ConsentInput struct {
	Granted *bool      `json:"granted"`
	At      *time.Time `json:"at"`
	Source  string     `json:"source"`
	Proof   string     `json:"proof"`
}

// ContactView is a contact as returned to a caller after the policy's field
// obligations were applied: a clear field holds its value, a masked field
// its masked string, a hidden field is absent.
type ContactView struct {
	ID        string                 `json:"id"`
	Fields    map[string]any         `json:"fields"`
	Consents  map[string]ConsentView `json:"consents"`
	CreatedAt time.Time              `json:"created_at"`
	UpdatedAt time.Time              `json:"updated_at"`
}

// ConsentView is a consent as returned to a caller.
type ConsentView struct {
	Granted bool      `json:"granted"`
	At      time.Time `json:"at"`
	Source  string    `json:"source,omitempty"`
}

// SearchQuery is a blind-index lookup: exactly one of the fields is set.
type SearchQuery struct {
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Record is a contact as a store holds it: no plaintext personal data.
// Every personal value is sealed under the subject's data key, whose
// wrapped form travels with the record; lookups and segmentation work on
// keyed tokens.
type Record struct {
	TenantID string
	ID       string
	// WrappedKey is the subject's data key, wrapped under the tenant's
	// key-encryption key. Deleting it shreds every sealed value.
	WrappedKey []byte
	// Sealed maps a field name (or "consent.<name>" for consent evidence)
	// to its AEAD ciphertext.
	Sealed map[string][]byte
	// Consents holds the consent state policy and segmentation need:
	// granted and when, nothing identifying.
	Consents map[string]ConsentState
	Flags    Flags
	// Lookups are the blind indexes of lookup fields.
	Lookups []Lookup
	// Tokens are the keyed segmentation tokens of segmentable fields.
	Tokens [][]byte
	// Suppression holds the suppression tokens of the record's lookup
	// values (see Suppression), for CreateContact only, which fails with
	// the error of SuppressedError and writes nothing when the tenant's
	// suppression list holds one of them: the check and the insert are
	// one transaction, so an erasure cannot slip between them. Stores do
	// not keep it.
	Suppression []Lookup
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Version counts updates; UpdateContact fails with ECONFLICT when the
	// stored version is not Version-1.
	Version int64
}

// ConsentState is the non-identifying part of a consent that a store keeps
// in the clear.
type ConsentState struct {
	Granted bool      `json:"granted"`
	At      time.Time `json:"at"`
}

// Lookup is one blind index of a record: HMAC of the normalised value of a
// lookup field. When Unique is set the store refuses a second record of the
// tenant with the same field and token (ECONFLICT).
type Lookup struct {
	Field  string
	Token  []byte
	Unique bool
}
