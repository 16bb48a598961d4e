package vault

import (
	"fmt"
	"strconv"
	"time"
)

// Filter is a segment filter as clients write it: exactly one of a
// combination (and, or, not) or a condition (field with in or age, consent,
// created, updated).
//
//	{"and": [
//	  {"field": "district", "in": ["d3", "d7"]},
//	  {"field": "interests", "in": ["cycling"]},
//	  {"field": "birth_date", "age": {"min": 18, "max": 30}},
//	  {"consent": "newsletter"},
//	  {"not": {"created": {"before": "2024-01-01T00:00:00Z"}}}
//	]}
//
// Values become the same keyed tokens the vault stores: the database never
// sees them.
type Filter struct {
	And     []*Filter  `json:"and,omitempty"`
	Or      []*Filter  `json:"or,omitempty"`
	Not     *Filter    `json:"not,omitempty"`
	Field   string     `json:"field,omitempty"`
	In      []string   `json:"in,omitempty"`
	Age     *AgeRange  `json:"age,omitempty"`
	Consent string     `json:"consent,omitempty"`
	Created *TimeRange `json:"created,omitempty"`
	Updated *TimeRange `json:"updated,omitempty"`
}

// AgeRange is an age band in years, both ends included. Ages are counted
// by birth year: a person's age is the one they reach this calendar year.
type AgeRange struct {
	Min *int `json:"min,omitempty"`
	Max *int `json:"max,omitempty"`
}

// TimeRange bounds a record timestamp: after <= t < before.
type TimeRange struct {
	After  *time.Time `json:"after,omitempty"`
	Before *time.Time `json:"before,omitempty"`
}

// Limits of a filter.
const (
	maxFilterDepth  = 8
	maxFilterNodes  = 200
	maxFilterValues = 200
	maxAge          = 130
)

// filterCompiler turns a Filter into a Cond for one tenant and principal.
type filterCompiler struct {
	schema *Schema
	tok    func(field, value string) []byte
	now    time.Time
	// visible reports whether the principal may filter on a field: the
	// fields their reads would not show are refused.
	visible func(field string) bool
	nodes   int
	fields  map[string]bool
}

func (fc *filterCompiler) invalid(path, format string, args ...any) error {
	return &Error{Code: EINVALID, Message: "Invalid segment filter.",
		Fields: []FieldError{{Field: path, Reason: fmt.Sprintf(format, args...)}}}
}

// compile checks f and turns it into a Cond. Errors are EINVALID naming
// the filter path (e.g. filter.and[2].field) and the reason; they never
// repeat a value.
func (fc *filterCompiler) compile(f *Filter, path string, depth int) (*Cond, error) {
	if f == nil {
		return nil, fc.invalid(path, "is missing")
	}
	if depth > maxFilterDepth {
		return nil, fc.invalid(path, "nests deeper than %d levels", maxFilterDepth)
	}
	if fc.nodes++; fc.nodes > maxFilterNodes {
		return nil, fc.invalid(path, "has more than %d conditions", maxFilterNodes)
	}
	kinds := 0
	for _, set := range []bool{f.And != nil, f.Or != nil, f.Not != nil, f.Field != "", f.Consent != "", f.Created != nil, f.Updated != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return nil, fc.invalid(path, "must hold exactly one of and, or, not, field, consent, created, updated")
	}
	if f.Field == "" && (f.In != nil || f.Age != nil) {
		return nil, fc.invalid(path, "in and age go with field")
	}
	switch {
	case f.And != nil || f.Or != nil:
		op, list, name := CondAnd, f.And, "and"
		if f.Or != nil {
			op, list, name = CondOr, f.Or, "or"
		}
		if len(list) == 0 {
			return nil, fc.invalid(path+"."+name, "must list at least one condition")
		}
		c := &Cond{Op: op}
		for i, ch := range list {
			cc, err := fc.compile(ch, path+"."+name+"["+strconv.Itoa(i)+"]", depth+1)
			if err != nil {
				return nil, err
			}
			c.Children = append(c.Children, cc)
		}
		return c, nil
	case f.Not != nil:
		c, err := fc.compile(f.Not, path+".not", depth+1)
		if err != nil {
			return nil, err
		}
		return &Cond{Op: CondNot, Children: []*Cond{c}}, nil
	case f.Consent != "":
		if !fc.schema.HasConsent(f.Consent) {
			return nil, fc.invalid(path+".consent", "is not a consent of the schema")
		}
		fc.fields["consent."+f.Consent] = true
		return &Cond{Op: CondTokens, Tokens: [][]byte{fc.tok("consent."+f.Consent, "granted")}}, nil
	case f.Created != nil:
		return fc.timeRange(f.Created, ColumnCreated, path+".created")
	case f.Updated != nil:
		return fc.timeRange(f.Updated, ColumnUpdated, path+".updated")
	}
	return fc.field(f, path)
}

func (fc *filterCompiler) field(f *Filter, path string) (*Cond, error) {
	fd := fc.schema.Field(f.Field)
	switch {
	case fd == nil:
		return nil, fc.invalid(path+".field", "is not a field of the schema")
	case fd.Segment == "":
		return nil, fc.invalid(path+".field", "%s is not segmentable", fd.Name)
	case !fc.visible(fd.Name):
		return nil, fc.invalid(path+".field", "%s cannot be used by this role for this purpose", fd.Name)
	}
	fc.fields[fd.Name] = true
	if fd.Segment == SegmentYear {
		if f.In != nil || f.Age == nil {
			return nil, fc.invalid(path, "%s takes an age band: {\"age\": {\"min\": 18, \"max\": 30}}", fd.Name)
		}
		return fc.age(fd, f.Age, path+".age")
	}
	if f.Age != nil || len(f.In) == 0 {
		return nil, fc.invalid(path, "%s takes a list of values: {\"in\": [...]}", fd.Name)
	}
	if len(f.In) > maxFilterValues {
		return nil, fc.invalid(path+".in", "lists more than %d values", maxFilterValues)
	}
	c := &Cond{Op: CondTokens}
	for i, v := range f.In {
		var raw any = v
		if fd.List() {
			raw = []any{v}
		}
		nv, ferr := fd.Normalize(raw, fc.now)
		if ferr != nil {
			return nil, fc.invalid(path+".in["+strconv.Itoa(i)+"]", "%s", ferr.Reason)
		}
		c.Tokens = append(c.Tokens, fd.Tokens(nv, fc.tok)...)
	}
	return c, nil
}

func (fc *filterCompiler) age(fd *Field, a *AgeRange, path string) (*Cond, error) {
	lo, hi := 0, maxAge
	if a.Min != nil {
		lo = *a.Min
	}
	if a.Max != nil {
		hi = *a.Max
	}
	if lo < 0 || hi > maxAge || lo > hi {
		return nil, fc.invalid(path, "must have 0 <= min <= max <= %d", maxAge)
	}
	year := fc.now.Year()
	c := &Cond{Op: CondTokens}
	for y := year - hi; y <= year-lo; y++ {
		c.Tokens = append(c.Tokens, fc.tok(fd.Name, fmt.Sprintf("year:%04d", y)))
	}
	return c, nil
}

func (fc *filterCompiler) timeRange(r *TimeRange, column, path string) (*Cond, error) {
	if r.After == nil && r.Before == nil {
		return nil, fc.invalid(path, "needs after, before or both")
	}
	c := &Cond{Op: CondTime, Column: column}
	if r.After != nil {
		c.From = r.After.UTC()
	}
	if r.Before != nil {
		c.Until = r.Before.UTC()
	}
	if !c.From.IsZero() && !c.Until.IsZero() && !c.From.Before(c.Until) {
		return nil, fc.invalid(path, "after must be before before")
	}
	fc.fields[column] = true
	return c, nil
}

// resolveConsents returns c with every CondConsent replaced by the token of
// the granted consent, which is what stores hold.
func resolveConsents(c *Cond, tok func(field, value string) []byte) *Cond {
	switch c.Op {
	case CondConsent:
		return &Cond{Op: CondTokens, Tokens: [][]byte{tok("consent."+c.Consent, "granted")}}
	case CondAnd, CondOr, CondNot:
		out := &Cond{Op: c.Op, Children: make([]*Cond, len(c.Children))}
		for i, ch := range c.Children {
			out.Children[i] = resolveConsents(ch, tok)
		}
		return out
	}
	return c
}
