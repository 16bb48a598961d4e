# The shipped roles. Each role gives one verdict for the input: the first
# of its conditions the input breaks denies, with that condition's reason;
# an input that breaks none is allowed. Conditions on the record itself
# (scope, consent, objection, restriction) are in records.rego.
package coffre.authz

known_roles := {"admin", "dpo", "agent", "volunteer", "citizen"}

# role_allows(r) holds when the role r allows the action.
role_allows(r) if role_verdict(r).allow == true

# A role this policy does not know allows nothing. Its name is not repeated:
# it is whatever the token says.
role_verdict(r) := deny("the token's role is not one this policy knows", false) if {
	not r in known_roles
}

# ---------------------------------------------------------------------
# admin: configuration, tokens, the audit log's metadata. An administrator
# runs the vault; they never handle personal data, least of all in bulk
# (data minimisation, GDPR Art. 5(1)(c) and 25): every contact.* action is
# denied.
# ---------------------------------------------------------------------

admin_actions := {"token.create", "policy.read", "audit.read"}

role_verdict("admin") := permitted("admin") if {
	action in admin_actions
} else := not_permitted("admin")

# ---------------------------------------------------------------------
# dpo: the data protection officer (GDPR Art. 37-39) reads and exports the
# audit log, reads the policy and handles data-subject requests. They see a
# person's record only while answering that person's request, and then in
# full: the answer to an access request holds every field (Art. 15).
# ---------------------------------------------------------------------

dpo_actions := {"audit.read", "audit.export", "policy.read"}

# The request types for which a DPO erases the record (Art. 17).
erasure_request_types := {"erasure"}

role_verdict("dpo") := permitted("dpo") if {
	action in dpo_actions
} else := permitted("dpo") if {
	startswith(action, "request.")
} else := permit("a DPO reads the record inside a data-subject request") if {
	action == "contact.read"
	inside_request
} else := permit("a DPO erases the record inside an erasure request") if {
	action == "contact.erase"
	inside_request
	input.resource.request.type in erasure_request_types
} else := permit("a DPO changes the record inside a request that asks for it") if {
	action == "contact.update"
	inside_request
	input.resource.request.type in update_request_types
} else := permit("a DPO restricts the record instead of erasing it, inside an erasure request (GDPR Art. 17(3))") if {
	action == "contact.update"
	inside_request
	input.resource.request.type in erasure_request_types
	only_restricts
} else := deny("inside an erasure request, a DPO changes nothing but the record's restriction (GDPR Art. 17(3))", false) if {
	action == "contact.update"
	inside_request
	input.resource.request.type in erasure_request_types
} else := deny("a DPO reads a record only inside a data-subject request", false) if {
	action == "contact.read"
} else := deny("a DPO erases a record only inside an erasure request", false) if {
	action == "contact.erase"
} else := deny("a DPO changes a record only inside a rectification, restriction, objection or consent withdrawal request", false) if {
	action == "contact.update"
} else := not_permitted("dpo")

# The request types that change the record: rectification (Art. 16),
# restriction (Art. 18), objection (Art. 21), consent withdrawal (Art. 7(3)).
update_request_types := {"rectification", "restriction", "objection", "consent_withdrawal"}

# only_restricts holds for an update that turns on the record's restriction
# and changes nothing else: resource.set_flags lists the flags an update
# sets when it sets flags alone, and is null for an update of fields or
# consents. An erasure that a legal duty to keep the data prevents (GDPR
# Art. 17(3)) ends with the record restricted instead: kept, and only
# stored (records.rego).
only_restricts if input.resource.set_flags == ["restricted"]

# sets_flags holds for an update of the record's flags alone.
sets_flags if is_array(input.resource.set_flags)

# ---------------------------------------------------------------------
# agent: case work on the tenant's records. Every action names its purpose
# (GDPR Art. 5(1)(b)), which decides the fields served (fields.rego); only
# some purposes justify taking the data out of the vault in bulk.
# ---------------------------------------------------------------------

agent_actions := {
	"contact.create", "contact.read", "contact.search", "contact.update",
	"contact.erase", "contact.segment", "contact.export",
}

# The purposes for which contacts may be exported (mailing, event lists).
export_purposes := {"newsletter", "events"}

role_verdict("agent") := not_permitted("agent") if {
	not action in agent_actions
} else := deny("only a DPO sets a record's restriction or objection, inside the person's request", false) if {
	# An agent changes fields and consents; the flags answer a
	# data-subject request (GDPR Art. 17(3), 18 and 21).
	sets_flags
} else := deny(declare_purpose_reason, false) if {
	purpose == ""
} else := deny(sprintf("contacts are not exported for purpose %s", [purpose]), false) if {
	action == "contact.export"
	not purpose in export_purposes
} else := deny(restricted_reason, false) if {
	restricted_block
} else := deny(sprintf("the person objected to processing for %s (GDPR Art. 21)", [purpose]), false) if {
	action in {"contact.read", "contact.update"}
	input.resource.objected == true
	purpose in objection_purposes
} else := deny(sprintf("the person has not consented to %s (GDPR Art. 6(1)(a))", [purpose]), false) if {
	action in {"contact.read", "contact.update"}
	purpose in consent_purposes
	not has_relevant_consent
} else := permitted("agent")

# Purposes that rest on the person's consent: without it, the record is
# not processed for them (a withdrawn newsletter consent ends the mailing).
consent_purposes := {"newsletter", "events"}

# Purposes an objection (GDPR Art. 21) stops: canvassing and mailings rest
# on legitimate interest or consent; case work and requests go on.
objection_purposes := {"canvassing", "newsletter", "events"}

# ---------------------------------------------------------------------
# volunteer: canvassing, newsletters and events in their own districts,
# only with the people who agreed to it, and with contact details masked.
# A volunteer never creates, changes, erases or exports a record.
# A record outside their reach is concealed: a volunteer must not learn
# that a person is on file in another district, has not consented, or
# objected.
# ---------------------------------------------------------------------

volunteer_actions := {"contact.read", "contact.search", "contact.segment"}

volunteer_purposes := {"canvassing", "newsletter", "events"}

# What lies outside the volunteer's reach is concealed before anything
# else is checked, so that no answer tells such a record from a missing
# one.
role_verdict("volunteer") := deny(out_of_scope_reason, true) if {
	record_described
	not in_scope
} else := deny("the person objected to this processing (GDPR Art. 21)", true) if {
	record_described
	input.resource.objected == true
} else := deny(sprintf("the record has no consent for purpose %s", [purpose]), true) if {
	record_described
	not has_relevant_consent
} else := not_permitted("volunteer") if {
	not action in volunteer_actions
} else := deny(declare_purpose_reason, false) if {
	purpose == ""
} else := deny(sprintf("the role volunteer may not act for purpose %s", [purpose]), false) if {
	not purpose in volunteer_purposes
} else := deny(restricted_reason, false) if {
	restricted_block
} else := permitted("volunteer")

# ---------------------------------------------------------------------
# citizen: a person reads their own record (GDPR Art. 15), nothing else.
# Anyone else's record is concealed.
# ---------------------------------------------------------------------

# The actions on one existing record.
record_actions := {"contact.read", "contact.update", "contact.erase"}

role_verdict("citizen") := deny("a citizen sees only their own record", true) if {
	action in record_actions
	not input.resource.self == true
} else := not_permitted("citizen") if {
	action != "contact.read"
} else := deny(restricted_reason, false) if {
	restricted_block
} else := permit("a citizen reads their own record")

declare_purpose_reason := "declare a purpose (Coffre-Purpose header)"
