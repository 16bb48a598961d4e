package vault

import (
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// defaultMaxLength bounds a text value when the schema sets no limit.
const defaultMaxLength = 1000

// Normalize validates a value decoded from JSON for field f and returns its
// normalised form: a string, or a []string for a tags field. The reason of
// a failure describes the rule, never the value, so it is safe to show.
// now bounds dates.
func (f *Field) Normalize(v any, now time.Time) (any, *FieldError) {
	fail := func(reason string) (any, *FieldError) {
		return nil, &FieldError{Field: f.Name, Reason: reason}
	}
	if f.List() {
		items, ok := v.([]any)
		if !ok {
			if ss, ok2 := v.([]string); ok2 {
				for _, s := range ss {
					items = append(items, s)
				}
			} else {
				return fail("must be an array of strings")
			}
		}
		max := f.MaxItems
		if max == 0 {
			max = 100
		}
		if len(items) > max {
			return fail("has too many items")
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			s, ok := it.(string)
			if !ok {
				return fail("must be an array of strings")
			}
			s, reason := f.normalizeText(s)
			if reason != "" {
				return fail("item " + reason)
			}
			s = strings.ToLower(s)
			if len(f.Values) > 0 && !slices.Contains(f.Values, s) {
				return fail("item is not one of the allowed values")
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		slices.Sort(out)
		return out, nil
	}
	s, ok := v.(string)
	if !ok {
		return fail("must be a string")
	}
	var reason string
	switch f.Type {
	case TypeEmail:
		s, reason = normalizeEmail(s)
	case TypePhone:
		s, reason = NormalizePhone(s)
	case TypeDate:
		s, reason = normalizeDate(s, now)
	case TypeEnum:
		s = strings.TrimSpace(s)
		if !slices.Contains(f.Values, s) {
			reason = "is not one of the allowed values"
		}
	default:
		s, reason = f.normalizeText(s)
	}
	if reason != "" {
		return fail(reason)
	}
	return s, nil
}

func (f *Field) normalizeText(s string) (string, string) {
	if !utf8.ValidString(s) {
		return "", "is not valid UTF-8"
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	if s == "" {
		return "", "must not be empty (send null to remove the field)"
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "", "contains control characters"
		}
	}
	max := f.MaxLength
	if max == 0 {
		max = defaultMaxLength
	}
	if utf8.RuneCountInString(s) > max {
		return "", "is too long"
	}
	if f.pattern != nil && !f.pattern.MatchString(s) {
		return "", "does not have the expected format"
	}
	return s, ""
}

func normalizeEmail(s string) (string, string) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", "must not be empty (send null to remove the field)"
	}
	if len(s) > 254 || !utf8.ValidString(s) {
		return "", "is not a valid email address"
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", "is not a valid email address"
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if at < 1 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", "is not a valid email address"
	}
	return s, ""
}

// NormalizePhone returns a phone number in E.164 form (+33612345678).
// National French numbers (0X XX XX XX XX) are the default; other numbers
// need their international prefix (+ or 00). Spaces, dots, dashes and
// brackets are ignored. The second result is a failure reason or "".
func NormalizePhone(s string) (string, string) {
	const bad = "is not a valid phone number (French national or international +CC form)"
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '.' || r == '-' || r == '(' || r == ')' || r == '\u00a0':
		default:
			return "", bad
		}
	}
	d := b.String()
	switch {
	case strings.HasPrefix(d, "+"):
		d = d[1:]
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	case len(d) == 10 && d[0] == '0' && d[1] != '0':
		d = "33" + d[1:]
	default:
		return "", bad
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", bad
	}
	if strings.HasPrefix(d, "33") {
		// French numbers: 9 digits after the country code, with the
		// trunk 0 dropped (+33 0… is a common mistake, accepted).
		rest := strings.TrimPrefix(d[2:], "0")
		if len(rest) != 9 || rest[0] == '0' {
			return "", bad
		}
		d = "33" + rest
	}
	return "+" + d, ""
}

func normalizeDate(s string, now time.Time) (string, string) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return "", "must be a date in YYYY-MM-DD form"
	}
	if t.Year() < 1900 || t.After(now) {
		return "", "must be a date between 1900-01-01 and today"
	}
	return t.Format(time.DateOnly), ""
}

// Mask returns the masked form of a normalised value: enough for a
// volunteer to recognise a contact, not enough to reach them.
//
//	email        j***@example.org
//	phone (FR)   06 ** ** ** 78
//	phone        +44 ******** 78
//	date         1984 (year only)
//	text, enum   J***
//	tags         *** for each item
func (f *Field) Mask(v any) any {
	if ss, ok := v.([]string); ok {
		out := make([]string, len(ss))
		for i := range ss {
			out[i] = "***"
		}
		return out
	}
	s, _ := v.(string)
	if s == "" {
		return "***"
	}
	switch f.Type {
	case TypeEmail:
		at := strings.LastIndexByte(s, '@')
		if at < 1 {
			return "***"
		}
		r, _ := utf8.DecodeRuneInString(s)
		return string(r) + "***" + s[at:]
	case TypePhone:
		if strings.HasPrefix(s, "+33") && len(s) == 12 {
			return "0" + s[3:4] + " ** ** ** " + s[10:]
		}
		if len(s) > 6 {
			return s[:3] + " " + strings.Repeat("*", len(s)-5) + " " + s[len(s)-2:]
		}
		return "***"
	case TypeDate:
		if len(s) >= 4 {
			return s[:4]
		}
		return "***"
	case TypeEnum:
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(s)
	return string(r) + "***"
}

// Tokens returns the segmentation tokens of a normalised value, through
// tok (a TenantKeys.SegmentToken). Year segments tokenise "year:YYYY".
func (f *Field) Tokens(v any, tok func(field, value string) []byte) [][]byte {
	switch f.Segment {
	case SegmentExact:
		if ss, ok := v.([]string); ok {
			out := make([][]byte, len(ss))
			for i, s := range ss {
				out[i] = tok(f.Name, s)
			}
			return out
		}
		return [][]byte{tok(f.Name, v.(string))}
	case SegmentYear:
		s := v.(string)
		return [][]byte{tok(f.Name, "year:"+s[:4])}
	}
	return nil
}
