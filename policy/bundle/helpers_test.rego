# Inputs shared by the tests. The schema is the default one (data.schema,
# loaded by the test runner); a volunteer's district token is "t3".
package coffre.authz_test

# A contact of tenant mairie in district t3, who consented to the
# newsletter only.
contact := {
	"kind": "contact",
	"tenant": "mairie",
	"self": false,
	"consents": {"newsletter": true, "sms": false, "events": false},
	"restricted": false,
	"objected": false,
	"tokens": {"district": ["t3"]},
	"request": null,
	"set_flags": null,
}

principal(role) := {
	"id": "tok-1",
	"tenant": "mairie",
	"roles": [role],
	"purposes": [],
	"attributes": {},
	"scope": {},
}

volunteer := object.union(principal("volunteer"), {
	"attributes": {"districts": ["d3"]},
	"scope": {"district": ["t3"]},
})

# ask is the question the role asks about the contact above.
ask(role, act, purpose) := {
	"principal": principal(role),
	"action": act,
	"purpose": purpose,
	"resource": contact,
}

ask_volunteer(act, purpose) := object.union(ask("volunteer", act, purpose), {"principal": volunteer})

# on(q, patch) changes the resource of the question q.
on(q, patch) := object.union(q, {"resource": patch})

# resource(kind) is a non-contact resource of tenant mairie.
resource(kind) := {"kind": kind, "tenant": "mairie"}

ask_about(role, act, kind) := {
	"principal": principal(role),
	"action": act,
	"purpose": "",
	"resource": resource(kind),
}

# An open access request about the contact.
open_request := {"id": "r-1", "type": "access", "state": "verified", "subject": true}

# An open erasure request about the contact.
open_erasure := object.union(open_request, {"type": "erasure"})

# restrict(role, request) is the update that turns on the contact's
# restriction alone, inside request.
restrict(role, request) := on(ask(role, "contact.update", "dsr"), {"request": request, "set_flags": ["restricted"]})

# well_formed holds when d has exactly the shape of a decision.
well_formed(d) if {
	object.keys(d) == {"allow", "reason", "conceal", "fields"}
	is_boolean(d.allow)
	is_string(d.reason)
	d.reason != ""
	is_boolean(d.conceal)
	is_object(d.fields)
}

denied(d) if {
	well_formed(d)
	d.allow == false
	d.fields == {}
}

# denied_openly is a denial answered 403: the resource is within reach.
denied_openly(d) if {
	denied(d)
	d.conceal == false
}

# concealed is a denial answered 404: the resource is out of reach.
concealed(d) if {
	denied(d)
	d.conceal == true
}

allowed(d) if {
	well_formed(d)
	d.allow == true
	d.conceal == false
}

# all_fields(d, o) holds when every schema field is listed with o.
all_fields(d, o) if {
	object.keys(d.fields) == object.keys(data.schema.fields)
	every _, v in d.fields {
		v == o
	}
}

# set(q, key, value) replaces the resource member key of the question q
# (on merges objects; set replaces them).
set(q, key, value) := json.patch(q, [{"op": "add", "path": concat("/", ["", "resource", key]), "value": value}])

# The same contact with every consent granted: for rules about purposes,
# apart from consent.
consented := object.union(contact, {"consents": {"newsletter": true, "sms": true, "events": true}})

ask_consented(role, act, purpose) := object.union(ask(role, act, purpose), {"resource": consented})
