package vault

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"time"
)

// Field types of a schema.
const (
	TypeText  = "text"
	TypeEmail = "email"
	TypePhone = "phone"
	TypeDate  = "date"
	TypeEnum  = "enum"
	TypeTags  = "tags"
)

// Segmentation kinds of a field.
const (
	// SegmentExact makes a token of each normalised value (each element of
	// a tags field).
	SegmentExact = "exact"
	// SegmentYear makes a token of the year of a date, for age bands.
	SegmentYear = "year"
)

// Sensitivities of a field.
const (
	SensitivityNormal = "normal"
	// SensitivitySpecial marks GDPR Art. 9 special-category data.
	SensitivitySpecial = "special"
)

// Schema describes a tenant's contact fields and consents. It is immutable
// once loaded and safe for concurrent use.
type Schema struct {
	Version  int      `json:"version"`
	Name     string   `json:"name"`
	Purposes []string `json:"purposes"`
	Fields   []*Field `json:"fields"`
	Consents []string `json:"consents"`

	byName   map[string]*Field
	hasScope bool
}

// Field describes one contact field.
type Field struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Category    string `json:"category"`
	Sensitivity string `json:"sensitivity,omitempty"`
	Required    bool   `json:"required,omitempty"`
	// Lookup gives the field a blind index for search; Unique makes the
	// store refuse two contacts of a tenant with the same value.
	Lookup bool `json:"lookup,omitempty"`
	Unique bool `json:"unique,omitempty"`
	// Segment is "", SegmentExact or SegmentYear.
	Segment string `json:"segment,omitempty"`
	// Scope names the principal attribute that limits access by this
	// field (e.g. "districts": a volunteer reaches only the contacts whose
	// district is one of theirs). It needs an exact segment.
	Scope string `json:"scope,omitempty"`
	// Values lists the allowed values of an enum or tags field; empty
	// means any value for tags.
	Values    []string `json:"values,omitempty"`
	MaxLength int      `json:"max_length,omitempty"`
	MaxItems  int      `json:"max_items,omitempty"`
	Pattern   string   `json:"pattern,omitempty"`
	// Purposes lists the purposes this field may be served for.
	Purposes []string `json:"purposes,omitempty"`
	// Retention is an ISO 8601 duration (e.g. P3Y) after the last contact.
	Retention string `json:"retention,omitempty"`

	pattern *regexp.Regexp
}

// Special reports whether the field holds GDPR Art. 9 special-category data.
func (f *Field) Special() bool { return f.Sensitivity == SensitivitySpecial }

// List reports whether the field holds a list of values.
func (f *Field) List() bool { return f.Type == TypeTags }

//go:embed schema_default.json
var defaultSchemaJSON []byte

// DefaultSchema returns the civic CRM schema shipped with Coffre.
func DefaultSchema() *Schema {
	s, err := ParseSchema(defaultSchemaJSON)
	if err != nil {
		panic("vault.DefaultSchema: shipped schema is invalid: " + err.Error())
	}
	return s
}

// DefaultSchemaJSON returns the shipped schema document, as a starting
// point for a tenant's own.
func DefaultSchemaJSON() []byte { return slices.Clone(defaultSchemaJSON) }

// ReadSchema reads and validates a schema document.
func ReadSchema(r io.Reader) (*Schema, error) {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("vault.ReadSchema: %w", err)
	}
	return ParseSchema(b)
}

var fieldNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// ParseSchema parses and validates a schema document; EINVALID with the
// reason when it is not a valid schema.
func ParseSchema(b []byte) (*Schema, error) {
	var s Schema
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, Errorf(EINVALID, "schema: %v", err)
	}
	if s.Version != 1 {
		return nil, Errorf(EINVALID, "schema: unsupported version %d", s.Version)
	}
	s.byName = make(map[string]*Field, len(s.Fields))
	for i, f := range s.Fields {
		if err := f.check(); err != nil {
			return nil, Errorf(EINVALID, "schema: field %d (%q): %v", i, f.Name, err)
		}
		if _, dup := s.byName[f.Name]; dup {
			return nil, Errorf(EINVALID, "schema: field %q defined twice", f.Name)
		}
		for _, p := range f.Purposes {
			if !slices.Contains(s.Purposes, p) {
				return nil, Errorf(EINVALID, "schema: field %q names undeclared purpose %q", f.Name, p)
			}
		}
		s.byName[f.Name] = f
		s.hasScope = s.hasScope || f.Scope != ""
	}
	for _, c := range s.Consents {
		if !fieldNameRE.MatchString(c) {
			return nil, Errorf(EINVALID, "schema: invalid consent name %q", c)
		}
	}
	return &s, nil
}

func (f *Field) check() error {
	if !fieldNameRE.MatchString(f.Name) {
		return fmt.Errorf("name must match %s", fieldNameRE)
	}
	switch f.Type {
	case TypeText, TypeEmail, TypePhone, TypeDate:
	case TypeEnum:
		if len(f.Values) == 0 {
			return fmt.Errorf("enum needs values")
		}
	case TypeTags:
	default:
		return fmt.Errorf("unknown type %q", f.Type)
	}
	switch f.Sensitivity {
	case "":
		f.Sensitivity = SensitivityNormal
	case SensitivityNormal, SensitivitySpecial:
	default:
		return fmt.Errorf("unknown sensitivity %q", f.Sensitivity)
	}
	if f.Category == "" {
		return fmt.Errorf("category is required")
	}
	if f.Unique && !f.Lookup {
		return fmt.Errorf("unique needs lookup")
	}
	if f.Lookup && f.Type == TypeTags {
		return fmt.Errorf("a tags field cannot be a lookup field")
	}
	switch f.Segment {
	case "", SegmentExact:
	case SegmentYear:
		if f.Type != TypeDate {
			return fmt.Errorf("segment %q needs a date field", f.Segment)
		}
	default:
		return fmt.Errorf("unknown segment kind %q", f.Segment)
	}
	if f.Scope != "" && (f.Segment != SegmentExact || f.List() || !fieldNameRE.MatchString(f.Scope)) {
		return fmt.Errorf("scope %q needs a single-valued field with an exact segment and an attribute name", f.Scope)
	}
	if f.Retention != "" {
		if _, err := ParseRetention(f.Retention); err != nil {
			return err
		}
	}
	if f.Pattern != "" {
		re, err := regexp.Compile(f.Pattern)
		if err != nil {
			return fmt.Errorf("pattern: %v", err)
		}
		f.pattern = re
	}
	if f.MaxLength < 0 || f.MaxItems < 0 {
		return fmt.Errorf("negative limit")
	}
	return nil
}

// Field returns the field with that name, or nil.
func (s *Schema) Field(name string) *Field { return s.byName[name] }

// HasConsent reports whether the schema declares that consent.
func (s *Schema) HasConsent(name string) bool { return slices.Contains(s.Consents, name) }

// ParseRetention parses the ISO 8601 durations a schema uses for retention:
// PnY, PnM or PnD.
func ParseRetention(s string) (Retention, error) {
	var n int
	var unit byte
	if _, err := fmt.Sscanf(s, "P%d%c", &n, &unit); err != nil || n <= 0 || fmt.Sprintf("P%d%c", n, unit) != s {
		return Retention{}, fmt.Errorf("retention %q is not PnY, PnM or PnD", s)
	}
	switch unit {
	case 'Y':
		return Retention{Years: n}, nil
	case 'M':
		return Retention{Months: n}, nil
	case 'D':
		return Retention{Days: n}, nil
	}
	return Retention{}, fmt.Errorf("retention %q is not PnY, PnM or PnD", s)
}

// Retention is a calendar duration.
type Retention struct{ Years, Months, Days int }

// After returns t plus the duration.
func (r Retention) After(t time.Time) time.Time { return t.AddDate(r.Years, r.Months, r.Days) }
