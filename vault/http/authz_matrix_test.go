package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/coffre/coffre/policy"
	"github.com/coffre/coffre/vault"
)

// This file is the authorisation matrix of the default policy bundle
// (policy/bundle) seen through the HTTP API: every role against every
// action, on records in the states the rules look at, for each purpose a
// request can declare. The expected answers are read off the Rego rules
// and written out below; nothing here asks the policy what to expect.

// Field obligations as they show in an answer.
const (
	clr = vault.Clear
	msk = vault.Masked
)

// fieldView is what a contact answer must show: for each field, clear
// (the stored, normalised value) or masked (a masked form that differs
// from it). A field missing from the view must be absent from the answer,
// and so must a field the record does not hold.
type fieldView map[string]string

// The views of the default policy (fields.rego) over the default schema
// (vault/schema_default.json).
var (
	// An agent sees, in the clear, the fields whose schema purposes
	// include the declared one, and nothing else. support_level is listed
	// for canvassing and dsr only; notes for casework and dsr.
	agentCasework = fieldView{"given_name": clr, "family_name": clr, "email": clr, "phone": clr, "address": clr,
		"postal_code": clr, "district": clr, "birth_date": clr, "interests": clr, "notes": clr}
	agentCanvassing = fieldView{"given_name": clr, "family_name": clr, "phone": clr, "address": clr,
		"postal_code": clr, "district": clr, "support_level": clr}
	agentNewsletter = fieldView{"given_name": clr, "family_name": clr, "email": clr, "district": clr, "interests": clr}
	// A volunteer: fields outside the purpose, special-category data and
	// free text hidden; contact details and an unsegmented location
	// masked; segmentable locations, identity and preferences clear.
	volCanvassing = fieldView{"given_name": clr, "family_name": clr, "phone": msk, "address": msk,
		"postal_code": clr, "district": clr}
	volNewsletter = fieldView{"given_name": clr, "family_name": clr, "email": msk, "district": clr, "interests": clr}
	// A citizen reads the whole of their own record.
	citizenAll = fieldView{"given_name": clr, "family_name": clr, "email": clr, "phone": clr, "address": clr,
		"postal_code": clr, "district": clr, "birth_date": clr, "interests": clr, "support_level": clr, "notes": clr}
)

// outcome is the expected answer to one request.
type outcome struct {
	// code is the HTTP status; 0 means the row is not asked for this
	// purpose.
	code int
	// reason is the policy's reason, for a 403: the problem's detail is
	// "Not allowed: " followed by it.
	reason string
	// view is the contact answer's shape, for a read, create or update,
	// or for the searched contact when found is set.
	view  fieldView
	found bool
}

var (
	na      = outcome{}                          // not asked
	hide    = outcome{code: http.StatusNotFound} // concealed, or not there
	gone    = outcome{code: http.StatusNoContent}
	noMatch = outcome{code: http.StatusOK} // a search that finds nothing
	served  = outcome{code: http.StatusOK} // a non-contact answer
	issued  = outcome{code: http.StatusCreated}
)

func deny(reason string) outcome { return outcome{code: http.StatusForbidden, reason: reason} }
func show(v fieldView) outcome   { return outcome{code: http.StatusOK, view: v} }
func made(v fieldView) outcome   { return outcome{code: http.StatusCreated, view: v} }
func found(v fieldView) outcome  { return outcome{code: http.StatusOK, view: v, found: true} }

// The reasons of the default policy's denials.
const (
	rDeclare         = "declare a purpose (Coffre-Purpose header)"
	rRestrictedRead  = "the record is restricted (GDPR Art. 18): only the DPO may read it, inside a request"
	rRestrictedWrite = "the record is restricted (GDPR Art. 18): it cannot be changed or erased until the restriction is lifted"
	rDPORead         = "a DPO reads a record only inside a data-subject request"
	rDPOErase        = "a DPO erases a record only inside an erasure request"
	rVolCasework     = "the role volunteer may not act for purpose casework"
	rNoNewsletter    = "the person has not consented to newsletter (GDPR Art. 6(1)(a))"
	rDPOUpdate       = "a DPO changes a record only inside a rectification, restriction, objection or consent withdrawal request"
	rNotForCasework  = "the token is not issued for purpose casework"
	rNotForCanvass   = "the token is not issued for purpose canvassing"
)

func notPermitted(role, action string) string { return "the role " + role + " may not " + action }

// The purposes a request declares (Coffre-Purpose), in the order of
// matrixRow.want.
var matrixPurposes = [4]string{"", "casework", "canvassing", "newsletter"}

// by lists a row's outcomes: no purpose, casework, canvassing, newsletter.
// rObjected is the refusal of an objected record for a purpose the
// objection stops.
func rObjected(purpose string) string {
	return "the person objected to processing for " + purpose + " (GDPR Art. 21)"
}

func by(none, casework, canvassing, newsletter outcome) [4]outcome {
	return [4]outcome{none, casework, canvassing, newsletter}
}

// every is the same outcome whatever the purpose.
func every(o outcome) [4]outcome { return [4]outcome{o, o, o, o} }

// matrixRow is one role attempting one action on one target.
type matrixRow struct {
	// action is read, create, update, erase or search (on contacts),
	// token, audit, export or policy.
	action string
	// role names a token of the matrix (matrixTokens).
	role string
	// target names a contact of the matrix (matrixContacts): the one
	// read, changed or erased, or whose email is searched. "" for
	// actions on no contact; create creates a new one.
	target string
	want   [4]outcome
}

// matrixContact is a contact of the matrix: what is sent, what is stored
// (normalised) and its masked forms, with its consents and flags.
type matrixContact struct {
	tenant   string
	sent     map[string]any
	stored   map[string]any
	masked   map[string]any
	consents map[string]bool
	flags    vault.Flags
}

// The contacts of the matrix. The volunteer works in d3 and d7.
var matrixContacts = map[string]*matrixContact{
	// In the volunteer's d3, newsletter consent granted.
	"d3-consent": {
		tenant: "t1",
		sent: map[string]any{"given_name": "Alice", "family_name": "Bernard", "email": "Alice.Bernard@Example.org",
			"phone": "06 11 22 33 44", "address": "4 place du Marché", "postal_code": "75003", "district": "d3",
			"interests": []string{"Culture"}},
		stored: map[string]any{"given_name": "Alice", "family_name": "Bernard", "email": "alice.bernard@example.org",
			"phone": "+33611223344", "address": "4 place du Marché", "postal_code": "75003", "district": "d3",
			"interests": []string{"culture"}},
		masked:   map[string]any{"email": "a***@example.org", "phone": "06 ** ** ** 44", "address": "4***"},
		consents: map[string]bool{"newsletter": true},
	},
	// In d3, every consent withdrawn.
	"d3-withdrawn": {
		tenant: "t1",
		sent: map[string]any{"given_name": "Bruno", "family_name": "Petit", "email": "bruno.petit@example.org",
			"phone": "0622334455", "district": "d3"},
		stored: map[string]any{"given_name": "Bruno", "family_name": "Petit", "email": "bruno.petit@example.org",
			"phone": "+33622334455", "district": "d3"},
		masked:   map[string]any{"email": "b***@example.org", "phone": "06 ** ** ** 55"},
		consents: map[string]bool{"newsletter": false, "sms": false, "events": false},
	},
	// Outside the volunteer's districts, with consent.
	"d9-consent": {
		tenant: "t1",
		sent: map[string]any{"given_name": "Chloé", "family_name": "Durand", "email": "chloe.durand@example.org",
			"phone": "+33 6 33 44 55 66", "district": "d9"},
		stored: map[string]any{"given_name": "Chloé", "family_name": "Durand", "email": "chloe.durand@example.org",
			"phone": "+33633445566", "district": "d9"},
		masked:   map[string]any{"email": "c***@example.org", "phone": "06 ** ** ** 66"},
		consents: map[string]bool{"newsletter": true, "sms": true},
	},
	// In d7 with the sms consent only: enough for canvassing, not for the
	// newsletter (records.rego, purpose_consents).
	"d7-sms": {
		tenant: "t1",
		sent: map[string]any{"given_name": "Driss", "family_name": "Moreau", "phone": "07 44 55 66 77",
			"address": "9 impasse Verte", "postal_code": "75007", "district": "d7"},
		stored: map[string]any{"given_name": "Driss", "family_name": "Moreau", "phone": "+33744556677",
			"address": "9 impasse Verte", "postal_code": "75007", "district": "d7"},
		masked:   map[string]any{"phone": "07 ** ** ** 77", "address": "9***"},
		consents: map[string]bool{"sms": true},
	},
	// Every field filled, special category (support_level) and free text
	// (notes) included; in d7, newsletter consent granted.
	"full": {
		tenant: "t1",
		sent: map[string]any{"given_name": "Camille", "family_name": "Roux", "email": "Camille.Roux@Example.org",
			"phone": "06 12 34 56 78", "address": "12 rue des Lilas", "postal_code": "75007", "district": "d7",
			"birth_date": "1984-06-02", "interests": []string{"Housing", "climate"}, "support_level": "support",
			"notes": "Asked about the housing grant."},
		stored: map[string]any{"given_name": "Camille", "family_name": "Roux", "email": "camille.roux@example.org",
			"phone": "+33612345678", "address": "12 rue des Lilas", "postal_code": "75007", "district": "d7",
			"birth_date": "1984-06-02", "interests": []string{"climate", "housing"}, "support_level": "support",
			"notes": "Asked about the housing grant."},
		masked: map[string]any{"email": "c***@example.org", "phone": "06 ** ** ** 78", "address": "1***",
			"birth_date": "1984"},
		consents: map[string]bool{"newsletter": true, "events": false},
	},
	// In d3 with consent, but restricted (GDPR Art. 18).
	"restricted": {
		tenant: "t1",
		sent: map[string]any{"given_name": "Élise", "family_name": "Lambert", "email": "elise.lambert@example.org",
			"phone": "0655667788", "district": "d3", "support_level": "oppose"},
		stored: map[string]any{"given_name": "Élise", "family_name": "Lambert", "email": "elise.lambert@example.org",
			"phone": "+33655667788", "district": "d3", "support_level": "oppose"},
		masked:   map[string]any{"email": "e***@example.org", "phone": "06 ** ** ** 88"},
		consents: map[string]bool{"newsletter": true},
		flags:    vault.Flags{Restricted: true},
	},
	// In d3 with consent, but the person objected (GDPR Art. 21).
	"objected": {
		tenant: "t1",
		sent: map[string]any{"given_name": "Farid", "family_name": "Haddad", "email": "farid.haddad@example.org",
			"phone": "06 77 88 99 00", "district": "d3", "support_level": "undecided",
			"notes": "Asked not to be contacted again."},
		stored: map[string]any{"given_name": "Farid", "family_name": "Haddad", "email": "farid.haddad@example.org",
			"phone": "+33677889900", "district": "d3", "support_level": "undecided",
			"notes": "Asked not to be contacted again."},
		masked:   map[string]any{"email": "f***@example.org", "phone": "06 ** ** ** 00"},
		consents: map[string]bool{"newsletter": true},
		flags:    vault.Flags{Objected: true},
	},
	// The citizen's own record, every field filled; in d9, events only.
	"own": {
		tenant: "t1",
		sent: map[string]any{"given_name": "Gaëlle", "family_name": "Fontaine", "email": "gaelle.fontaine@example.org",
			"phone": "07 88 99 00 11", "address": "2 allée des Tilleuls", "postal_code": "75019", "district": "d9",
			"birth_date": "1990-11-23", "interests": []string{"sport"}, "support_level": "strong_support",
			"notes": "Citizen portal account."},
		stored: map[string]any{"given_name": "Gaëlle", "family_name": "Fontaine", "email": "gaelle.fontaine@example.org",
			"phone": "+33788990011", "address": "2 allée des Tilleuls", "postal_code": "75019", "district": "d9",
			"birth_date": "1990-11-23", "interests": []string{"sport"}, "support_level": "strong_support",
			"notes": "Citizen portal account."},
		masked:   map[string]any{"email": "g***@example.org", "phone": "07 ** ** ** 11", "address": "2***"},
		consents: map[string]bool{"events": true},
	},
	// Another tenant's record, in a district named like the volunteer's.
	"t2": {
		tenant: "t2",
		sent: map[string]any{"given_name": "Hugo", "family_name": "Lefebvre", "email": "hugo.lefebvre@example.org",
			"phone": "06 21 32 43 54", "district": "d3", "interests": []string{"transport"}},
		stored: map[string]any{"given_name": "Hugo", "family_name": "Lefebvre", "email": "hugo.lefebvre@example.org",
			"phone": "+33621324354", "district": "d3", "interests": []string{"transport"}},
		masked:   map[string]any{"email": "h***@example.org", "phone": "06 ** ** ** 54"},
		consents: map[string]bool{"newsletter": true},
	},
	// A well-formed id that names no record: the 404 every concealment
	// must look like.
	"missing": {tenant: "t1"},
	// Records that only the erasure rows use, one per erasure that
	// succeeds.
	"spare-casework":   spare("Inès", "Garnier", "t1", vault.Flags{}),
	"spare-canvassing": spare("Jules", "Henry", "t1", vault.Flags{}),
	"spare-newsletter": spare("Karim", "Idrissi", "t1", vault.Flags{}),
	"spare-objected":   spare("Léa", "Joly", "t1", vault.Flags{Objected: true}),
	"spare-limited":    spare("Marc", "Klein", "t1", vault.Flags{}),
	"spare-t2":         spare("Noor", "Lopez", "t2", vault.Flags{}),
}

func spare(given, family, tenant string, flags vault.Flags) *matrixContact {
	f := map[string]any{"given_name": given, "family_name": family, "district": "d3"}
	return &matrixContact{tenant: tenant, sent: f, stored: f, consents: map[string]bool{"newsletter": true}, flags: flags}
}

// newContact is the body of every create; the email, which must be
// unique, is set per request.
var newContact = matrixContact{
	sent: map[string]any{"given_name": "Nina", "family_name": "Perrin", "phone": "06 98 76 54 32",
		"district": "d3", "support_level": "undecided", "notes": "Created in the matrix."},
	stored: map[string]any{"given_name": "Nina", "family_name": "Perrin", "phone": "+33698765432",
		"district": "d3", "support_level": "undecided", "notes": "Created in the matrix."},
}

// matrixToken describes a token of the matrix. subject names the contact
// that is the citizen's own record.
type matrixToken struct {
	tenant, role string
	attributes   map[string][]string
	purposes     []string
	subject      string
}

var matrixTokens = map[string]matrixToken{
	"admin":                 {tenant: "t1", role: vault.RoleAdmin},
	"dpo":                   {tenant: "t1", role: vault.RoleDPO},
	"agent":                 {tenant: "t1", role: vault.RoleAgent},
	"volunteer":             {tenant: "t1", role: vault.RoleVolunteer, attributes: map[string][]string{"districts": {"d3", "d7"}}},
	"volunteer-nodistricts": {tenant: "t1", role: vault.RoleVolunteer},
	"citizen":               {tenant: "t1", role: vault.RoleCitizen, subject: "own"},
	// A citizen whose own record is restricted.
	"citizen-restricted": {tenant: "t1", role: vault.RoleCitizen, subject: "restricted"},
	"agent-t2":           {tenant: "t2", role: vault.RoleAgent},
	// An agent whose token is issued for the newsletter only.
	"agent-newsletter": {tenant: "t1", role: vault.RoleAgent, purposes: []string{"newsletter"}},
}

// authzMatrix is the matrix, in the order it runs: reads, searches,
// creations, updates (which set a field to the value it has), the
// actions on no contact, then erasures, whose successes use contacts of
// their own, and the reads that check those are gone.
func authzMatrix() []matrixRow {
	dd := deny(rDeclare)
	dvc := deny(rVolCasework)
	return []matrixRow{
		// ---- GET /v1/contacts/{id} ----
		// admin: no contact.* action at all (data minimisation).
		{"read", "admin", "d3-consent", every(deny(notPermitted("admin", "contact.read")))},
		{"read", "admin", "d3-withdrawn", every(deny(notPermitted("admin", "contact.read")))},
		{"read", "admin", "d9-consent", every(deny(notPermitted("admin", "contact.read")))},
		{"read", "admin", "d7-sms", every(deny(notPermitted("admin", "contact.read")))},
		{"read", "admin", "full", every(deny(notPermitted("admin", "contact.read")))},
		{"read", "admin", "restricted", every(deny(notPermitted("admin", "contact.read")))},
		{"read", "admin", "objected", every(deny(notPermitted("admin", "contact.read")))},
		{"read", "admin", "own", every(deny(notPermitted("admin", "contact.read")))},
		{"read", "admin", "t2", every(hide)},
		{"read", "admin", "missing", every(hide)},
		// dpo: only inside a data-subject request, which the API cannot
		// name yet, so never.
		{"read", "dpo", "d3-consent", every(deny(rDPORead))},
		{"read", "dpo", "d3-withdrawn", every(deny(rDPORead))},
		{"read", "dpo", "d9-consent", every(deny(rDPORead))},
		{"read", "dpo", "d7-sms", every(deny(rDPORead))},
		{"read", "dpo", "full", every(deny(rDPORead))},
		{"read", "dpo", "restricted", every(deny(rDPORead))},
		{"read", "dpo", "objected", every(deny(rDPORead))},
		{"read", "dpo", "own", every(deny(rDPORead))},
		{"read", "dpo", "t2", every(hide)},
		{"read", "dpo", "missing", every(hide)},
		// agent: any declared purpose, the purpose's fields; a mailing
		// purpose needs the person's consent, an objection stops
		// canvassing and mailings, a restriction stops everything.
		{"read", "agent", "d3-consent", by(dd, show(agentCasework), show(agentCanvassing), show(agentNewsletter))},
		{"read", "agent", "d3-withdrawn", by(dd, show(agentCasework), show(agentCanvassing), deny(rNoNewsletter))},
		{"read", "agent", "d9-consent", by(dd, show(agentCasework), show(agentCanvassing), show(agentNewsletter))},
		{"read", "agent", "d7-sms", by(dd, show(agentCasework), show(agentCanvassing), deny(rNoNewsletter))},
		{"read", "agent", "full", by(dd, show(agentCasework), show(agentCanvassing), show(agentNewsletter))},
		{"read", "agent", "restricted", by(dd, deny(rRestrictedRead), deny(rRestrictedRead), deny(rRestrictedRead))},
		{"read", "agent", "objected", by(dd, show(agentCasework), deny(rObjected("canvassing")), deny(rObjected("newsletter")))},
		{"read", "agent", "own", by(dd, show(agentCasework), show(agentCanvassing), deny(rNoNewsletter))},
		{"read", "agent", "t2", every(hide)},
		{"read", "agent", "missing", every(hide)},
		// volunteer in d3 and d7: canvassing or newsletter, in their
		// districts, with a consent for the purpose, not objected;
		// anything else out of reach is concealed, and without a
		// volunteer's purpose no record has the consent it needs.
		{"read", "volunteer", "d3-consent", by(hide, hide, show(volCanvassing), show(volNewsletter))},
		{"read", "volunteer", "d3-withdrawn", by(hide, hide, hide, hide)},
		{"read", "volunteer", "d9-consent", by(hide, hide, hide, hide)},
		{"read", "volunteer", "d7-sms", by(hide, hide, show(volCanvassing), hide)},
		{"read", "volunteer", "full", by(hide, hide, show(volCanvassing), show(volNewsletter))},
		{"read", "volunteer", "restricted", by(hide, hide, deny(rRestrictedRead), deny(rRestrictedRead))},
		{"read", "volunteer", "objected", by(hide, hide, hide, hide)},
		{"read", "volunteer", "own", by(hide, hide, hide, hide)},
		{"read", "volunteer", "t2", every(hide)},
		{"read", "volunteer", "missing", every(hide)},
		// volunteer without districts: nothing is in their scope.
		{"read", "volunteer-nodistricts", "d3-consent", by(hide, hide, hide, hide)},
		{"read", "volunteer-nodistricts", "d3-withdrawn", by(hide, hide, hide, hide)},
		{"read", "volunteer-nodistricts", "d9-consent", by(hide, hide, hide, hide)},
		{"read", "volunteer-nodistricts", "d7-sms", by(hide, hide, hide, hide)},
		{"read", "volunteer-nodistricts", "full", by(hide, hide, hide, hide)},
		{"read", "volunteer-nodistricts", "restricted", by(hide, hide, hide, hide)},
		{"read", "volunteer-nodistricts", "objected", by(hide, hide, hide, hide)},
		{"read", "volunteer-nodistricts", "own", by(hide, hide, hide, hide)},
		{"read", "volunteer-nodistricts", "t2", every(hide)},
		{"read", "volunteer-nodistricts", "missing", every(hide)},
		// citizen: their own record, whole, whatever the purpose; anyone
		// else's is concealed.
		{"read", "citizen", "own", every(show(citizenAll))},
		{"read", "citizen", "d3-consent", every(hide)},
		{"read", "citizen", "d3-withdrawn", every(hide)},
		{"read", "citizen", "d9-consent", every(hide)},
		{"read", "citizen", "d7-sms", every(hide)},
		{"read", "citizen", "full", every(hide)},
		{"read", "citizen", "restricted", every(hide)},
		{"read", "citizen", "objected", every(hide)},
		{"read", "citizen", "t2", every(hide)},
		{"read", "citizen", "missing", every(hide)},
		// A citizen whose own record is restricted cannot read it.
		{"read", "citizen-restricted", "restricted", every(deny(rRestrictedRead))},
		{"read", "citizen-restricted", "own", every(hide)},
		{"read", "citizen-restricted", "d3-consent", every(hide)},
		// Another tenant's agent: every t1 record is 404.
		{"read", "agent-t2", "d3-consent", every(hide)},
		{"read", "agent-t2", "d3-withdrawn", every(hide)},
		{"read", "agent-t2", "d9-consent", every(hide)},
		{"read", "agent-t2", "d7-sms", every(hide)},
		{"read", "agent-t2", "full", every(hide)},
		{"read", "agent-t2", "restricted", every(hide)},
		{"read", "agent-t2", "objected", every(hide)},
		{"read", "agent-t2", "own", every(hide)},
		{"read", "agent-t2", "missing", every(hide)},
		{"read", "agent-t2", "t2", by(dd, show(agentCasework), show(agentCanvassing), show(agentNewsletter))},
		// A token issued for the newsletter declares nothing else.
		{"read", "agent-newsletter", "d3-consent", by(dd, deny(rNotForCasework), deny(rNotForCanvass), show(agentNewsletter))},
		{"read", "agent-newsletter", "full", by(dd, deny(rNotForCasework), deny(rNotForCanvass), show(agentNewsletter))},
		{"read", "agent-newsletter", "restricted", by(dd, deny(rNotForCasework), deny(rNotForCanvass), deny(rRestrictedRead))},
		{"read", "agent-newsletter", "t2", every(hide)},

		// ---- POST /v1/contacts/search (by email) ----
		// The search itself is asked once; each contact found is then
		// asked as a read, and those denied are left out.
		{"search", "admin", "d3-consent", every(deny(notPermitted("admin", "contact.search")))},
		{"search", "dpo", "d3-consent", every(deny(notPermitted("dpo", "contact.search")))},
		{"search", "agent", "d3-consent", by(dd, found(agentCasework), found(agentCanvassing), found(agentNewsletter))},
		{"search", "agent", "d3-withdrawn", by(dd, found(agentCasework), found(agentCanvassing), noMatch)},
		{"search", "agent", "d9-consent", by(dd, found(agentCasework), found(agentCanvassing), found(agentNewsletter))},
		{"search", "agent", "full", by(dd, found(agentCasework), found(agentCanvassing), found(agentNewsletter))},
		{"search", "agent", "restricted", by(dd, noMatch, noMatch, noMatch)},
		{"search", "agent", "objected", by(dd, found(agentCasework), noMatch, noMatch)},
		{"search", "agent", "own", by(dd, found(agentCasework), found(agentCanvassing), noMatch)},
		{"search", "agent", "t2", by(dd, noMatch, noMatch, noMatch)},
		{"search", "volunteer", "d3-consent", by(dd, dvc, found(volCanvassing), found(volNewsletter))},
		{"search", "volunteer", "d3-withdrawn", by(dd, dvc, noMatch, noMatch)},
		{"search", "volunteer", "d9-consent", by(dd, dvc, noMatch, noMatch)},
		{"search", "volunteer", "full", by(dd, dvc, found(volCanvassing), found(volNewsletter))},
		{"search", "volunteer", "restricted", by(dd, dvc, noMatch, noMatch)},
		{"search", "volunteer", "objected", by(dd, dvc, noMatch, noMatch)},
		{"search", "volunteer", "own", by(dd, dvc, noMatch, noMatch)},
		{"search", "volunteer", "t2", by(dd, dvc, noMatch, noMatch)},
		{"search", "volunteer-nodistricts", "d3-consent", by(dd, dvc, noMatch, noMatch)},
		{"search", "volunteer-nodistricts", "full", by(dd, dvc, noMatch, noMatch)},
		{"search", "citizen", "own", every(deny(notPermitted("citizen", "contact.search")))},
		{"search", "citizen", "d3-consent", every(deny(notPermitted("citizen", "contact.search")))},
		{"search", "citizen-restricted", "restricted", every(deny(notPermitted("citizen", "contact.search")))},
		{"search", "agent-t2", "t2", by(dd, found(agentCasework), found(agentCanvassing), found(agentNewsletter))},
		{"search", "agent-t2", "d3-consent", by(dd, noMatch, noMatch, noMatch)},
		{"search", "agent-newsletter", "d3-consent", by(dd, deny(rNotForCasework), deny(rNotForCanvass), found(agentNewsletter))},
		{"search", "agent-newsletter", "restricted", by(dd, deny(rNotForCasework), deny(rNotForCanvass), noMatch)},

		// ---- POST /v1/contacts ----
		// The answer shows the new contact through the same obligations
		// as a read.
		{"create", "admin", "", every(deny(notPermitted("admin", "contact.create")))},
		{"create", "dpo", "", every(deny(notPermitted("dpo", "contact.create")))},
		{"create", "agent", "", by(dd, made(agentCasework), made(agentCanvassing), made(agentNewsletter))},
		{"create", "volunteer", "", every(deny(notPermitted("volunteer", "contact.create")))},
		{"create", "volunteer-nodistricts", "", every(deny(notPermitted("volunteer", "contact.create")))},
		{"create", "citizen", "", every(deny(notPermitted("citizen", "contact.create")))},
		{"create", "citizen-restricted", "", every(deny(notPermitted("citizen", "contact.create")))},
		{"create", "agent-t2", "", by(dd, made(agentCasework), made(agentCanvassing), made(agentNewsletter))},
		{"create", "agent-newsletter", "", by(dd, deny(rNotForCasework), deny(rNotForCanvass), made(agentNewsletter))},

		// ---- PATCH /v1/contacts/{id} ----
		{"update", "admin", "d3-consent", every(deny(notPermitted("admin", "contact.update")))},
		{"update", "admin", "t2", every(hide)},
		{"update", "dpo", "d3-consent", every(deny(rDPOUpdate))},
		{"update", "dpo", "restricted", every(deny(rDPOUpdate))},
		{"update", "dpo", "t2", every(hide)},
		{"update", "agent", "d3-consent", by(dd, show(agentCasework), show(agentCanvassing), show(agentNewsletter))},
		{"update", "agent", "d3-withdrawn", by(dd, show(agentCasework), show(agentCanvassing), deny(rNoNewsletter))},
		{"update", "agent", "full", by(dd, show(agentCasework), show(agentCanvassing), show(agentNewsletter))},
		{"update", "agent", "objected", by(dd, show(agentCasework), deny(rObjected("canvassing")), deny(rObjected("newsletter")))},
		{"update", "agent", "restricted", by(dd, deny(rRestrictedWrite), deny(rRestrictedWrite), deny(rRestrictedWrite))},
		{"update", "agent", "t2", every(hide)},
		{"update", "agent", "missing", every(hide)},
		{"update", "volunteer", "d3-consent", by(hide, hide, deny(notPermitted("volunteer", "contact.update")), deny(notPermitted("volunteer", "contact.update")))},
		{"update", "volunteer", "d9-consent", every(hide)},
		{"update", "volunteer", "objected", every(hide)},
		{"update", "volunteer", "t2", every(hide)},
		{"update", "volunteer-nodistricts", "d3-consent", every(hide)},
		{"update", "citizen", "own", every(deny(notPermitted("citizen", "contact.update")))},
		{"update", "citizen", "d3-consent", every(hide)},
		{"update", "citizen", "t2", every(hide)},
		{"update", "citizen-restricted", "restricted", every(deny(notPermitted("citizen", "contact.update")))},
		{"update", "agent-t2", "t2", by(dd, show(agentCasework), show(agentCanvassing), show(agentNewsletter))},
		{"update", "agent-t2", "d3-consent", every(hide)},
		{"update", "agent-newsletter", "full", by(dd, deny(rNotForCasework), deny(rNotForCanvass), show(agentNewsletter))},

		// ---- POST /v1/tokens, GET /v1/audit/entries, GET /v1/audit/export,
		// GET /v1/policy: the service asks these with no purpose, so the
		// header changes nothing. ----
		{"token", "admin", "", every(issued)},
		{"audit", "admin", "", every(served)},
		{"export", "admin", "", every(deny(notPermitted("admin", "audit.export")))},
		{"policy", "admin", "", every(served)},
		{"token", "dpo", "", every(deny(notPermitted("dpo", "token.create")))},
		{"audit", "dpo", "", every(served)},
		{"export", "dpo", "", every(served)},
		{"policy", "dpo", "", every(served)},
		{"token", "agent", "", every(deny(notPermitted("agent", "token.create")))},
		{"audit", "agent", "", every(deny(notPermitted("agent", "audit.read")))},
		{"export", "agent", "", every(deny(notPermitted("agent", "audit.export")))},
		{"policy", "agent", "", every(deny(notPermitted("agent", "policy.read")))},
		{"token", "volunteer", "", every(deny(notPermitted("volunteer", "token.create")))},
		{"audit", "volunteer", "", every(deny(notPermitted("volunteer", "audit.read")))},
		{"export", "volunteer", "", every(deny(notPermitted("volunteer", "audit.export")))},
		{"policy", "volunteer", "", every(deny(notPermitted("volunteer", "policy.read")))},
		{"token", "volunteer-nodistricts", "", every(deny(notPermitted("volunteer", "token.create")))},
		{"audit", "volunteer-nodistricts", "", every(deny(notPermitted("volunteer", "audit.read")))},
		{"export", "volunteer-nodistricts", "", every(deny(notPermitted("volunteer", "audit.export")))},
		{"policy", "volunteer-nodistricts", "", every(deny(notPermitted("volunteer", "policy.read")))},
		{"token", "citizen", "", every(deny(notPermitted("citizen", "token.create")))},
		{"audit", "citizen", "", every(deny(notPermitted("citizen", "audit.read")))},
		{"export", "citizen", "", every(deny(notPermitted("citizen", "audit.export")))},
		{"policy", "citizen", "", every(deny(notPermitted("citizen", "policy.read")))},
		{"token", "citizen-restricted", "", every(deny(notPermitted("citizen", "token.create")))},
		{"audit", "citizen-restricted", "", every(deny(notPermitted("citizen", "audit.read")))},
		{"export", "citizen-restricted", "", every(deny(notPermitted("citizen", "audit.export")))},
		{"policy", "citizen-restricted", "", every(deny(notPermitted("citizen", "policy.read")))},
		{"token", "agent-t2", "", every(deny(notPermitted("agent", "token.create")))},
		{"audit", "agent-t2", "", every(deny(notPermitted("agent", "audit.read")))},
		{"export", "agent-t2", "", every(deny(notPermitted("agent", "audit.export")))},
		{"policy", "agent-t2", "", every(deny(notPermitted("agent", "policy.read")))},
		{"token", "agent-newsletter", "", every(deny(notPermitted("agent", "token.create")))},
		{"audit", "agent-newsletter", "", every(deny(notPermitted("agent", "audit.read")))},
		{"export", "agent-newsletter", "", every(deny(notPermitted("agent", "audit.export")))},
		{"policy", "agent-newsletter", "", every(deny(notPermitted("agent", "policy.read")))},

		// ---- DELETE /v1/contacts/{id} ----
		// Refusals first, on the shared contacts (a refusal changes
		// nothing), then each success on a contact of its own.
		{"erase", "admin", "d3-consent", every(deny(notPermitted("admin", "contact.erase")))},
		{"erase", "admin", "t2", every(hide)},
		{"erase", "dpo", "d3-consent", every(deny(rDPOErase))},
		{"erase", "dpo", "restricted", every(deny(rDPOErase))},
		{"erase", "dpo", "t2", every(hide)},
		{"erase", "agent", "restricted", by(dd, deny(rRestrictedWrite), deny(rRestrictedWrite), deny(rRestrictedWrite))},
		{"erase", "agent", "t2", every(hide)},
		{"erase", "agent", "missing", every(hide)},
		{"erase", "volunteer", "d3-consent", by(hide, hide, deny(notPermitted("volunteer", "contact.erase")), deny(notPermitted("volunteer", "contact.erase")))},
		{"erase", "volunteer", "d9-consent", every(hide)},
		{"erase", "volunteer", "t2", every(hide)},
		{"erase", "volunteer-nodistricts", "d3-consent", every(hide)},
		{"erase", "citizen", "own", every(deny(notPermitted("citizen", "contact.erase")))},
		{"erase", "citizen", "d3-consent", every(hide)},
		{"erase", "citizen", "t2", every(hide)},
		{"erase", "citizen-restricted", "restricted", every(deny(notPermitted("citizen", "contact.erase")))},
		{"erase", "agent-t2", "d3-consent", every(hide)},
		{"erase", "agent-newsletter", "spare-limited", by(dd, deny(rNotForCasework), deny(rNotForCanvass), gone)},
		{"erase", "agent", "spare-casework", by(dd, gone, na, na)},
		{"erase", "agent", "spare-canvassing", by(na, na, gone, na)},
		{"erase", "agent", "spare-newsletter", by(na, na, na, gone)},
		{"erase", "agent", "spare-objected", by(na, gone, na, na)},
		{"erase", "agent-t2", "spare-t2", by(dd, gone, na, na)},
		// Erased is gone, for everyone.
		{"read", "agent", "spare-casework", by(na, hide, na, na)},
		{"read", "agent", "spare-canvassing", by(na, hide, na, na)},
		{"read", "agent", "spare-newsletter", by(na, hide, na, na)},
		{"read", "agent", "spare-objected", by(na, hide, na, na)},
		{"read", "agent", "spare-limited", by(na, hide, na, na)},
		{"read", "agent-t2", "spare-t2", by(na, hide, na, na)},
	}
}

// The audit action of each matrix action.
var matrixActions = map[string]string{
	"read": vault.ActionContactRead, "search": vault.ActionContactSearch, "create": vault.ActionContactCreate,
	"update": vault.ActionContactUpdate, "erase": vault.ActionContactErase, "token": vault.ActionTokenCreate,
	"audit": vault.ActionAuditRead, "export": vault.ActionAuditExport, "policy": vault.ActionPolicyRead,
}

// matrix is the env the matrix runs in.
type matrix struct {
	e        *env
	eng      *policy.Engine
	schema   *vault.Schema
	ids      map[string]string // contact name -> id
	tokenIDs map[string]string // token name -> token id
	created  int               // creations so far, for unique emails
}

func TestAuthzMatrix(t *testing.T) {
	ctx := context.Background()
	var eng *policy.Engine
	e := newEnvWith(t, func(s *vault.Schema) vault.Authorizer {
		var err error
		if eng, err = policy.New(ctx, policy.Options{Schema: s}); err != nil {
			t.Fatalf("policy.New() = %v", err)
		}
		return eng
	})
	m := &matrix{e: e, eng: eng, schema: e.svc.Schema(), ids: map[string]string{}, tokenIDs: map[string]string{}}
	m.setup(t)

	n := 0
	for _, r := range authzMatrix() {
		if _, ok := matrixTokens[r.role]; !ok {
			t.Fatalf("row %v: no token %q", r, r.role)
		}
		if _, ok := matrixContacts[r.target]; r.target != "" && !ok {
			t.Fatalf("row %v: no contact %q", r, r.target)
		}
		for i, purpose := range matrixPurposes {
			want := r.want[i]
			if want.code == 0 {
				continue
			}
			n++
			label := purpose
			if label == "" {
				label = "no purpose"
			}
			name := fmt.Sprintf("%s %s as %s, %s", r.action, r.target, r.role, label)
			if r.target == "" {
				name = fmt.Sprintf("%s as %s, %s", r.action, r.role, label)
			}
			t.Run(name, func(t *testing.T) { m.run(t, r, purpose, want) })
		}
	}
	t.Logf("%d rows", n)
}

// setup issues the matrix's tokens and creates its contacts, as an agent
// of their tenant for casework, then sets their flags in the store, for
// which there is no API yet.
func (m *matrix) setup(t *testing.T) {
	ctx := context.Background()
	issue := func(name string) {
		spec := matrixTokens[name]
		attrs := maps.Clone(spec.attributes)
		if spec.subject != "" {
			attrs = map[string][]string{vault.SubjectAttribute: {m.ids[spec.subject]}}
		}
		tok, at, err := m.e.svc.IssueToken(ctx, vault.TokenSpec{TenantID: spec.tenant, Role: spec.role,
			Attributes: attrs, Purposes: spec.purposes})
		if err != nil {
			t.Fatalf("IssueToken(%s) = %v", name, err)
		}
		m.e.tokens["matrix/"+name] = tok
		m.tokenIDs[name] = at.ID
	}
	for name, spec := range matrixTokens {
		if spec.subject == "" {
			issue(name)
		}
	}
	agents := map[string]string{"t1": "agent", "t2": "agent-t2"}
	for _, name := range slices.Sorted(maps.Keys(matrixContacts)) {
		c := matrixContacts[name]
		if name == "missing" {
			m.ids[name] = vault.NewID(start)
			continue
		}
		consents := map[string]any{}
		for k, g := range c.consents {
			consents[k] = map[string]any{"granted": g, "source": "matrix"}
		}
		// What may not be written for case work (support_level) is
		// written next, for a purpose the schema lists for it.
		schema := vault.DefaultSchema()
		casework, later := map[string]any{}, map[string]any{}
		for k, v := range c.sent {
			if slices.Contains(schema.Field(k).Purposes, "casework") {
				casework[k] = v
			} else {
				later[k] = v
			}
		}
		var got contact
		m.e.mustDo(request{method: "POST", path: "/v1/contacts", token: "matrix/" + agents[c.tenant],
			header: map[string]string{"Coffre-Purpose": "casework"},
			body:   map[string]any{"fields": casework, "consents": consents}}, http.StatusCreated, &got)
		m.ids[name] = got.ID
		for k, v := range later {
			m.e.mustDo(request{method: "PATCH", path: "/v1/contacts/" + got.ID, token: "matrix/" + agents[c.tenant],
				header: map[string]string{"Coffre-Purpose": schema.Field(k).Purposes[0]},
				body:   map[string]any{"fields": map[string]any{k: v}}}, http.StatusOK, nil)
		}
		if c.flags == (vault.Flags{}) {
			continue
		}
		r, err := m.e.store.Contact(ctx, c.tenant, got.ID)
		if err != nil {
			t.Fatalf("Contact(%s) = %v", name, err)
		}
		r.Flags = c.flags
		r.Version++
		err = m.e.store.UpdateContact(ctx, r, &vault.AuditEntry{Time: m.e.clock.Now(), TenantID: c.tenant,
			ActorID: "test", ActorRole: vault.RoleAgent, Action: vault.ActionContactUpdate, Subject: got.ID,
			Outcome: vault.OutcomeOK})
		if err != nil {
			t.Fatalf("UpdateContact(%s) = %v", name, err)
		}
		if r, err := m.e.store.Contact(ctx, c.tenant, got.ID); err != nil || r.Flags != c.flags {
			t.Fatalf("Contact(%s) after setting flags = %+v, %v; want flags %+v", name, r, err, c.flags)
		}
	}
	for name, spec := range matrixTokens {
		if spec.subject != "" {
			issue(name)
		}
	}
}

// run sends one row's request for one purpose and checks the answer and
// its audit entries.
func (m *matrix) run(t *testing.T, r matrixRow, purpose string, want outcome) {
	spec := matrixTokens[r.role]
	c := matrixContacts[r.target]
	id := m.ids[r.target]
	req := request{token: "matrix/" + r.role, header: map[string]string{"Coffre-Purpose": purpose}}
	switch r.action {
	case "read":
		req.method, req.path = "GET", "/v1/contacts/"+id
	case "update":
		req.method, req.path = "PATCH", "/v1/contacts/"+id
		given, ok := c.stored["given_name"]
		if !ok {
			given = "Nobody" // the missing contact
		}
		req.body = map[string]any{"fields": map[string]any{"given_name": given}}
	case "erase":
		req.method, req.path = "DELETE", "/v1/contacts/"+id
	case "search":
		req.method, req.path = "POST", "/v1/contacts/search"
		req.body = map[string]any{"email": c.stored["email"]}
	case "create":
		m.created++
		nc := newContact
		email := fmt.Sprintf("nina.perrin.%d@example.org", m.created)
		nc.sent, nc.stored = maps.Clone(nc.sent), maps.Clone(nc.stored)
		nc.sent["email"], nc.stored["email"] = email, email
		// A create writes only the fields its purpose may write (what
		// may not be read for a purpose may not be written for it).
		if purpose != "" {
			for k := range nc.sent {
				if !slices.Contains(vault.DefaultSchema().Field(k).Purposes, purpose) {
					delete(nc.sent, k)
					delete(nc.stored, k)
				}
			}
		}
		nc.masked = map[string]any{"email": "n***@example.org", "phone": "06 ** ** ** 32"}
		c = &nc
		req.method, req.path = "POST", "/v1/contacts"
		req.body = map[string]any{"fields": nc.sent}
	case "token":
		req.method, req.path = "POST", "/v1/tokens"
		req.body = map[string]any{"role": vault.RoleVolunteer, "attributes": map[string][]string{"districts": {"d3"}}}
	case "audit":
		req.method, req.path = "GET", "/v1/audit/entries"
	case "export":
		req.method, req.path = "GET", "/v1/audit/export"
	case "policy":
		req.method, req.path = "GET", "/v1/policy"
	default:
		t.Fatalf("unknown action %q", r.action)
	}
	rec := m.e.do(req)
	if rec.Code != want.code {
		t.Fatalf("%s %s = %d %s, want %d", req.method, req.path, rec.Code, rec.Body, want.code)
	}

	var shown []string // the fields of a contact answer, for its audit entry
	var foundID string // the contact a search found
	switch {
	case want.code == http.StatusForbidden:
		p := checkProblem(t, rec, http.StatusForbidden, vault.EFORBIDDEN)
		if detail := "Not allowed: " + want.reason; p.Detail != detail {
			t.Errorf("detail = %q, want %q", p.Detail, detail)
		}
		checkNoValues(t, rec, c)
	case want.code == http.StatusNotFound:
		checkProblem(t, rec, http.StatusNotFound, vault.ENOTFOUND)
		checkNoValues(t, rec, c)
	case want.code == http.StatusNoContent:
		if rec.Body.Len() != 0 {
			t.Errorf("body = %q, want none", rec.Body)
		}
	case r.action == "search":
		var list struct{ Contacts []contact }
		if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
			t.Fatalf("search answer %s: %v", rec.Body, err)
		}
		if !want.found {
			if len(list.Contacts) != 0 {
				t.Fatalf("search found %d contacts, want none: %s", len(list.Contacts), rec.Body)
			}
			break
		}
		if len(list.Contacts) != 1 || list.Contacts[0].ID != id {
			t.Fatalf("search found %s, want exactly contact %s", rec.Body, id)
		}
		foundID = id
		shown = m.checkView(t, &list.Contacts[0], c, want.view)
	case want.view != nil:
		var got contact
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("contact answer %s: %v", rec.Body, err)
		}
		if r.action != "create" && got.ID != id {
			t.Errorf("id = %q, want %q", got.ID, id)
		}
		if r.action == "create" {
			id = got.ID
		}
		shown = m.checkView(t, &got, c, want.view)
	case r.action == "token":
		var tok struct {
			Token    string `json:"token"`
			TenantID string `json:"tenant_id"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.Token == "" || tok.TenantID != spec.tenant {
			t.Errorf("token answer %s (%v): want a token of tenant %s", rec.Body, err, spec.tenant)
		}
	case r.action == "audit":
		var page struct{ Entries []json.RawMessage }
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.Entries == nil {
			t.Errorf("audit answer %s (%v): want entries", rec.Body, err)
		}
	case r.action == "export":
		if ct := rec.Header().Get("Content-Type"); ct != "application/x-ndjson" || rec.Body.Len() == 0 {
			t.Errorf("export answer: Content-Type %q, %d bytes; want a non-empty application/x-ndjson", ct, rec.Body.Len())
		}
	case r.action == "policy":
		var info vault.PolicyInfo
		if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil || info.Revision != m.eng.Revision() {
			t.Errorf("policy answer %s (%v): want revision %s", rec.Body, err, m.eng.Revision())
		}
	}
	m.checkAudit(t, r, purpose, want, rec, id, shown, foundID)
}

// checkView checks a contact answer against the view: each field clear,
// masked or absent, exactly; and the consents on record. It returns the
// fields shown.
func (m *matrix) checkView(t *testing.T, got *contact, c *matrixContact, view fieldView) []string {
	t.Helper()
	for _, f := range m.schema.Fields {
		stored, has := c.stored[f.Name]
		v, present := got.Fields[f.Name]
		switch ob := view[f.Name]; {
		case !has || ob == "":
			if present {
				t.Errorf("field %s = %v, want it absent", f.Name, v)
			}
		case !present:
			t.Errorf("field %s absent, want it %s", f.Name, ob)
		case ob == clr:
			if !sameJSON(v, stored) {
				t.Errorf("field %s = %v, want %v in the clear", f.Name, v, stored)
			}
		case ob == msk:
			masked, ok := c.masked[f.Name]
			if !ok {
				t.Fatalf("the matrix has no masked form of %s", f.Name)
			}
			if sameJSON(v, stored) || !sameJSON(v, masked) {
				t.Errorf("field %s = %v, want it masked as %v", f.Name, v, masked)
			}
		}
	}
	shown := slices.Sorted(maps.Keys(got.Fields))
	for _, k := range shown {
		if m.schema.Field(k) == nil {
			t.Errorf("field %s is not in the schema", k)
		}
	}
	gotConsents := map[string]bool{}
	for k, raw := range got.Consents {
		var cv struct{ Granted bool }
		if err := json.Unmarshal(raw, &cv); err != nil {
			t.Errorf("consent %s: %v", k, err)
		}
		gotConsents[k] = cv.Granted
	}
	if len(c.consents) > 0 || len(gotConsents) > 0 {
		if !maps.Equal(gotConsents, c.consents) {
			t.Errorf("consents = %v, want %v", gotConsents, c.consents)
		}
	}
	return shown
}

// decisionIDRE is the form of a decision id.
var decisionIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// checkAudit checks the audit entries of the request: one for the action,
// by the row's token, with the outcome of the answer; and for a success,
// the decision and the policy revision that allowed it. A read names the
// contact, the purpose and the fields shown; a search has a read entry
// for the contact it found.
func (m *matrix) checkAudit(t *testing.T, r matrixRow, purpose string, want outcome, rec *httptest.ResponseRecorder, id string, shown []string, foundID string) {
	t.Helper()
	rid := rec.Header().Get("X-Request-Id")
	var mine []*vault.AuditEntry
	for _, en := range m.e.auditEntries(matrixTokens[r.role].tenant) {
		if en.RequestID == rid {
			mine = append(mine, en)
		}
	}
	action := matrixActions[r.action]
	i := slices.IndexFunc(mine, func(en *vault.AuditEntry) bool { return en.Action == action })
	if i < 0 {
		t.Fatalf("no %s audit entry for request %s among %d", action, rid, len(mine))
	}
	en := mine[i]
	if en.ActorID != m.tokenIDs[r.role] {
		t.Errorf("audit actor = %q, want the token %q", en.ActorID, m.tokenIDs[r.role])
	}
	if strings.HasPrefix(action, "contact.") && en.Purpose != purpose {
		t.Errorf("audit purpose = %q, want %q", en.Purpose, purpose)
	}
	wantOutcome := vault.OutcomeOK
	switch want.code {
	case http.StatusForbidden:
		wantOutcome = vault.OutcomeDenied
	case http.StatusNotFound:
		wantOutcome = vault.OutcomeNotFound
	}
	if en.Outcome != wantOutcome {
		t.Errorf("audit outcome = %q, want %q", en.Outcome, wantOutcome)
	}
	if wantOutcome != vault.OutcomeOK {
		return
	}
	checkDecision := func(en *vault.AuditEntry) {
		t.Helper()
		if !decisionIDRE.MatchString(en.DecisionID) {
			t.Errorf("%s entry: decision id %q, want 32 hex digits", en.Action, en.DecisionID)
		}
		if en.PolicyRevision != m.eng.Revision() {
			t.Errorf("%s entry: policy revision %q, want %q", en.Action, en.PolicyRevision, m.eng.Revision())
		}
	}
	switch r.action {
	case "search":
		// The search's own entry carries no decision id or revision:
		// SearchContacts does not keep its contact.search decision. Each
		// contact served has a read entry that does.
		reads := 0
		for _, en := range mine {
			if en.Action != vault.ActionContactRead {
				continue
			}
			reads++
			checkDecision(en)
			if en.Subject != foundID || !slices.Equal(en.Fields, shown) || en.Purpose != purpose {
				t.Errorf("search read entry: subject %q, fields %v, purpose %q; want %q, %v, %q",
					en.Subject, en.Fields, en.Purpose, foundID, shown, purpose)
			}
		}
		wantReads := 0
		if foundID != "" {
			wantReads = 1
		}
		if reads != wantReads {
			t.Errorf("search: %d read entries, want %d", reads, wantReads)
		}
	case "read":
		checkDecision(en)
		if en.Subject != id || !slices.Equal(en.Fields, shown) {
			t.Errorf("read entry: subject %q, fields %v; want %q, %v", en.Subject, en.Fields, id, shown)
		}
	case "create", "update", "erase":
		checkDecision(en)
		if en.Subject != id {
			t.Errorf("%s entry: subject %q, want %q", r.action, en.Subject, id)
		}
	default:
		checkDecision(en)
	}
}

// checkNoValues fails if a refusal's problem document holds any of the
// contact's values, stored, sent or masked. The request id, random, is
// left out of the comparison.
func checkNoValues(t *testing.T, rec *httptest.ResponseRecorder, c *matrixContact) {
	t.Helper()
	if c == nil {
		return
	}
	body := strings.ReplaceAll(rec.Body.String(), rec.Header().Get("X-Request-Id"), "")
	for _, m := range []map[string]any{c.sent, c.stored, c.masked} {
		for k, v := range m {
			vs, ok := v.([]string)
			if !ok {
				vs = []string{v.(string)}
			}
			for _, s := range vs {
				if strings.Contains(body, s) {
					t.Errorf("refusal %s holds the value of %s (%q)", rec.Body, k, s)
				}
			}
		}
	}
}

// sameJSON reports whether a and b encode to the same JSON.
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// TestWritesFollowThePurpose: what may not be read for a purpose may not be
// written for it either; the refusal names the fields, never their values,
// and nothing is stored.
func TestWritesFollowThePurpose(t *testing.T) {
	e := newEnvWith(t, func(s *vault.Schema) vault.Authorizer {
		eng, err := policy.New(context.Background(), policy.Options{Schema: s})
		if err != nil {
			t.Fatal(err)
		}
		return eng
	})
	before := e.auditCount("t1")
	rec := e.do(request{method: "POST", path: "/v1/contacts", token: "t1/agent", header: map[string]string{"Coffre-Purpose": "casework"},
		body: map[string]any{"fields": map[string]any{"given_name": "Odile", "support_level": "strong_oppose"}}})
	p := checkProblem(t, rec, http.StatusForbidden, vault.EFORBIDDEN)
	if len(p.Errors) != 1 || p.Errors[0].Field != "support_level" || strings.Contains(rec.Body.String(), "strong_oppose") {
		t.Fatalf("refusal = %s", rec.Body)
	}
	if n := e.auditCount("t1"); n != before+1 {
		t.Fatalf("audit entries %d → %d, want the refusal only", before, n)
	}
	var c contact
	e.mustDo(request{method: "POST", path: "/v1/contacts", token: "t1/agent", header: map[string]string{"Coffre-Purpose": "casework"},
		body: map[string]any{"fields": map[string]any{"given_name": "Odile"}}}, http.StatusCreated, &c)
	e.mustDo(request{method: "PATCH", path: "/v1/contacts/" + c.ID, token: "t1/agent", header: map[string]string{"Coffre-Purpose": "newsletter"},
		body: map[string]any{"fields": map[string]any{"notes": "x"}}}, http.StatusForbidden, nil)
	e.mustDo(request{method: "PATCH", path: "/v1/contacts/" + c.ID, token: "t1/agent", header: map[string]string{"Coffre-Purpose": "canvassing"},
		body: map[string]any{"fields": map[string]any{"support_level": "strong_oppose"}}}, http.StatusOK, nil)
}
