package http

import (
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coffre/coffre/vault"
)

// Contact views are the answers of the busiest routes. appendJSON encodes
// them without reflection, byte for byte as json.Marshal does: members in
// struct order, map keys sorted, omitempty, strings escaped as
// encoding/json escapes them by default (HTML characters, U+2028 and
// U+2029 included, invalid UTF-8 replaced by U+FFFD), times as their
// MarshalJSON writes them. A field value of a type other than string or
// []string, or a time MarshalJSON refuses, makes it give up, so that the
// caller uses json.Marshal, and its error, instead.

// jsonBuffers holds the buffers writeJSON encodes answers into.
var jsonBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 2048)
	return &b
}}

// maxPooledBuffer bounds the buffers put back in jsonBuffers, so that one
// large answer does not stay in memory.
const maxPooledBuffer = 64 << 10

// appendJSON appends the JSON encoding of v to b when v is an answer it
// encodes (a *vault.ContactView, a contactList or a *vault.SegmentResult).
// ok is false otherwise: what it appended is then to be dropped.
func appendJSON(b []byte, v any) (_ []byte, ok bool) {
	switch v := v.(type) {
	case *vault.ContactView:
		return appendContactView(b, v)
	case contactList:
		return appendContactList(b, v)
	case *vault.SegmentResult:
		return appendSegmentResult(b, v)
	}
	return b, false
}

// appendSegmentResult encodes a segment answer as encoding/json does: each
// key omitted when empty, a count that is an int or a string ("< 5").
func appendSegmentResult(b []byte, r *vault.SegmentResult) (_ []byte, ok bool) {
	if r == nil {
		return append(b, "null"...), true
	}
	b = append(b, '{')
	sep := func() {
		if b[len(b)-1] != '{' {
			b = append(b, ',')
		}
	}
	switch c := r.Count.(type) {
	case nil:
	case int:
		b = strconv.AppendInt(append(b, `"count":`...), int64(c), 10)
	case int64:
		b = strconv.AppendInt(append(b, `"count":`...), c, 10)
	case string:
		b = appendString(append(b, `"count":`...), c)
	default:
		return b, false
	}
	if len(r.Contacts) > 0 {
		sep()
		if b, ok = appendContactViews(append(b, `"contacts":`...), r.Contacts); !ok {
			return b, false
		}
	}
	if r.NextCursor != "" {
		sep()
		b = appendString(append(b, `"next_cursor":`...), r.NextCursor)
	}
	return append(b, '}'), true
}

func appendContactList(b []byte, l contactList) (_ []byte, ok bool) {
	b = append(b, `{"contacts":`...)
	if l.Contacts == nil {
		b = append(b, "null"...)
	} else if b, ok = appendContactViews(b, l.Contacts); !ok {
		return b, false
	}
	return append(b, '}'), true
}

// appendContactViews appends a non-nil list of views as a JSON array.
func appendContactViews(b []byte, vs []*vault.ContactView) (_ []byte, ok bool) {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		if b, ok = appendContactView(b, v); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}

func appendContactView(b []byte, v *vault.ContactView) (_ []byte, ok bool) {
	if v == nil {
		return append(b, "null"...), true
	}
	b = append(b, `{"id":`...)
	b = appendString(b, v.ID)
	b = append(b, `,"fields":`...)
	if b, ok = appendFields(b, v.Fields); !ok {
		return b, false
	}
	b = append(b, `,"consents":`...)
	if b, ok = appendConsents(b, v.Consents); !ok {
		return b, false
	}
	b = append(b, `,"created_at":`...)
	if b, ok = appendTime(b, v.CreatedAt); !ok {
		return b, false
	}
	b = append(b, `,"updated_at":`...)
	if b, ok = appendTime(b, v.UpdatedAt); !ok {
		return b, false
	}
	return append(b, '}'), true
}

// appendFields appends a view's fields: strings and lists of strings.
func appendFields(b []byte, m map[string]any) ([]byte, bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	var keys [16]string
	b = append(b, '{')
	for i, k := range sortedKeys(keys[:0], m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		switch v := m[k].(type) {
		case string:
			b = appendString(b, v)
		case []string:
			b = appendStrings(b, v)
		default:
			return b, false
		}
	}
	return append(b, '}'), true
}

func appendConsents(b []byte, m map[string]vault.ConsentView) (_ []byte, ok bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	var keys [16]string
	b = append(b, '{')
	for i, k := range sortedKeys(keys[:0], m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		c := m[k]
		if c.Granted {
			b = append(b, `:{"granted":true,"at":`...)
		} else {
			b = append(b, `:{"granted":false,"at":`...)
		}
		if b, ok = appendTime(b, c.At); !ok {
			return b, false
		}
		if c.Source != "" {
			b = append(b, `,"source":`...)
			b = appendString(b, c.Source)
		}
		b = append(b, '}')
	}
	return append(b, '}'), true
}

// sortedKeys appends the keys of m to keys and sorts them, as
// encoding/json orders the members of a map.
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendTime appends t as time.Time's MarshalJSON writes it; ok is false
// when MarshalJSON would fail (a year outside [0,9999]).
func appendTime(b []byte, t time.Time) (_ []byte, ok bool) {
	b = append(b, '"')
	tb, err := t.AppendText(b)
	if err != nil {
		return b, false
	}
	return append(tb, '"'), true
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// htmlSafe reports the ASCII bytes encoding/json writes as they are in a
// string when it escapes HTML: not the control characters, '"', '\\',
// '<', '>' or '&'.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does with
// HTML escaping on.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// putJSONBuffer puts a buffer of jsonBuffers back unless it grew too large.
func putJSONBuffer(bp *[]byte) {
	if cap(*bp) <= maxPooledBuffer {
		*bp = (*bp)[:0]
		jsonBuffers.Put(bp)
	}
}
