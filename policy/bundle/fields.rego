# Field obligations of an allowed decision: for each field of the schema,
# whether it is served in the clear, masked (e.g. j***@example.org, a birth
# date reduced to its year) or hidden. They apply to the actions that serve
# or take field values; other allowed actions carry no fields. A field
# missing from the obligations is hidden.
package coffre.authz

# The actions whose decision lists the fields.
field_actions := {"contact.read", "contact.create", "contact.update", "contact.search", "contact.segment", "contact.export"}

fields := {name: obligation(name) | some name, _ in schema_fields} if {
	action in field_actions
} else := {}

# obligation(name) is the most open obligation any allowing role gives the
# field (a principal normally has one role).
obligation(name) := "clear" if {
	some r in allowing_roles
	field_obligation(r, name) == "clear"
} else := "masked" if {
	some r in allowing_roles
	field_obligation(r, name) == "masked"
} else := "hidden"

# The DPO inside a data-subject request answers for the whole record
# (GDPR Art. 15), and a citizen reads all of their own.
field_obligation("dpo", _) := "clear"

field_obligation("citizen", _) := "clear"

# An agent sees the fields the schema lists for the declared purpose, and
# only those (purpose limitation, GDPR Art. 5(1)(b)). Special-category
# fields (Art. 9) follow the same rule: the schema lists them only for the
# purposes that justify them (support_level: canvassing, not casework).
field_obligation("agent", name) := "clear" if {
	purpose in schema_fields[name].purposes
} else := "hidden"

# A volunteer sees what canvassing needs and no more (data minimisation,
# GDPR Art. 5(1)(c)): fields outside the purpose, special-category data and
# free text are hidden; contact details, precise locations and demographic
# data are masked; segmentable, coarse attributes (district, postal code,
# interests) are clear.
field_obligation("volunteer", name) := "hidden" if {
	not purpose in schema_fields[name].purposes
} else := "hidden" if {
	schema_fields[name].sensitivity == "special"
} else := "hidden" if {
	schema_fields[name].category == "free_text"
} else := "masked" if {
	schema_fields[name].category == "contact"
} else := "masked" if {
	# An address is masked (its first letter only); a postal code or a district,
	# being segmentable, is coarse already.
	schema_fields[name].category == "location"
	object.get(schema_fields[name], "segment", "") == ""
} else := "masked" if {
	# A birth date is served as its year.
	schema_fields[name].category == "demographic"
} else := "clear"

# An administrator never sees a field; a role this policy does not know
# neither.
field_obligation(r, _) := "hidden" if not r in {"dpo", "citizen", "agent", "volunteer"}
