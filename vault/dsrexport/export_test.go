package dsrexport_test

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/dsrexport"
)

var (
	generated = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	received  = time.Date(2025, 3, 1, 16, 5, 0, 0, time.FixedZone("CET", 3600))
)

// testAnswer is an answer with a list field, a special-category field, a
// value holding markup, values a spreadsheet would run as formulas, a field
// the schema does not declare, and consents with proof.
func testAnswer() *dsrexport.Answer {
	return &dsrexport.Answer{
		GeneratedAt: generated,
		Controller:  "Mairie de Lyon <script>alert('controller')</script>",
		Request:     dsrexport.Request{ID: "req_01J9", Type: vault.RequestAccess, ReceivedAt: received},
		Contact: &vault.ContactView{
			ID: "ct_8f3a",
			Fields: map[string]any{
				"given_name":    "Jeanne",
				"family_name":   "Martin<script>alert(1)</script>",
				"email":         "jeanne.martin@example.org",
				"phone":         "+33 6 39 98 12 34",
				"postal_code":   "69003",
				"interests":     []string{"vélo", "=HYPERLINK(\"http://evil.example\")", "jardinage & potager"},
				"support_level": "undecided",
				"notes":         "Première ligne\nSeconde ligne, \"citée\"",
				"custom_field":  "-2+3",
			},
			Consents: map[string]vault.ConsentView{
				"newsletter": {Granted: true, At: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), Source: "web form"},
			},
			CreatedAt: time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC),
			UpdatedAt: time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC),
		},
		Consents: map[string]dsrexport.ConsentDetail{
			"newsletter": {Granted: true, At: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), Source: "web form", Proof: "form-2024-118"},
			"sms":        {Granted: false, At: time.Date(2024, 6, 2, 11, 0, 0, 0, time.UTC), Source: "paper", Proof: "@ref 42"},
		},
		Schema: vault.DefaultSchema(),
		Accesses: []dsrexport.Access{
			{Time: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), ActorRole: vault.RoleAgent, ActorID: "tok_a1", Action: vault.ActionContactCreate, Purpose: "casework", Fields: []string{"given_name", "family_name", "email"}},
			{Time: time.Date(2024, 9, 12, 18, 45, 0, 0, time.UTC), ActorRole: vault.RoleVolunteer, ActorID: "tok_v7", Action: vault.ActionContactRead, Purpose: "canvassing", Fields: []string{"given_name", "district"}},
			{Time: time.Date(2025, 3, 2, 8, 15, 0, 0, time.UTC), ActorRole: vault.RoleDPO, ActorID: "tok_d2", Action: "request.verify", Purpose: "dsr"},
		},
		Recipients: []string{"agents of the tenant", "volunteers (masked details)"},
	}
}

// unzip writes a and returns the archive's files by name, checking their
// order and dates.
func unzip(t *testing.T, a *dsrexport.Answer) map[string][]byte {
	t.Helper()
	var buf bytes.Buffer
	if err := dsrexport.Write(&buf, a); err != nil {
		t.Fatalf("Write: %v", err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatalf("zip.NewReader: %v", err)
	}
	files := map[string][]byte{}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if !f.Modified.Equal(a.GeneratedAt) {
			t.Errorf("%s: Modified = %v, want %v", f.Name, f.Modified, a.GeneratedAt)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc) // checks the CRC32
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		files[f.Name] = b
	}
	if want := []string{dsrexport.FileJSON, dsrexport.FileCSV, dsrexport.FileSummary}; !slices.Equal(names, want) {
		t.Fatalf("archive holds %q, want %q", names, want)
	}
	return files
}

// jsonDoc is data.json's layout, as a reader outside the package sees it.
type jsonDoc struct {
	Format      string    `json:"format"`
	GeneratedAt time.Time `json:"generated_at"`
	Controller  string    `json:"controller"`
	Request     struct {
		ID         string    `json:"id"`
		Type       string    `json:"type"`
		ReceivedAt time.Time `json:"received_at"`
	} `json:"request"`
	Subject struct {
		ID        string    `json:"id"`
		CreatedAt time.Time `json:"created_at"`
		UpdatedAt time.Time `json:"updated_at"`
	} `json:"subject"`
	Fields []struct {
		Name        string   `json:"name"`
		Value       any      `json:"value"`
		Category    string   `json:"category"`
		Sensitivity string   `json:"sensitivity"`
		Purposes    []string `json:"purposes"`
		Retention   string   `json:"retention"`
	} `json:"fields"`
	Consents []struct {
		Name    string    `json:"name"`
		Granted bool      `json:"granted"`
		At      time.Time `json:"at"`
		Source  string    `json:"source"`
		Proof   string    `json:"proof"`
	} `json:"consents"`
	Accesses []struct {
		Time      time.Time `json:"time"`
		ActorRole string    `json:"actor_role"`
		ActorID   string    `json:"actor_id"`
		Action    string    `json:"action"`
		Purpose   string    `json:"purpose"`
		Fields    []string  `json:"fields"`
	} `json:"accesses"`
	Recipients []string `json:"recipients"`
}

func decodeJSON(t *testing.T, b []byte) *jsonDoc {
	t.Helper()
	var d jsonDoc
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("data.json: %v", err)
	}
	return &d
}

// asStrings returns a decoded JSON value as a string or a []string.
func asStrings(v any) any {
	l, ok := v.([]any)
	if !ok {
		return v
	}
	s := make([]string, len(l))
	for i, e := range l {
		s[i], _ = e.(string)
	}
	return s
}

func TestWrite(t *testing.T) {
	a := testAnswer()
	files := unzip(t, a)

	t.Run("JSON", func(t *testing.T) {
		d := decodeJSON(t, files[dsrexport.FileJSON])
		if d.Format != "coffre.dsr-export.v1" || !d.GeneratedAt.Equal(a.GeneratedAt) || d.Controller != a.Controller {
			t.Errorf("header = %q %v %q, want the answer's", d.Format, d.GeneratedAt, d.Controller)
		}
		if d.Request.ID != a.Request.ID || d.Request.Type != a.Request.Type || !d.Request.ReceivedAt.Equal(a.Request.ReceivedAt) {
			t.Errorf("request = %+v, want %+v", d.Request, a.Request)
		}
		c := a.Contact
		if d.Subject.ID != c.ID || !d.Subject.CreatedAt.Equal(c.CreatedAt) || !d.Subject.UpdatedAt.Equal(c.UpdatedAt) {
			t.Errorf("subject = %+v, want the contact's", d.Subject)
		}

		// Every field, in the schema's order then by name.
		want := []string{"given_name", "family_name", "email", "phone", "postal_code", "interests", "support_level", "notes", "custom_field"}
		var got []string
		for _, f := range d.Fields {
			got = append(got, f.Name)
			v := asStrings(f.Value)
			switch in := c.Fields[f.Name].(type) {
			case string:
				if v != in {
					t.Errorf("field %s = %#v, want %q", f.Name, v, in)
				}
			case []string:
				if s, ok := v.([]string); !ok || !slices.Equal(s, in) {
					t.Errorf("field %s = %#v, want %q", f.Name, v, in)
				}
			}
			sf := a.Schema.Field(f.Name)
			if sf == nil {
				if f.Category != "" || f.Sensitivity != "" || f.Retention != "" || f.Purposes == nil || len(f.Purposes) != 0 {
					t.Errorf("undeclared field %s = %+v, want no metadata and purposes []", f.Name, f)
				}
				continue
			}
			if f.Category != sf.Category || f.Sensitivity != sf.Sensitivity || f.Retention != sf.Retention || !slices.Equal(f.Purposes, sf.Purposes) {
				t.Errorf("field %s = %+v, want the schema's metadata %+v", f.Name, f, sf)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("fields = %q, want %q", got, want)
		}
		for _, f := range d.Fields {
			if f.Name == "support_level" && f.Sensitivity != vault.SensitivitySpecial {
				t.Errorf("support_level sensitivity = %q, want special", f.Sensitivity)
			}
		}

		// Every consent with its proof, in the schema's order.
		if len(d.Consents) != len(a.Consents) {
			t.Fatalf("%d consents, want %d", len(d.Consents), len(a.Consents))
		}
		for i, name := range []string{"newsletter", "sms"} {
			g, w := d.Consents[i], a.Consents[name]
			if g.Name != name || g.Granted != w.Granted || !g.At.Equal(w.At) || g.Source != w.Source || g.Proof != w.Proof {
				t.Errorf("consent %d = %+v, want %s %+v", i, g, name, w)
			}
		}

		if len(d.Accesses) != len(a.Accesses) {
			t.Fatalf("%d accesses, want %d", len(d.Accesses), len(a.Accesses))
		}
		for i, g := range d.Accesses {
			w := a.Accesses[i]
			if !g.Time.Equal(w.Time) || g.ActorRole != w.ActorRole || g.ActorID != w.ActorID || g.Action != w.Action ||
				g.Purpose != w.Purpose || !slices.Equal(g.Fields, w.Fields) || g.Fields == nil {
				t.Errorf("access %d = %+v, want %+v", i, g, w)
			}
		}
		if !slices.Equal(d.Recipients, a.Recipients) {
			t.Errorf("recipients = %q, want %q", d.Recipients, a.Recipients)
		}
	})

	t.Run("CSV", func(t *testing.T) {
		b, ok := bytes.CutPrefix(files[dsrexport.FileCSV], []byte("\uFEFF"))
		if !ok {
			t.Fatal("data.csv does not start with a UTF-8 byte-order mark")
		}
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("data.csv: %v", err)
		}
		if len(rows) == 0 || !slices.Equal(rows[0], []string{"field", "value", "category", "purposes", "retention"}) {
			t.Fatalf("data.csv header = %q", rows[0])
		}
		i := slices.IndexFunc(rows, func(r []string) bool { return r[0] == "consent" })
		if i < 0 || !slices.Equal(rows[i], []string{"consent", "granted", "at", "source", "proof"}) {
			t.Fatalf("data.csv has no consent header: %q", rows)
		}
		fields, consents := rows[1:i], rows[i+1:]
		if len(fields) != len(a.Contact.Fields) {
			t.Errorf("data.csv has %d field rows, want %d", len(fields), len(a.Contact.Fields))
		}
		byName := map[string][]string{}
		for _, r := range fields {
			byName[r[0]] = r
		}
		for name := range a.Contact.Fields {
			r, ok := byName[name]
			if !ok {
				t.Errorf("data.csv lacks field %s", name)
				continue
			}
			want := map[string]string{
				"given_name":    "Jeanne",
				"family_name":   "Martin<script>alert(1)</script>",
				"email":         "jeanne.martin@example.org",
				"phone":         "'+33 6 39 98 12 34",
				"postal_code":   "69003",
				"interests":     "vélo; =HYPERLINK(\"http://evil.example\"); jardinage & potager",
				"support_level": "undecided",
				"notes":         "Première ligne\nSeconde ligne, \"citée\"",
				"custom_field":  "'-2+3",
			}[name]
			if r[1] != want {
				t.Errorf("data.csv %s = %q, want %q", name, r[1], want)
			}
			if sf := a.Schema.Field(name); sf != nil {
				if r[2] != sf.Category || r[3] != strings.Join(sf.Purposes, "; ") || r[4] != sf.Retention {
					t.Errorf("data.csv %s = %q, want the schema's metadata", name, r)
				}
			}
		}
		wantConsents := [][]string{
			{"newsletter", "true", "2024-05-01T10:00:00Z", "web form", "form-2024-118"},
			{"sms", "false", "2024-06-02T11:00:00Z", "paper", "'@ref 42"},
		}
		if !slices.EqualFunc(consents, wantConsents, slices.Equal) {
			t.Errorf("data.csv consents = %q, want %q", consents, wantConsents)
		}
	})

	t.Run("Summary", func(t *testing.T) {
		page := string(files[dsrexport.FileSummary])
		checkHTML(t, page)
		mustContain := []string{
			`<html lang="fr">`, `<section class="lang" id="fr" lang="fr">`, `<section class="lang" id="en" lang="en">`,
			// Both languages.
			"Vos données personnelles", "Your personal data", "Vos droits", "Your rights",
			"droit d&#39;accès (article 15 du RGPD)", "right of access (GDPR Article 15)",
			"Reçue le", "1er mars 2025", "1 March 2025", "14 mars 2025 à 09:30 UTC", "14 March 2025, 09:30 UTC",
			// The data, escaped.
			"Martin&lt;script&gt;alert(1)&lt;/script&gt;", "Mairie de Lyon &lt;script&gt;",
			// A list field: one item per value.
			`<ul class="values"><li>vélo</li><li>=HYPERLINK(&#34;http://evil.example&#34;)</li><li>jardinage &amp; potager</li></ul>`,
			// A special-category field, flagged in the data and the categories.
			`<tr class="special">` + "\n" + `<th scope="row">Niveau de soutien <code>support_level</code></th>`,
			`<tr class="special">` + "\n" + `<th scope="row">Level of support <code>support_level</code></th>`,
			`<td class="value">Indécis</td>`, `<td class="value">Undecided</td>`,
			`<span class="badge">catégorie particulière (art. 9 RGPD)</span>`, `<span class="badge">special category (GDPR Art. 9)</span>`,
			`<li class="special"><strong>Opinions politiques</strong>`, `<li class="special"><strong>Political opinions</strong>`,
			// Purposes, recipients, retention, source.
			"Suivi de vos demandes et dossiers", "Following up your requests and cases",
			"<li>agents of the tenant</li>", "<li>volunteers (masked details)</li>",
			"<td>3 ans</td>", "<td>3 years</td>", "<td>1 an</td>", "<td>1 year</td>", "<td>non précisée</td>", "<td>not specified</td>",
			"<li>web form</li>", "<li>paper</li>", "Ces données ont été enregistrées par Mairie de Lyon &lt;script&gt;",
			// Consents with proof.
			"form-2024-118", "refusé ou retiré", "refused or withdrawn",
			// Rights.
			"Droit de rectification", "Droit à l&#39;effacement", "Droit à la limitation", "Droit d&#39;opposition",
			"Droit à la portabilité", "Retrait du consentement",
			"Right to rectification", "Right to erasure", "Right to restriction", "Right to object",
			"Right to data portability", "Withdrawal of consent",
			// The CNIL.
			`<a href="https://www.cnil.fr/fr/plaintes">`, "3 Place de Fontenoy", "TSA 80715", "75334 Paris Cedex 07",
		}
		// Each access, in each language: time, role, action, purpose.
		mustContain = append(mustContain,
			"<tr><td>1er mai 2024 à 10:00 UTC</td><td>Agent</td><td>Création de la fiche</td><td>Suivi de vos demandes et dossiers</td><td>Prénom, Nom, Adresse électronique</td></tr>",
			"<tr><td>12 septembre 2024 à 18:45 UTC</td><td>Bénévole</td><td>Consultation</td><td>Porte-à-porte et prise de contact</td><td>Prénom, Quartier</td></tr>",
			"<tr><td>2 mars 2025 à 08:15 UTC</td><td>Délégué à la protection des données</td><td>Traitement de votre demande</td><td>Réponse à vos demandes sur vos données</td><td></td></tr>",
			"<tr><td>1 May 2024, 10:00 UTC</td><td>Staff member</td><td>Record created</td><td>Following up your requests and cases</td><td>Given name, Family name, Email address</td></tr>",
			"<tr><td>12 September 2024, 18:45 UTC</td><td>Volunteer</td><td>Read</td><td>Canvassing</td><td>Given name, District</td></tr>",
			"<tr><td>2 March 2025, 08:15 UTC</td><td>Data protection officer</td><td>Handling of your request</td><td>Answering your data-protection requests</td><td></td></tr>",
		)
		for _, s := range mustContain {
			if !strings.Contains(page, s) {
				t.Errorf("summary.html lacks %q", s)
			}
		}
		// Self-contained: no script, no external resource.
		lower := strings.ToLower(page)
		for _, s := range []string{"<script", "<link", "<img", "<iframe", "src=", "url(", "@import", "javascript:"} {
			if strings.Contains(lower, s) {
				t.Errorf("summary.html holds %q", s)
			}
		}
		for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(page, -1) {
			if m[1] != "#fr" && m[1] != "#en" && m[1] != "https://www.cnil.fr/fr/plaintes" {
				t.Errorf("summary.html links to %q", m[1])
			}
		}
		if fr, en := strings.Index(page, `id="fr"`), strings.Index(page, `id="en"`); fr < 0 || en < fr {
			t.Errorf("French at %d, English at %d: want French first", fr, en)
		}
	})
}

func TestWriteEmpty(t *testing.T) {
	a := &dsrexport.Answer{
		GeneratedAt: generated,
		Request:     dsrexport.Request{ID: "req_2", Type: vault.RequestPortability, ReceivedAt: received},
		Contact:     &vault.ContactView{ID: "ct_2"},
	}
	files := unzip(t, a)
	d := decodeJSON(t, files[dsrexport.FileJSON])
	if d.Fields == nil || d.Consents == nil || d.Accesses == nil || d.Recipients == nil {
		t.Errorf("data.json = %+v, want empty lists, not null", d)
	}
	page := string(files[dsrexport.FileSummary])
	checkHTML(t, page)
	for _, s := range []string{"Nous ne détenons aucune donnée sur vous.", "We hold no data about you.",
		"Aucune opération enregistrée.", "No operation recorded.", "droit à la portabilité", "Controller</dt><dd>—</dd>"} {
		if !strings.Contains(page, s) {
			t.Errorf("summary.html lacks %q", s)
		}
	}
	b, _ := bytes.CutPrefix(files[dsrexport.FileCSV], []byte("\uFEFF"))
	if rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll(); err != nil || len(rows) != 2 {
		t.Errorf("data.csv = %q (%v), want the two header rows", rows, err)
	}
}

func TestWriteContactConsents(t *testing.T) {
	// Without consent details, the contact's consents are exported, with
	// no proof; list values decoded from JSON ([]any) are lists.
	a := testAnswer()
	a.Consents = nil
	a.Contact.Fields["interests"] = []any{"vélo", "marche"}
	d := decodeJSON(t, unzip(t, a)[dsrexport.FileJSON])
	if len(d.Consents) != 1 || d.Consents[0].Name != "newsletter" || !d.Consents[0].Granted || d.Consents[0].Source != "web form" || d.Consents[0].Proof != "" {
		t.Errorf("consents = %+v, want the contact's newsletter consent", d.Consents)
	}
	for _, f := range d.Fields {
		if f.Name == "interests" {
			if v, ok := asStrings(f.Value).([]string); !ok || !slices.Equal(v, []string{"vélo", "marche"}) {
				t.Errorf("interests = %#v, want [vélo marche]", f.Value)
			}
		}
	}
}

// failWriter fails once n bytes are written.
type failWriter struct{ n int }

var errDisk = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, errDisk
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteErr(t *testing.T) {
	var full bytes.Buffer
	if err := dsrexport.Write(&full, testAnswer()); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 100, full.Len() / 3, full.Len() / 2, full.Len() - 1} {
		err := dsrexport.Write(&failWriter{n: n}, testAnswer())
		if !errors.Is(err, errDisk) {
			t.Errorf("Write to a writer failing after %d bytes = %v, want %v", n, err, errDisk)
		}
		if err != nil && (strings.Contains(err.Error(), "Jeanne") || strings.Contains(err.Error(), "Martin")) {
			t.Errorf("error %q holds personal data", err)
		}
	}

	for name, a := range map[string]*dsrexport.Answer{
		"NilAnswer":   nil,
		"NoContact":   {GeneratedAt: generated},
		"NoGenerated": {Contact: &vault.ContactView{ID: "ct"}},
	} {
		var buf bytes.Buffer
		if err := dsrexport.Write(&buf, a); err == nil || !strings.HasPrefix(err.Error(), "dsrexport.Write: ") {
			t.Errorf("%s: Write = %v, want a dsrexport.Write error", name, err)
		}
	}
}

// voidElements have no end tag (HTML Living Standard, 13.1.2).
var voidElements = []string{"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

var (
	tagRE    = regexp.MustCompile(`^<(/?)([a-z][a-z0-9]*)((?:\s+[a-z-]+(?:="[^"<]*")?)*)\s*>`)
	entityRE = regexp.MustCompile(`^&(?:[a-z]+|#[0-9]+|#x[0-9a-f]+);`)
)

// checkHTML checks that page is well-formed: a doctype, then elements that
// each close in order (but void ones), attributes quoted, no stray < or &.
func checkHTML(t *testing.T, page string) {
	t.Helper()
	rest, ok := strings.CutPrefix(page, "<!DOCTYPE html>\n")
	if !ok {
		t.Fatal("summary.html does not start with <!DOCTYPE html>")
	}
	var stack []string
	for len(rest) > 0 {
		switch rest[0] {
		case '<':
			m := tagRE.FindStringSubmatch(rest)
			if m == nil {
				t.Fatalf("malformed tag at %.40q", rest)
			}
			closing, name := m[1] == "/", m[2]
			rest = rest[len(m[0]):]
			switch {
			case closing:
				if len(stack) == 0 || stack[len(stack)-1] != name {
					t.Fatalf("</%s> closes %q", name, stack)
				}
				stack = stack[:len(stack)-1]
			case slices.Contains(voidElements, name):
			case name == "style" || name == "script" || name == "title":
				// Raw text up to the end tag.
				end := strings.Index(rest, "</"+name+">")
				if end < 0 {
					t.Fatalf("<%s> never closes", name)
				}
				if name != "style" && strings.Contains(rest[:end], "<") {
					t.Errorf("<%s> holds a <", name)
				}
				rest = rest[end+len(name)+3:]
			default:
				stack = append(stack, name)
			}
		case '&':
			if !entityRE.MatchString(rest) {
				t.Fatalf("stray & at %.40q", rest)
			}
			rest = rest[1:]
		default:
			rest = rest[1:]
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements %q", stack)
	}
}
