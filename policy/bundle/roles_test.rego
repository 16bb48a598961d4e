# Tests of each shipped role's rules, both branches of each.
package coffre.authz_test

import data.coffre.authz

contact_actions := [
	"contact.create", "contact.read", "contact.search", "contact.update",
	"contact.erase", "contact.segment", "contact.export",
]

# --- admin -----------------------------------------------------------------

test_admin_allowed_actions if {
	every kind_act in [["token", "token.create"], ["policy", "policy.read"], ["audit", "audit.read"]] {
		d := authz.decision with input as ask_about("admin", kind_act[1], kind_act[0])
		allowed(d)
		d.fields == {}
		d.reason == sprintf("the role admin may %s", [kind_act[1]])
	}
}

test_admin_never_touches_contacts if {
	every act in contact_actions {
		d := authz.decision with input as ask("admin", act, "casework")
		denied_openly(d)
		d.reason == sprintf("the role admin may not %s", [act])
	}
}

test_admin_denied_other_actions if {
	every act in ["audit.export", "request.create", "request.complete"] {
		d := authz.decision with input as ask_about("admin", act, "audit")
		denied_openly(d)
		d.reason == sprintf("the role admin may not %s", [act])
	}
}

# --- dpo -------------------------------------------------------------------

test_dpo_allowed_actions if {
	every act in ["audit.read", "audit.export", "policy.read", "request.create", "request.read", "request.complete", "request.extend", "request.reject", "request.export"] {
		d := authz.decision with input as ask_about("dpo", act, "request")
		allowed(d)
		d.fields == {}
	}
}

test_dpo_denied_token_create if {
	d := authz.decision with input as ask_about("dpo", "token.create", "token")
	denied_openly(d)
	d.reason == "the role dpo may not token.create"
}

test_dpo_reads_inside_a_request if {
	every state in ["verified", "in_progress"] {
		d := authz.decision with input as on(ask("dpo", "contact.read", "dsr"), {"request": object.union(open_request, {"state": state})})
		allowed(d)
		all_fields(d, "clear")
		d.reason == "a DPO reads the record inside a data-subject request"
	}
}

test_dpo_reads_inside_a_request_without_purpose if {
	d := authz.decision with input as on(ask("dpo", "contact.read", ""), {"request": open_request})
	allowed(d)
	all_fields(d, "clear")
}

test_dpo_reads_without_request_denied if {
	d := authz.decision with input as ask("dpo", "contact.read", "dsr")
	denied_openly(d)
	d.reason == "a DPO reads a record only inside a data-subject request"
}

test_dpo_reads_request_in_wrong_state_denied if {
	every state in ["received", "completed", "rejected", "", "VERIFIED"] {
		d := authz.decision with input as on(ask("dpo", "contact.read", "dsr"), {"request": object.union(open_request, {"state": state})})
		denied_openly(d)
		d.reason == "a DPO reads a record only inside a data-subject request"
	}
}

test_dpo_reads_request_about_someone_else_denied if {
	d1 := authz.decision with input as on(ask("dpo", "contact.read", "dsr"), {"request": object.union(open_request, {"subject": false})})
	denied_openly(d1)
	d2 := authz.decision with input as on(ask("dpo", "contact.read", "dsr"), {"request": json.remove(open_request, ["subject"])})
	denied_openly(d2)
}

test_dpo_reads_restricted_record_inside_a_request if {
	d := authz.decision with input as on(ask("dpo", "contact.read", "dsr"), {"request": open_request, "restricted": true})
	allowed(d)
	all_fields(d, "clear")
}

test_dpo_restricted_record_without_request_denied if {
	d := authz.decision with input as on(ask("dpo", "contact.read", "dsr"), {"restricted": true})
	denied_openly(d)
	d.reason == "a DPO reads a record only inside a data-subject request"
}

test_dpo_erases_inside_an_erasure_request if {
	erasure := object.union(open_request, {"type": "erasure"})
	d1 := authz.decision with input as on(ask("dpo", "contact.erase", "dsr"), {"request": erasure})
	allowed(d1)
	d1.fields == {}

	# Even a restricted record: the person asked for it.
	d2 := authz.decision with input as on(ask("dpo", "contact.erase", "dsr"), {"request": erasure, "restricted": true})
	allowed(d2)
}

test_dpo_erases_only_for_an_erasure_request if {
	d1 := authz.decision with input as on(ask("dpo", "contact.erase", "dsr"), {"request": open_request})
	denied_openly(d1)
	d1.reason == "a DPO erases a record only inside an erasure request"
	d2 := authz.decision with input as ask("dpo", "contact.erase", "dsr")
	denied_openly(d2)
	d3 := authz.decision with input as on(ask("dpo", "contact.erase", "dsr"), {"request": {"type": "erasure", "state": "completed", "subject": true}})
	denied_openly(d3)
}

test_dpo_changes_inside_a_request_that_asks_for_it if {
	every t in ["rectification", "restriction", "objection", "consent_withdrawal"] {
		d := authz.decision with input as on(ask("dpo", "contact.update", "dsr"), {"request": object.union(open_request, {"type": t})})
		allowed(d)
		all_fields(d, "clear")
	}
	every t in ["access", "portability"] {
		d := authz.decision with input as on(ask("dpo", "contact.update", "dsr"), {"request": object.union(open_request, {"type": t})})
		denied_openly(d)
		d.reason == "a DPO changes a record only inside a rectification, restriction, objection or consent withdrawal request"
	}
}

# An erasure that a legal duty to keep the data prevents (GDPR Art. 17(3))
# restricts the record instead: the DPO may turn the restriction on, and
# nothing else, inside that erasure request.
test_dpo_restricts_inside_an_erasure_request if {
	every state in ["verified", "in_progress"] {
		d := authz.decision with input as restrict("dpo", object.union(open_erasure, {"state": state}))
		allowed(d)
		d.reason == "a DPO restricts the record instead of erasing it, inside an erasure request (GDPR Art. 17(3))"
	}

	# Whatever the record's flags already are.
	every flags in [{"restricted": true}, {"objected": true}] {
		d := authz.decision with input as on(restrict("dpo", open_erasure), flags)
		allowed(d)
	}
}

test_dpo_restricts_only_the_record_the_erasure_request_is_about if {
	d1 := authz.decision with input as restrict("dpo", object.union(open_erasure, {"subject": false}))
	denied_openly(d1)
	d1.reason == "a DPO changes a record only inside a rectification, restriction, objection or consent withdrawal request"
	d2 := authz.decision with input as restrict("dpo", json.remove(open_erasure, ["subject"]))
	denied_openly(d2)

	# Outside any request.
	d3 := authz.decision with input as restrict("dpo", null)
	denied_openly(d3)
}

test_dpo_restricts_only_inside_an_open_erasure_request if {
	every state in ["received", "completed", "rejected"] {
		d := authz.decision with input as restrict("dpo", object.union(open_erasure, {"state": state}))
		denied_openly(d)
		d.reason == "a DPO changes a record only inside a rectification, restriction, objection or consent withdrawal request"
	}
}

test_dpo_changes_nothing_but_the_restriction_inside_an_erasure_request if {
	every set_flags in [null, [], ["objected"], ["objected", "restricted"], ["restricted", "restricted"], "restricted"] {
		d := authz.decision with input as on(ask("dpo", "contact.update", "dsr"), {"request": open_erasure, "set_flags": set_flags})
		denied_openly(d)
		d.reason == "inside an erasure request, a DPO changes nothing but the record's restriction (GDPR Art. 17(3))"
	}

	# An input without the member reads as an update of fields or
	# consents.
	d := authz.decision with input as json.remove(on(ask("dpo", "contact.update", "dsr"), {"request": open_erasure}), ["resource/set_flags"])
	denied_openly(d)
	d.reason == "inside an erasure request, a DPO changes nothing but the record's restriction (GDPR Art. 17(3))"
}

test_only_a_dpo_restricts_inside_an_erasure_request if {
	d1 := authz.decision with input as restrict("agent", open_erasure)
	denied_openly(d1)
	d1.reason == "only a DPO sets a record's restriction or objection, inside the person's request"

	# Whatever the agent's purpose, consents or request.
	every purpose in ["casework", "newsletter", ""] {
		d := authz.decision with input as object.union(restrict("agent", open_erasure), {"purpose": purpose, "resource": {"consents": {"newsletter": true}}})
		denied_openly(d)
		d.reason == "only a DPO sets a record's restriction or objection, inside the person's request"
	}
	d2 := authz.decision with input as restrict("agent", null)
	denied_openly(d2)

	d4 := authz.decision with input as restrict("admin", open_erasure)
	denied_openly(d4)
	d4.reason == "the role admin may not contact.update"
	d5 := authz.decision with input as object.union(restrict("volunteer", open_erasure), {"principal": volunteer, "purpose": "canvassing"})
	denied_openly(d5)
	d5.reason == "the role volunteer may not contact.update"
	d3 := authz.decision with input as on(restrict("citizen", open_erasure), {"self": true})
	denied_openly(d3)
	d3.reason == "the role citizen may not contact.update"

	# A token of an unknown role.
	denied_openly(authz.decision) with input as restrict("mayor", open_erasure)
}

test_dpo_other_contact_actions_denied if {
	every act in ["contact.create", "contact.search", "contact.segment", "contact.export"] {
		d := authz.decision with input as on(ask("dpo", act, "dsr"), {"request": open_request})
		denied_openly(d)
		d.reason == sprintf("the role dpo may not %s", [act])
	}
}

# --- agent -----------------------------------------------------------------

test_agent_contact_actions_with_a_purpose if {
	every act in contact_actions {
		d := authz.decision with input as ask_consented("agent", act, "events")
		allowed(d)
		d.reason == sprintf("the role agent may %s for purpose events", [act])
	}
}

test_agent_must_declare_a_purpose if {
	every act in contact_actions {
		d := authz.decision with input as ask("agent", act, "")
		denied_openly(d)
		d.reason == "declare a purpose (Coffre-Purpose header)"
	}
}

test_agent_export_purposes if {
	every p in ["newsletter", "events"] {
		d := authz.decision with input as ask("agent", "contact.export", p)
		allowed(d)
	}
	every p in ["casework", "canvassing", "dsr", "statistics"] {
		d := authz.decision with input as ask("agent", "contact.export", p)
		denied_openly(d)
		d.reason == sprintf("contacts are not exported for purpose %s", [p])
	}
}

test_agent_denied_administration if {
	every kind_act in [["token", "token.create"], ["audit", "audit.read"], ["audit", "audit.export"], ["policy", "policy.read"], ["request", "request.create"]] {
		d := authz.decision with input as ask_about("agent", kind_act[1], kind_act[0])
		denied_openly(d)
		d.reason == sprintf("the role agent may not %s", [kind_act[1]])
	}
}

test_agent_restricted_record if {
	every act in ["contact.read", "contact.search", "contact.segment", "contact.export"] {
		d := authz.decision with input as on(ask("agent", act, "newsletter"), {"restricted": true})
		denied_openly(d)
		d.reason == "the record is restricted (GDPR Art. 18): only the DPO may read it, inside a request"
	}
	every act in ["contact.update", "contact.erase"] {
		d := authz.decision with input as on(ask("agent", act, "casework"), {"restricted": true})
		denied_openly(d)
		d.reason == "the record is restricted (GDPR Art. 18): it cannot be changed or erased until the restriction is lifted"
	}
}

test_agent_creates_despite_no_record_flags if {
	d := authz.decision with input as on(ask("agent", "contact.create", "casework"), {"restricted": true})
	allowed(d)
}

# An objection (Art. 21) does not stop case work; it stops volunteers.
test_agent_reads_objected_record if {
	d := authz.decision with input as on(ask("agent", "contact.read", "casework"), {"objected": true, "consents": {"newsletter": false}})
	allowed(d)
}

# --- volunteer ---------------------------------------------------------------

test_volunteer_allowed_actions if {
	every act in ["contact.read", "contact.search", "contact.segment"] {
		every p in ["canvassing", "newsletter"] {
			d := authz.decision with input as ask_volunteer(act, p)
			allowed(d)
		}
	}
}

test_volunteer_never_creates_updates_erases_exports if {
	every act in ["contact.create", "contact.update", "contact.erase", "contact.export"] {
		d := authz.decision with input as ask_volunteer(act, "newsletter")
		denied_openly(d)
		d.reason == sprintf("the role volunteer may not %s", [act])
	}
}

test_volunteer_denied_administration if {
	every act in ["token.create", "audit.read", "policy.read", "request.create"] {
		d := authz.decision with input as ask_volunteer(act, "")
		denied_openly(d)
	}
}

test_volunteer_must_declare_a_purpose if {
	d := authz.decision with input as ask_volunteer("contact.search", "")
	denied_openly(d)
	d.reason == "declare a purpose (Coffre-Purpose header)"

	# About one record, no purpose means no relevant consent: concealed,
	# like any record the volunteer may not reach.
	r := authz.decision with input as ask_volunteer("contact.read", "")
	r.allow == false
	r.conceal == true
}

test_volunteer_purposes if {
	every p in ["casework", "dsr", "statistics"] {
		d := authz.decision with input as ask_volunteer("contact.search", p)
		denied_openly(d)
		d.reason == sprintf("the role volunteer may not act for purpose %s", [p])
		r := authz.decision with input as ask_volunteer("contact.read", p)
		r.conceal == true
	}
}

# An update or an erasure of a record outside the volunteer's reach is
# concealed too: no answer tells it from a missing record.
test_volunteer_writes_outside_reach_concealed if {
	out := object.union(contact, {"tokens": {"district": []}})
	every act in ["contact.update", "contact.erase"] {
		d := authz.decision with input as object.union(ask_volunteer(act, "canvassing"), {"resource": out})
		d.allow == false
		d.conceal == true
		inside := authz.decision with input as ask_volunteer(act, "canvassing")
		denied_openly(inside)
	}
}

test_volunteer_in_districts if {
	d := authz.decision with input as ask_volunteer("contact.read", "canvassing")
	allowed(d)
	d.reason == "the role volunteer may contact.read for purpose canvassing"
}

test_volunteer_outside_districts_concealed if {
	every tokens in [{"district": []}, {}, {"district": null}, {"postal_code": ["t3"]}, null] {
		d := authz.decision with input as set(ask_volunteer("contact.read", "canvassing"), "tokens", tokens)
		concealed(d)
		d.reason == "the record is outside your districts"
	}
	d := authz.decision with input as json.remove(ask_volunteer("contact.read", "canvassing"), ["resource/tokens"])
	concealed(d)
}

# A volunteer token without the districts attribute has no tokens to match
# with: the vault's resource.tokens is empty, and nothing is in scope.
test_volunteer_without_districts_sees_nothing if {
	q := object.union(ask("volunteer", "contact.read", "newsletter"), {"resource": {"tokens": {"district": []}}})
	d := authz.decision with input as q
	concealed(d)
}

# With no scoped field in the schema, scope restricts nothing.
test_volunteer_scope_follows_the_schema if {
	q := set(ask_volunteer("contact.read", "canvassing"), "tokens", {})
	d := authz.decision with input as q with data.schema.fields.district.scope as ""
	allowed(d)
}

test_volunteer_consent_per_purpose if {
	# Each purpose: the consents that open a record, and those that do not.
	cases := [
		["newsletter", {"newsletter": true}, true],
		["newsletter", {"sms": true, "events": true}, false],
		["events", {"events": true}, true],
		["events", {"newsletter": true, "sms": true}, false],
		["canvassing", {"newsletter": true}, true],
		["canvassing", {"sms": true}, true],
		["canvassing", {"events": true}, true],
		["canvassing", {}, false],
	]
	every c in cases {
		consents := object.union({"newsletter": false, "sms": false, "events": false}, c[1])
		d := authz.decision with input as set(ask_volunteer("contact.read", c[0]), "consents", consents)
		d.allow == c[2]
		d.conceal != c[2]
	}
}

test_volunteer_consent_withdrawn_concealed if {
	d := authz.decision with input as on(ask_volunteer("contact.read", "newsletter"), {"consents": {"newsletter": false}})
	concealed(d)
	d.reason == "the record has no consent for purpose newsletter"
}

test_volunteer_no_consents_concealed if {
	d1 := authz.decision with input as json.remove(ask_volunteer("contact.read", "newsletter"), ["resource/consents"])
	concealed(d1)
	d2 := authz.decision with input as on(ask_volunteer("contact.read", "newsletter"), {"consents": {"newsletter": "yes"}})
	concealed(d2)
}

test_volunteer_objected_concealed if {
	d := authz.decision with input as on(ask_volunteer("contact.read", "canvassing"), {"objected": true})
	concealed(d)
	d.reason == "the person objected to this processing (GDPR Art. 21)"
}

test_volunteer_restricted_not_concealed if {
	d := authz.decision with input as on(ask_volunteer("contact.read", "canvassing"), {"restricted": true})
	denied_openly(d)
	d.reason == "the record is restricted (GDPR Art. 18): only the DPO may read it, inside a request"
}

# Outside the districts, a restricted record stays concealed.
test_volunteer_restricted_outside_districts_concealed if {
	d := authz.decision with input as on(ask_volunteer("contact.read", "canvassing"), {"restricted": true, "tokens": {"district": []}})
	concealed(d)
	d.reason == "the record is outside your districts"
}

# A search or a segment is asked about no record, as the vault asks it
# (empty tokens and consents); each record found is then asked as a
# contact.read, which the record rules decide.
test_volunteer_search_and_segment_about_no_record if {
	every act in ["contact.search", "contact.segment"] {
		q := set(set(ask_volunteer(act, "newsletter"), "tokens", {}), "consents", {})
		d := authz.decision with input as q
		allowed(d)
	}
}

test_volunteer_search_then_read_each_record if {
	found := [
		[contact, true],
		[object.union(contact, {"tokens": {"district": []}}), false],
		[object.union(contact, {"consents": {"newsletter": false}}), false],
		[object.union(contact, {"objected": true}), false],
	]
	every c in found {
		d := authz.decision with input as on(ask_volunteer("contact.read", "newsletter"), c[0])
		d.allow == c[1]
		d.conceal != c[1]
	}
}

# --- citizen -----------------------------------------------------------------

test_citizen_reads_self if {
	d := authz.decision with input as on(ask("citizen", "contact.read", ""), {"self": true})
	allowed(d)
	all_fields(d, "clear")
	d.reason == "a citizen reads their own record"
}

test_citizen_other_record_concealed if {
	every act in ["contact.read", "contact.update", "contact.erase"] {
		d := authz.decision with input as ask("citizen", act, "")
		concealed(d)
		d.reason == "a citizen sees only their own record"
	}
	d := authz.decision with input as json.remove(ask("citizen", "contact.read", ""), ["resource/self"])
	concealed(d)
}

test_citizen_other_actions_on_self_denied if {
	every act in ["contact.update", "contact.erase", "contact.export", "contact.search"] {
		d := authz.decision with input as on(ask("citizen", act, ""), {"self": true})
		denied_openly(d)
		d.reason == sprintf("the role citizen may not %s", [act])
	}
}

test_citizen_denied_administration if {
	every kind_act in [["token", "token.create"], ["audit", "audit.read"], ["request", "request.create"]] {
		d := authz.decision with input as ask_about("citizen", kind_act[1], kind_act[0])
		denied_openly(d)
	}
}

test_citizen_restricted_self_denied if {
	d := authz.decision with input as on(ask("citizen", "contact.read", ""), {"self": true, "restricted": true})
	denied_openly(d)
	d.reason == "the record is restricted (GDPR Art. 18): only the DPO may read it, inside a request"
}

# --- restriction, across roles -------------------------------------------------

test_restricted_update_and_erase_frozen_for_everyone if {
	every role in ["admin", "dpo", "agent", "volunteer", "citizen"] {
		every act in ["contact.update", "contact.erase"] {
			q := on(ask(role, act, "newsletter"), {"restricted": true, "self": true})
			d := authz.decision with input as object.union(q, {"principal": object.union(volunteer, {"roles": [role]})})
			denied_openly(d)
		}
	}
}

test_restricted_read_only_for_dpo if {
	every role in ["admin", "agent", "volunteer", "citizen"] {
		q := on(ask(role, "contact.read", "newsletter"), {"restricted": true, "self": true, "request": open_request})
		d := authz.decision with input as object.union(q, {"principal": object.union(volunteer, {"roles": [role]})})
		denied_openly(d)
	}
}

test_agent_honours_objection_for_canvassing_and_mailings if {
	objected := object.union(contact, {"objected": true})
	every p in ["canvassing", "newsletter", "events"] {
		d := authz.decision with input as object.union(ask("agent", "contact.read", p), {"resource": objected})
		denied_openly(d)
		d.reason == sprintf("the person objected to processing for %s (GDPR Art. 21)", [p])
	}
	every p in ["casework", "dsr"] {
		d := authz.decision with input as object.union(ask("agent", "contact.read", p), {"resource": objected})
		allowed(d)
	}
}

test_agent_needs_consent_for_mailings if {
	withdrawn := object.union(contact, {"consents": {"newsletter": false, "sms": false, "events": false}})
	d := authz.decision with input as object.union(ask("agent", "contact.read", "newsletter"), {"resource": withdrawn})
	denied_openly(d)
	d.reason == "the person has not consented to newsletter (GDPR Art. 6(1)(a))"
	allowed(authz.decision) with input as ask("agent", "contact.read", "newsletter")
	allowed(authz.decision) with input as object.union(ask("agent", "contact.read", "casework"), {"resource": withdrawn})
	denied_openly(authz.decision) with input as ask("agent", "contact.update", "events")
}
