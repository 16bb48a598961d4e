# Segments: which records a principal may have in a count, a list or an
# export (actions contact.segment and contact.export).
#
# The vault first asks the ordinary decision for the action, about no
# record. It then evaluates segment_include partially, with input.resource
# unknown, and runs what is left (the residual conditions) inside the
# database query, so that the database itself keeps out the records a
# principal may not reach. In these rules input.resource has flat members
# only, one column each:
#
#   tenant            the record's tenant
#   <field>           the record's token for each scoped field (district)
#   consent_<name>    true when the consent is granted
#   restricted        GDPR Art. 18 restriction
#   objected          GDPR Art. 21 objection
#
# and a condition may only compare one of them with a value (==, in, !=):
# anything else cannot be run by the database, and the vault refuses it
# rather than widen the segment.
package coffre.authz

# segment_min_count: counts below it are given as "< N" to those who only
# get aggregates, so that a count cannot single out a person.
segment_min_count := 5

# Purposes for which only aggregates (counts) are given.
aggregate_purposes := {"statistics"}

# The consent an export for each purpose needs (a mailing needs the
# newsletter consent).
export_consents := {"newsletter": "newsletter", "events": "events"}

# segment_answers lists what a segment query may return: a count, and a
# list (masked as single reads are) unless the purpose is statistical.
segment_answers contains "count" if action == "contact.segment"

segment_answers contains "list" if {
	action == "contact.segment"
	not purpose in aggregate_purposes
}

# Every segment leaves out restricted records (Art. 18: storage only) and
# people who objected (Art. 21: no further processing for these purposes).
segment_common if {
	input.resource.tenant == input.principal.tenant
	input.resource.restricted == false
	input.resource.objected == false
}

# An agent segments the tenant's records for a declared purpose.
segment_include if {
	"agent" in roles
	action == "contact.segment"
	purpose != ""
	purpose_ok
	segment_common
}

# An agent exports for a mailing purpose, only the people who consented
# to it.
segment_include if {
	"agent" in roles
	action == "contact.export"
	purpose in export_purposes
	purpose_ok
	segment_common
	input.resource[sprintf("consent_%s", [export_consents[purpose]])] == true
}

# A volunteer segments their own districts' records, only the people who
# consented to what the volunteer does.
segment_include if {
	"volunteer" in roles
	action == "contact.segment"
	purpose in volunteer_purposes
	purpose_ok
	segment_common
	segment_in_scope
	some c in purpose_consents[purpose]
	input.resource[sprintf("consent_%s", [c])] == true
}

# segment_in_scope holds when the record's token of every scoped field is
# one of the principal's: the record is in their districts.
segment_in_scope if {
	every name, _ in scoped_fields {
		input.resource[name] in input.principal.scope[name]
	}
}
