# Segment rules, evaluated in full on one record (the vault evaluates them
# partially, with the record unknown; the Go tests of package policy check
# that translation).
package coffre.authz_test

import data.coffre.authz

# A record as the segment rules see it: flat members only.
seg_record := {
	"tenant": "mairie",
	"district": "t3",
	"consent_newsletter": true,
	"consent_sms": false,
	"consent_events": false,
	"restricted": false,
	"objected": false,
}

seg(role, act, purpose, record) := {
	"principal": principal(role),
	"action": act,
	"purpose": purpose,
	"resource": record,
}

seg_volunteer(act, purpose, record) := object.union(seg("volunteer", act, purpose, record), {"principal": volunteer})

test_agent_segments_with_a_purpose if {
	authz.segment_include with input as seg("agent", "contact.segment", "casework", seg_record)
}

test_agent_segments_only_with_a_purpose if {
	not authz.segment_include with input as seg("agent", "contact.segment", "", seg_record)
}

test_agent_segment_respects_token_purposes if {
	p := object.union(principal("agent"), {"purposes": ["casework"]})
	not authz.segment_include with input as object.union(seg("agent", "contact.segment", "newsletter", seg_record), {"principal": p})
}

test_segments_leave_out_restricted_and_objected if {
	not authz.segment_include with input as seg("agent", "contact.segment", "casework", object.union(seg_record, {"restricted": true}))
	not authz.segment_include with input as seg("agent", "contact.segment", "casework", object.union(seg_record, {"objected": true}))
	not authz.segment_include with input as seg_volunteer("contact.segment", "newsletter", object.union(seg_record, {"objected": true}))
}

test_segments_stay_in_the_tenant if {
	not authz.segment_include with input as seg("agent", "contact.segment", "casework", object.union(seg_record, {"tenant": "autre"}))
}

test_agent_exports_consented_contacts_for_a_mailing if {
	authz.segment_include with input as seg("agent", "contact.export", "newsletter", seg_record)
	not authz.segment_include with input as seg("agent", "contact.export", "newsletter", object.union(seg_record, {"consent_newsletter": false}))
	not authz.segment_include with input as seg("agent", "contact.export", "events", seg_record)
	not authz.segment_include with input as seg("agent", "contact.export", "casework", seg_record)
}

test_volunteer_segments_their_districts_with_consent if {
	authz.segment_include with input as seg_volunteer("contact.segment", "newsletter", seg_record)
	authz.segment_include with input as seg_volunteer("contact.segment", "canvassing", seg_record)
	not authz.segment_include with input as seg_volunteer("contact.segment", "newsletter", object.union(seg_record, {"district": "t9"}))
	not authz.segment_include with input as seg_volunteer("contact.segment", "events", seg_record)
	not authz.segment_include with input as seg_volunteer("contact.segment", "casework", seg_record)
}

test_volunteer_never_exports if {
	not authz.segment_include with input as seg_volunteer("contact.export", "newsletter", seg_record)
}

test_other_roles_never_segment if {
	every role in ["admin", "dpo", "citizen", "stranger"] {
		not authz.segment_include with input as seg(role, "contact.segment", "casework", seg_record)
	}
}

test_segment_answers if {
	authz.segment_answers == {"count", "list"} with input as seg("agent", "contact.segment", "casework", seg_record)
	authz.segment_answers == {"count"} with input as seg("agent", "contact.segment", "statistics", seg_record)
	authz.segment_answers == set() with input as seg("agent", "contact.export", "newsletter", seg_record)
	authz.segment_min_count == 5
}
