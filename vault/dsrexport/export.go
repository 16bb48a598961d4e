package dsrexport

import (
	"archive/zip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/vault"
)

// Answer is what an access or portability answer holds.
type Answer struct {
	// GeneratedAt is when the answer was built; it dates the archive.
	GeneratedAt time.Time
	// Controller is the tenant's name as shown to the person ("Mairie de
	// Lyon").
	Controller string
	Request    Request
	// Contact is the record with every field in the clear.
	Contact *vault.ContactView
	// Consents are the record's consents with their evidence. When nil,
	// Contact.Consents are used, without proof.
	Consents map[string]ConsentDetail
	// Schema gives the category, sensitivity, purposes and retention of
	// each field. A field it does not declare is exported without them.
	Schema *vault.Schema
	// Accesses are the operations of the audit log on the record, in the
	// order given (the log's).
	Accesses []Access
	// Recipients are the categories of recipients of the data ("agents of
	// the town hall", "volunteers (masked details)"), shown as given in
	// both languages of the summary.
	Recipients []string
}

// Request identifies the data-subject request answered.
type Request struct {
	ID string
	// Type is vault.RequestAccess or vault.RequestPortability.
	Type       string
	ReceivedAt time.Time
}

// ConsentDetail is one consent of the person with its evidence.
type ConsentDetail struct {
	Granted bool
	At      time.Time
	// Source says where the consent was collected ("web form", "paper").
	Source string
	// Proof is the evidence of the consent (form id, paper reference).
	Proof string
}

// Access is one operation of the audit log on the record.
type Access struct {
	Time      time.Time
	ActorRole string
	// ActorID is the pseudonymous id of the token used.
	ActorID string
	Action  string
	Purpose string
	// Fields names the fields read or written.
	Fields []string
}

// Names of the archive's files.
const (
	FileJSON    = "data.json"
	FileCSV     = "data.csv"
	FileSummary = "summary.html"
)

// Write writes the answer a as a zip archive to w: FileJSON, FileCSV and
// FileSummary, streamed as they are built. It returns an error if a has no
// contact or no generation time, or if w fails; w then holds a truncated
// archive to discard. Error messages name the file being written, never
// the data. Write is safe for concurrent use on different writers; it does
// not change a.
func Write(w io.Writer, a *Answer) error {
	switch {
	case a == nil || a.Contact == nil:
		return errors.New("dsrexport.Write: no contact")
	case a.GeneratedAt.IsZero():
		return errors.New("dsrexport.Write: GeneratedAt is not set")
	}
	d := build(a)
	zw := zip.NewWriter(w)
	for _, f := range []struct {
		name  string
		write func(io.Writer, *document) error
	}{
		{FileJSON, writeJSON},
		{FileCSV, writeCSV},
		{FileSummary, writeSummary},
	} {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: a.GeneratedAt})
		if err != nil {
			return fmt.Errorf("dsrexport.Write: %s: %w", f.name, err)
		}
		if err := f.write(fw, d); err != nil {
			return fmt.Errorf("dsrexport.Write: %s: %w", f.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("dsrexport.Write: %w", err)
	}
	return nil
}

// document is the answer as data.json holds it; the CSV and the summary
// are built from it too.
type document struct {
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
	Fields     []field   `json:"fields"`
	Consents   []consent `json:"consents"`
	Accesses   []access  `json:"accesses"`
	Recipients []string  `json:"recipients"`
}

// format names the layout of data.json, for programs that read it.
const format = "coffre.dsr-export.v1"

type field struct {
	Name string `json:"name"`
	// Value is a string, or a []string for a list field.
	Value       any      `json:"value"`
	Category    string   `json:"category"`
	Sensitivity string   `json:"sensitivity"`
	Purposes    []string `json:"purposes"`
	Retention   string   `json:"retention"`

	values  []string
	list    bool
	special bool
}

type consent struct {
	Name    string    `json:"name"`
	Granted bool      `json:"granted"`
	At      time.Time `json:"at"`
	Source  string    `json:"source"`
	Proof   string    `json:"proof"`
}

type access struct {
	Time      time.Time `json:"time"`
	ActorRole string    `json:"actor_role"`
	ActorID   string    `json:"actor_id"`
	Action    string    `json:"action"`
	Purpose   string    `json:"purpose"`
	Fields    []string  `json:"fields"`
}

// build gathers a into a document: fields in the schema's order then by
// name, consents likewise, every list non-nil.
func build(a *Answer) *document {
	d := &document{Format: format, GeneratedAt: a.GeneratedAt, Controller: a.Controller}
	d.Request.ID, d.Request.Type, d.Request.ReceivedAt = a.Request.ID, a.Request.Type, a.Request.ReceivedAt
	c := a.Contact
	d.Subject.ID, d.Subject.CreatedAt, d.Subject.UpdatedAt = c.ID, c.CreatedAt, c.UpdatedAt

	var schemaFields, schemaConsents []string
	if a.Schema != nil {
		for _, f := range a.Schema.Fields {
			schemaFields = append(schemaFields, f.Name)
		}
		schemaConsents = a.Schema.Consents
	}
	d.Fields = []field{}
	for _, name := range ordered(c.Fields, schemaFields) {
		f := field{Name: name, Purposes: []string{}}
		var sf *vault.Field
		if a.Schema != nil {
			sf = a.Schema.Field(name)
		}
		if sf != nil {
			f.Category, f.Sensitivity, f.Retention = sf.Category, sf.Sensitivity, sf.Retention
			f.Purposes = append(f.Purposes, sf.Purposes...)
			f.list, f.special = sf.List(), sf.Special()
		}
		f.values, f.list = values(c.Fields[name], f.list)
		if f.list {
			f.Value = f.values
		} else {
			f.Value = f.values[0]
		}
		d.Fields = append(d.Fields, f)
	}

	consents := a.Consents
	if consents == nil {
		consents = make(map[string]ConsentDetail, len(c.Consents))
		for name, cv := range c.Consents {
			consents[name] = ConsentDetail{Granted: cv.Granted, At: cv.At, Source: cv.Source}
		}
	}
	d.Consents = []consent{}
	for _, name := range ordered(consents, schemaConsents) {
		cd := consents[name]
		d.Consents = append(d.Consents, consent{Name: name, Granted: cd.Granted, At: cd.At, Source: cd.Source, Proof: cd.Proof})
	}

	d.Accesses = make([]access, 0, len(a.Accesses))
	for _, x := range a.Accesses {
		d.Accesses = append(d.Accesses, access{Time: x.Time, ActorRole: x.ActorRole, ActorID: x.ActorID,
			Action: x.Action, Purpose: x.Purpose, Fields: append([]string{}, x.Fields...)})
	}
	d.Recipients = append([]string{}, a.Recipients...)
	return d
}

// ordered returns the keys of m: those of first in its order, then the
// others sorted.
func ordered[V any](m map[string]V, first []string) []string {
	keys := make([]string, 0, len(m))
	for _, k := range first {
		if _, ok := m[k]; ok && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range m {
		if !slices.Contains(keys, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(keys, rest...)
}

// values returns a field value as strings, and whether it is a list: a
// []string or []any is one whatever the schema says; a string is one
// value of a list field.
func values(v any, list bool) ([]string, bool) {
	switch v := v.(type) {
	case nil:
		if list {
			return []string{}, true
		}
		return []string{""}, false
	case string:
		return []string{v}, list
	case []string:
		return append([]string{}, v...), true
	case []any:
		s := make([]string, len(v))
		for i, e := range v {
			s[i] = scalar(e)
		}
		return s, true
	}
	return []string{scalar(v)}, list
}

// scalar formats a value that is not a string.
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}

func writeJSON(w io.Writer, d *document) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// csvListSep joins the values of a list field in a cell.
const csvListSep = "; "

// writeCSV writes the fields then, after an empty line, the consents, both
// with five columns under a header row.
func writeCSV(w io.Writer, d *document) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	rows := [][]string{{"field", "value", "category", "purposes", "retention"}}
	for _, f := range d.Fields {
		rows = append(rows, []string{f.Name, strings.Join(f.values, csvListSep), f.Category,
			strings.Join(f.Purposes, csvListSep), f.Retention})
	}
	rows = append(rows, nil, []string{"consent", "granted", "at", "source", "proof"})
	for _, c := range d.Consents {
		rows = append(rows, []string{c.Name, strconv.FormatBool(c.Granted), c.At.Format(time.RFC3339), c.Source, c.Proof})
	}
	for _, row := range rows {
		for i, cell := range row {
			row[i] = cellSafe(cell)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cellSafe prefixes with a quote a cell that a spreadsheet would read as a
// formula (OWASP CSV injection).
func cellSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
