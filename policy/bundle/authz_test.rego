# Tests of the decision's assembly and of the gates every role is subject
# to: tenant isolation, purpose limitation, exactly one decision.
package coffre.authz_test

import data.coffre.authz

test_schema_is_loaded if {
	count(data.schema.fields) == 11
	data.schema.fields.district.scope == "districts"
	data.schema.fields.email.scope == ""
	"canvassing" in data.schema.purposes
}

# --- Tenant isolation -------------------------------------------------

test_other_tenant_concealed_for_every_role if {
	every role in ["admin", "dpo", "agent", "volunteer", "citizen"] {
		d := authz.decision with input as on(ask(role, "contact.read", "casework"), {"tenant": "autre", "self": true})
		concealed(d)
		d.reason == "the record is in another tenant"
	}
}

test_other_tenant_concealed_for_a_volunteer_in_scope if {
	d := authz.decision with input as on(ask_volunteer("contact.read", "newsletter"), {"tenant": "autre"})
	concealed(d)
	d.reason == "the record is in another tenant"
}

test_other_tenant_non_contact_resource if {
	d := authz.decision with input as object.union(ask_about("admin", "token.create", "token"), {"resource": {"tenant": "autre"}})
	concealed(d)
	d.reason == "the resource is in another tenant"
}

test_missing_tenant_never_matches if {
	q := ask("agent", "contact.read", "casework")
	d1 := authz.decision with input as json.remove(q, ["principal/tenant"])
	concealed(d1)
	d2 := authz.decision with input as json.remove(q, ["resource/tenant"])
	concealed(d2)
	d3 := authz.decision with input as object.union(q, {"principal": {"tenant": ""}, "resource": {"tenant": ""}})
	concealed(d3)
}

# The tenant gate comes before every other reason.
test_tenant_before_purpose if {
	q := object.union(ask("agent", "contact.read", "newsletter"), {"principal": {"purposes": ["casework"]}})
	d := authz.decision with input as on(q, {"tenant": "autre"})
	d.reason == "the record is in another tenant"
}

# --- Purposes ----------------------------------------------------------

test_purpose_not_in_token if {
	q := object.union(ask("agent", "contact.read", "newsletter"), {"principal": {"purposes": ["casework"]}})
	d := authz.decision with input as q
	denied_openly(d)
	d.reason == "the token is not issued for purpose newsletter"
}

test_purpose_in_token if {
	q := object.union(ask("agent", "contact.read", "casework"), {"principal": {"purposes": ["casework", "events"]}})
	d := authz.decision with input as q
	allowed(d)
}

test_token_without_purposes_allows_any_declared_purpose if {
	every p in ["casework", "newsletter", "canvassing", "events", "dsr", "statistics"] {
		d := authz.decision with input as ask_consented("agent", "contact.read", p)
		allowed(d)
	}
}

test_token_purposes_do_not_apply_without_a_declared_purpose if {
	q := object.union(ask_about("admin", "audit.read", "audit"), {"principal": {"purposes": ["casework"]}})
	d := authz.decision with input as q
	allowed(d)
}

test_token_purposes_limit_a_volunteer_too if {
	q := object.union(ask_volunteer("contact.read", "canvassing"), {"principal": {"purposes": ["newsletter"]}})
	d := authz.decision with input as q
	denied_openly(d)
	d.reason == "the token is not issued for purpose canvassing"
}

test_purpose_not_in_schema if {
	d := authz.decision with input as ask("agent", "contact.read", "jean@example.org")
	denied_openly(d)
	d.reason == "the declared purpose is not one of the schema's purposes"
	not contains(d.reason, "jean")
}

test_no_action if {
	d := authz.decision with input as json.remove(ask("agent", "contact.read", "casework"), ["action"])
	denied_openly(d)
	d.reason == "the request names no action"
}

# --- Roles ---------------------------------------------------------------

test_no_role if {
	d1 := authz.decision with input as object.union(ask("agent", "contact.read", "casework"), {"principal": {"roles": []}})
	denied_openly(d1)
	d1.reason == "the token has no role"
	d2 := authz.decision with input as json.remove(ask("agent", "contact.read", "casework"), ["principal/roles"])
	denied_openly(d2)
	d2.reason == "the token has no role"
}

test_unknown_role if {
	every act in ["contact.read", "audit.read", "token.create", "request.create"] {
		d := authz.decision with input as ask("superuser", act, "casework")
		denied_openly(d)
		d.reason == "the token's role is not one this policy knows"
	}
}

# Any role that allows is enough; the fields are the most open any
# allowing role gives.
test_two_roles_any_allows if {
	q := object.union(ask("admin", "contact.read", "casework"), {"principal": {"roles": ["admin", "agent"]}})
	d := authz.decision with input as q
	allowed(d)
	d.reason == "the role agent may contact.read for purpose casework"
	d.fields.notes == "clear"
}

test_two_roles_most_open_field if {
	q := object.union(ask_volunteer("contact.read", "canvassing"), {"principal": {"roles": ["volunteer", "agent"]}})
	d := authz.decision with input as q
	allowed(d)
	d.fields.phone == "clear"
	d.fields.support_level == "clear"
	d.fields.notes == "hidden"
}

# When every role refuses, a refusal that does not conceal wins.
test_two_roles_open_denial_first if {
	q := object.union(ask("citizen", "contact.read", "casework"), {"principal": {"roles": ["citizen", "admin"]}})
	d := authz.decision with input as q
	denied_openly(d)
	d.reason == "the role admin may not contact.read"
}

test_two_roles_concealed_when_all_conceal if {
	q := object.union(ask_volunteer("contact.read", "events"), {"principal": {"roles": ["volunteer", "citizen"]}})
	d := authz.decision with input as q
	concealed(d)
	d.reason == "the record has no consent for purpose events"
}

# --- Exactly one decision ------------------------------------------------

sample_inputs := [
	{},
	{"principal": null, "resource": null},
	{"principal": {"roles": "agent"}, "action": 3, "purpose": ["x"]},
	ask("agent", "contact.read", "casework"),
	ask("agent", "contact.export", "newsletter"),
	ask("admin", "contact.read", ""),
	ask("dpo", "request.create", "dsr"),
	on(ask("dpo", "contact.read", "dsr"), {"request": open_request, "restricted": true}),
	ask_volunteer("contact.read", "canvassing"),
	ask_volunteer("contact.update", "canvassing"),
	on(ask("citizen", "contact.read", ""), {"self": true}),
	object.union(ask("agent", "contact.read", "casework"), {"principal": {"roles": ["agent", "volunteer", "dpo", "citizen", "admin", "x"]}}),
	object.union(ask("agent", "contact.read", "casework"), {"principal": {"roles": ["agent", "agent"]}}),
]

test_exactly_one_well_formed_decision if {
	every q in sample_inputs {
		ds := [d | d := authz.decision] with input as q
		count(ds) == 1
		well_formed(ds[0])
	}
}

test_not_an_object_input_denied if {
	d := authz.decision with input as "contact.read"
	denied(d)
}

test_allowed_read_lists_every_field if {
	d := authz.decision with input as ask("agent", "contact.read", "casework")
	object.keys(d.fields) == object.keys(data.schema.fields)
}

test_fields_only_for_actions_that_serve_them if {
	every act in ["contact.read", "contact.create", "contact.update", "contact.search", "contact.segment"] {
		d := authz.decision with input as ask("agent", act, "casework")
		allowed(d)
		count(d.fields) == 11
	}
	every act in ["contact.erase"] {
		d := authz.decision with input as ask("agent", act, "casework")
		allowed(d)
		d.fields == {}
	}
	d := authz.decision with input as ask("agent", "contact.export", "newsletter")
	allowed(d)
	count(d.fields) == 11
}

# --- Malformed members read as empty, never as "anything" ---------------------

test_non_string_purpose_is_no_purpose if {
	d := authz.decision with input as object.union(ask("agent", "contact.read", ""), {"purpose": ["casework"]})
	denied_openly(d)
	d.reason == "declare a purpose (Coffre-Purpose header)"
}

test_null_token_purposes_allow_any_purpose if {
	d := authz.decision with input as object.union(ask_consented("agent", "contact.read", "events"), {"principal": {"purposes": null}})
	allowed(d)
}

test_without_a_schema_no_purpose_is_known if {
	d1 := authz.decision with input as ask("agent", "contact.read", "casework") with data.schema as {}
	denied_openly(d1)
	d1.reason == "the declared purpose is not one of the schema's purposes"
	d2 := authz.decision with input as on(ask("citizen", "contact.read", ""), {"self": true}) with data.schema as {}
	allowed(d2)
	d2.fields == {}
}
