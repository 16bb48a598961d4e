// Package policy is Coffre's authorisation engine: Open Policy Agent,
// embedded as a library, answers every question the vault asks before it
// serves, changes, segments or exports personal data.
//
// # Bundle
//
// A policy bundle is a directory of Rego files (package coffre.authz and
// its helpers) and their tests (*_test.rego). The default bundle is
// embedded in the binary (package policy/bundle); serve --policy-dir names
// another. The engine compiles the bundle at start-up, where a broken file
// stops the server with its file, line and message, and again on SIGHUP or
// when a file changes: the new policy replaces the old one atomically, and
// one that fails to compile is refused while the old one keeps serving.
// The revision is the SHA-256 of the bundle's files and of the field schema
// the policy sees, so a decision can always be traced to the exact policy
// that made it.
//
// # Data
//
// data.schema is the tenant's field schema: data.schema.purposes lists the
// purposes; data.schema.fields maps each field name to
//
//	{"category": "contact", "sensitivity": "normal" | "special",
//	 "purposes": ["casework", ...], "segment": "" | "exact" | "year",
//	 "scope": "" | "districts", "type": "email", "list": false}
//
// and data.schema.consents lists the consents.
//
// # Input
//
// Every question is one input document. It never holds a decrypted value:
//
//	{
//	  "principal": {
//	    "id": "<token id>", "tenant": "mairie", "roles": ["volunteer"],
//	    "purposes": ["canvassing"],            // [] means any purpose
//	    "attributes": {"districts": ["d3", "d7"]},
//	    "scope": {"district": ["<hex token>", ...]}
//	  },
//	  "action": "contact.read",
//	  "purpose": "canvassing",                   // "" when none is declared
//	  "resource": {
//	    "kind": "contact",                       // contact, token, audit, policy, request
//	    "tenant": "mairie",
//	    "self": false,                           // the principal's own record
//	    "consents": {"newsletter": true},        // the consents on record
//	    "restricted": false, "objected": false,  // GDPR Art. 18 and 21
//	    "tokens": {"district": ["<hex token>"]},
//	    "request": null,                         // or {"id", "type", "state", "subject"}
//	    "set_flags": null                        // or ["restricted"]: see below
//	  }
//	}
//
// resource.set_flags is null but for a contact.update that does nothing
// but turn on some of the record's flags ("restricted", "objected"), done
// inside a data-subject request: it then lists those flags. It names
// flags, never a value, and lets a rule allow a flag alone (restricting a
// record kept under a legal duty, GDPR Art. 17(3)) and no other change.
//
// principal.scope holds, for each field whose schema entry names a scope
// attribute, the segmentation tokens of the principal's values of that
// attribute. resource.tokens holds, for the same fields, those of the
// record's tokens that equal one of the principal's: a non-empty list
// means the record is inside the principal's scope. A rule that limits a
// principal to "their districts" compares tokens, never names, which is
// what lets the same rule run inside a database query over encrypted
// records.
//
// # Output
//
// data.coffre.authz.decision is
//
//	{"allow": true, "reason": "...", "conceal": false,
//	 "fields": {"email": "masked", "notes": "hidden", ...}}
//
// A field missing from fields is hidden. conceal makes a denial answer 404
// instead of 403, for what lies outside the principal's reach. An
// undefined decision, a malformed one or an evaluation error denies.
//
// # Caching
//
// Evaluating a decision costs about 100 µs; the inputs that vary are few.
// Each loaded policy keeps its own cache of decisions keyed by the
// canonical encoding of the whole input, so a cached decision is only ever
// served for exactly the input that produced it, under exactly the policy
// that produced it: a reload starts an empty cache, and the principal's id
// is part of every key. The decision id is derived from the revision and
// the input: the same question under the same policy has the same id.
package policy
