# Coffre's default policy: the decision the vault asks for before it
# serves, changes, segments or exports personal data.
#
# The entry point is data.coffre.authz.decision:
#
#	{"allow": bool, "reason": string, "conceal": bool,
#	 "fields": {field name: "clear" | "masked" | "hidden"}}
#
# Everything is denied unless a rule allows it. The decision is assembled
# in this file from three steps, in order:
#
#  1. the gates (this file): rules that hold for every role (tenant
#     isolation, purpose limitation). The first one the input breaks
#     denies, whatever the roles.
#  2. the roles (roles.rego): each of the principal's roles gives one
#     verdict; the action is allowed when any role allows it.
#  3. the field obligations (fields.rego) of an allowed decision.
#
# Every helper yields exactly one value (else chains in a fixed order,
# definitions that never overlap), so exactly one decision comes out of any
# input, and a denial carries exactly one reason. Reasons are short English sentences that
# never contain personal data: they only name roles, actions, purposes and
# schema attributes, which are configuration, not data about a person.
package coffre.authz

# A denial reached by no rule below. It is only a safety net: the rules
# below always produce a decision for any input.
default decision := {"allow": false, "reason": "no rule allows this", "conceal": false, "fields": {}}

decision := {
	"allow": true,
	"reason": allowing_verdict.reason,
	"conceal": false,
	"fields": fields,
} if {
	allow
} else := {
	"allow": false,
	"reason": denial.reason,
	"conceal": denial.conceal,
	"fields": {},
}

# allow holds when no gate is broken and at least one of the principal's
# roles allows the action (a principal normally has one role).
allow if {
	not gate
	count(allowing_roles) > 0
}

# allowing_roles lists, in the token's order, the roles that allow the
# action; the first one gives the reason of the decision.
allowing_roles := [r | some r in roles; role_allows(r)]

allowing_verdict := role_verdict(allowing_roles[0])

# denial is the one reason of a denial: a broken gate first; otherwise the
# first role's refusal that does not conceal (one of the principal's roles
# has the record within reach, so there is nothing to hide), else the first
# one that does.
denial := gate if {
	gate
} else := d if {
	open := [v | some v in role_denials; v.conceal == false]
	d := open[0]
} else := d if {
	d := role_denials[0]
} else := deny("the token has no role", false)

role_denials := [v | some r in roles; v := role_verdict(r); v.allow == false]

# ---------------------------------------------------------------------
# Gates: rules every role is subject to, in the order they are checked.
# ---------------------------------------------------------------------

gate := deny(tenant_reason, true) if {
	# Tenants never see each other's data, nor learn that a record of
	# another tenant exists: the denial is concealed (404).
	not same_tenant
} else := deny("the request names no action", false) if {
	action == ""
} else := deny("the declared purpose is not one of the schema's purposes", false) if {
	# Purpose limitation (GDPR Art. 5(1)(b)): personal data is processed
	# only for the purposes the tenant declared. The purpose is not
	# repeated in the reason: an undeclared purpose is free text.
	not purpose_known
} else := deny(sprintf("the token is not issued for purpose %s", [purpose]), false) if {
	not purpose_ok
}

# same_tenant holds when the principal and the resource belong to the same,
# named tenant. A missing tenant on either side never matches.
same_tenant if {
	t := input.principal.tenant
	is_string(t)
	t != ""
	input.resource.tenant == t
}

tenant_reason := "the record is in another tenant" if {
	input.resource.kind == "contact"
} else := "the resource is in another tenant"

# purpose_known holds when no purpose is declared, or when the declared
# one is among the schema's purposes (data.schema.purposes).
purpose_known if purpose == ""

purpose_known if purpose in data.schema.purposes

# purpose_ok holds unless the token is limited to some purposes and the
# declared purpose is not one of them: a token issued for the newsletter
# cannot be used for canvassing. A token with no purposes ([]) may declare
# any purpose; whether a purpose must be declared at all is up to the role.
purpose_ok if count(token_purposes) == 0

purpose_ok if purpose == ""

purpose_ok if purpose in token_purposes

# ---------------------------------------------------------------------
# Input, normalised: a missing or malformed member reads as empty, never
# as "anything".
# ---------------------------------------------------------------------

# action is the action attempted, e.g. "contact.read".
action := a if {
	a := input.action
	is_string(a)
} else := ""

# purpose is the purpose the caller declared (Coffre-Purpose header), ""
# when none is declared.
purpose := p if {
	p := input.purpose
	is_string(p)
} else := ""

# roles is the principal's list of roles.
roles := r if {
	r := input.principal.roles
	is_array(r)
} else := []

# token_purposes lists the purposes the token is issued for; [] means any.
token_purposes := p if {
	p := input.principal.purposes
	is_array(p)
} else := []

# schema_fields is data.schema.fields: field name -> field description.
schema_fields := f if {
	f := data.schema.fields
	is_object(f)
} else := {}

# ---------------------------------------------------------------------
# Verdict constructors, shared by the role rules.
# ---------------------------------------------------------------------

deny(reason, conceal) := {"allow": false, "reason": reason, "conceal": conceal}

permit(reason) := {"allow": true, "reason": reason, "conceal": false}

# permitted is the verdict of a role that may do the action, with the
# purpose it is done for when one is declared.
permitted(role) := permit(sprintf("the role %s may %s for purpose %s", [role, action, purpose])) if {
	purpose != ""
} else := permit(sprintf("the role %s may %s", [role, action]))

not_permitted(role) := deny(sprintf("the role %s may not %s", [role, action]), false)
