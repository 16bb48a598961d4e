# Tests of the field obligations against the default schema.
package coffre.authz_test

import data.coffre.authz

# obligations(q) is the fields of the allowed decision for q.
obligations(q) := d.fields if {
	d := authz.decision with input as q
	allowed(d)
	object.keys(d.fields) == object.keys(data.schema.fields)
}

# --- agent: the fields the schema lists for the purpose ----------------------

test_agent_casework_fields if {
	f := obligations(ask("agent", "contact.read", "casework"))
	f.notes == "clear"
	f.support_level == "hidden"
	f.email == "clear"
	f.phone == "clear"
	f.address == "clear"
	f.birth_date == "clear"
	f.interests == "clear"
	f.district == "clear"
}

test_agent_newsletter_fields if {
	f := obligations(ask("agent", "contact.read", "newsletter"))
	f.notes == "hidden"
	f.support_level == "hidden"
	f.email == "clear"
	f.phone == "hidden"
	f.address == "hidden"
	f.birth_date == "hidden"
	f.interests == "clear"
	f.given_name == "clear"
}

# support_level is special-category data (political opinion): an agent
# sees it for canvassing, the one purpose the schema lists it for.
test_agent_canvassing_fields if {
	f := obligations(ask("agent", "contact.read", "canvassing"))
	f.support_level == "clear"
	f.notes == "hidden"
	f.email == "hidden"
	f.phone == "clear"
	f.address == "clear"
	f.postal_code == "clear"
}

test_agent_statistics_fields if {
	f := obligations(ask("agent", "contact.search", "statistics"))
	f.given_name == "hidden"
	f.birth_date == "clear"
	f.postal_code == "clear"
	f.support_level == "hidden"
}

test_agent_fields_follow_the_schema_purposes if {
	every name, field in data.schema.fields {
		every p in data.schema.purposes {
			f := obligations(ask_consented("agent", "contact.update", p))
			f[name] == listed_or_hidden(p, field)
		}
	}
}

listed_or_hidden(p, field) := "clear" if {
	p in field.purposes
} else := "hidden"

test_agent_never_masks if {
	every p in data.schema.purposes {
		f := obligations(ask("agent", "contact.create", p))
		every _, o in f {
			o in {"clear", "hidden"}
		}
	}
}

# --- volunteer: minimal, masked contact details ------------------------------

test_volunteer_canvassing_fields if {
	f := obligations(ask_volunteer("contact.read", "canvassing"))
	f.phone == "masked"
	f.address == "masked"
	f.district == "clear"
	f.postal_code == "clear"
	f.given_name == "clear"
	f.family_name == "clear"
	f.support_level == "hidden"
	f.notes == "hidden"

	# Not listed for canvassing.
	f.email == "hidden"
	f.birth_date == "hidden"
	f.interests == "hidden"
}

test_volunteer_newsletter_fields if {
	f := obligations(ask_volunteer("contact.read", "newsletter"))
	f.email == "masked"
	f.interests == "clear"
	f.district == "clear"
	f.phone == "hidden"
	f.address == "hidden"
	f.postal_code == "hidden"
	f.support_level == "hidden"
	f.notes == "hidden"
}

test_volunteer_events_fields if {
	q := on(ask_volunteer("contact.search", "events"), {"consents": {"events": true}})
	f := obligations(q)
	f.email == "masked"
	f.phone == "masked"
	f.interests == "clear"
	f.address == "hidden"
}

# A special-category field stays hidden even for a purpose it is listed for.
test_volunteer_special_category_hidden if {
	"canvassing" in data.schema.fields.support_level.purposes
	f := obligations(ask_volunteer("contact.read", "canvassing"))
	f.support_level == "hidden"
}

# Free text stays hidden even for a purpose it were listed for.
test_volunteer_free_text_hidden if {
	f := obligations(ask_volunteer("contact.read", "canvassing")) with data.schema.fields.notes.purposes as ["canvassing"]
	f.notes == "hidden"
}

# No volunteer purpose lists the birth date in the default schema; where a
# schema does, a volunteer sees its year only.
test_volunteer_birth_date_masked if {
	f := obligations(ask_volunteer("contact.read", "canvassing")) with data.schema.fields.birth_date.purposes as ["canvassing"]
	f.birth_date == "masked"
}

test_volunteer_location_masked_unless_segmentable if {
	f1 := obligations(ask_volunteer("contact.read", "canvassing")) with data.schema.fields.postal_code.segment as ""
	f1.postal_code == "masked"
	f2 := obligations(ask_volunteer("contact.read", "canvassing")) with data.schema.fields.address.segment as "exact"
	f2.address == "clear"
}

test_volunteer_never_sees_a_field_outside_the_purpose if {
	every p in ["canvassing", "newsletter", "events"] {
		q := on(ask_volunteer("contact.read", p), {"consents": {"events": true}})
		f := obligations(q)
		outside := {name | some name, field in data.schema.fields; not p in field.purposes}
		count(outside) > 0
		every name in outside {
			f[name] == "hidden"
		}
	}
}

# --- dpo and citizen: the whole record ---------------------------------------------

test_dpo_in_request_every_field_clear if {
	f := obligations(on(ask("dpo", "contact.read", "dsr"), {"request": open_request}))
	every name, _ in data.schema.fields {
		f[name] == "clear"
	}
}

test_citizen_self_every_field_clear if {
	f := obligations(on(ask("citizen", "contact.read", ""), {"self": true}))
	every name, _ in data.schema.fields {
		f[name] == "clear"
	}
}

# --- denials carry no fields -------------------------------------------------------

test_denials_carry_no_fields if {
	every q in [
		ask("admin", "contact.read", "casework"),
		ask("agent", "contact.read", ""),
		ask("citizen", "contact.read", ""),
		on(ask_volunteer("contact.read", "canvassing"), {"objected": true}),
	] {
		d := authz.decision with input as q
		d.allow == false
		d.fields == {}
	}
}

# The unit rule itself, for each role and an unknown one.
test_field_obligation_by_role if {
	authz.field_obligation("dpo", "notes") == "clear"
	authz.field_obligation("citizen", "support_level") == "clear"
	authz.field_obligation("admin", "email") == "hidden"
	authz.field_obligation("nobody", "email") == "hidden"
	authz.field_obligation("agent", "notes") == "clear" with input as ask("agent", "contact.read", "casework")
	authz.field_obligation("agent", "no_such_field") == "hidden" with input as ask("agent", "contact.read", "casework")
	authz.field_obligation("volunteer", "email") == "masked" with input as ask_volunteer("contact.read", "newsletter")
}
