# Conditions on the record an action touches. The vault describes a record
# by its flags, consents and segmentation tokens, never by its values, so
# these rules can also run inside a database query over encrypted records.
package coffre.authz

# ---------------------------------------------------------------------
# Restriction of processing (GDPR Art. 18): a restricted record is only
# stored. Nobody reads, searches, segments, exports, changes or erases it;
# the DPO alone reads it, or erases it for an erasure request, while
# handling the person's request (roles.rego: the DPO's rules do not consult
# restricted_block).
# ---------------------------------------------------------------------

# The actions a restriction stops: any processing but storage.
frozen_actions := {
	"contact.read", "contact.search", "contact.segment", "contact.export",
	"contact.update", "contact.erase",
}

restricted_block if {
	input.resource.restricted == true
	action in frozen_actions
}

restricted_reason := "the record is restricted (GDPR Art. 18): it cannot be changed or erased until the restriction is lifted" if {
	action in {"contact.update", "contact.erase"}
} else := "the record is restricted (GDPR Art. 18): only the DPO may read it, inside a request"

# ---------------------------------------------------------------------
# Data-subject requests (GDPR Art. 15-21).
# ---------------------------------------------------------------------

# The states of a request whose identity check passed and that is not
# answered yet: the only ones in which the DPO works on the record.
request_open_states := {"verified", "in_progress"}

# inside_request holds when the operation serves an open data-subject
# request about this very record.
inside_request if {
	req := input.resource.request
	is_object(req)
	req.subject == true
	req.state in request_open_states
}

# ---------------------------------------------------------------------
# Scope: a volunteer works in their own districts only.
# ---------------------------------------------------------------------

# record_described holds when the question is about one existing record,
# which the resource describes (tokens, consents, flags): a read, an update
# or an erasure. A search or a segment is asked once, about no record; the
# vault then asks contact.read for every record it would return, and
# leaves out those denied.
record_described if action in record_actions

# scoped_fields maps each field whose schema entry names a scope attribute
# (e.g. district -> "districts") to that attribute.
scoped_fields := {name: f.scope |
	some name, f in schema_fields
	is_string(f.scope)
	f.scope != ""
}

# in_scope holds when, for every scoped field, the record has a token equal
# to one of the principal's (resource.tokens[field] is not empty). It
# compares tokens, never names. A principal without the attribute has no
# tokens to match, so no record is in their scope.
in_scope if {
	every name, _ in scoped_fields {
		in_scope_of(name)
	}
}

in_scope_of(name) if {
	toks := input.resource.tokens[name]
	is_array(toks)
	count(toks) > 0
}

out_of_scope_reason := sprintf("the record is outside your %s", [concat(" and ", sort(missing))]) if {
	missing := {a | some name, a in scoped_fields; not in_scope_of(name)}
	count(missing) > 0
} else := "the record is outside your scope"

# ---------------------------------------------------------------------
# Consent (GDPR Art. 6(1)(a) and 7): a volunteer only reaches people who
# agreed to be contacted for the purpose at hand.
# ---------------------------------------------------------------------

# The consents that make a record reachable for each volunteer purpose;
# any one of them is enough.
purpose_consents := {
	"newsletter": {"newsletter"},
	"events": {"events"},
	"canvassing": {"newsletter", "sms", "events"},
}

# has_relevant_consent holds when the record has one of the consents the
# declared purpose needs, granted and not withdrawn.
has_relevant_consent if {
	some c in purpose_consents[purpose]
	input.resource.consents[c] == true
}
