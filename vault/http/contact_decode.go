package http

import "unicode/utf8"

// Contact bodies are the requests of the busiest write routes, and
// encoding/json decodes them by reflection, once for the body and once
// more for each consent. decodeContactFast reads the shape they nearly
// always have straight from the bytes:
//
//	{"fields": {name: string, array of strings or null, ...} or null,
//	 "consents": {name: {"granted": true, false or null,
//	                     "at", "source", "proof": string or null}, ...} or null}
//
// with member names spelled exactly so, each at most once, strings without
// escapes or control characters and in valid UTF-8, and nothing after the
// object but white space. What it gives is what decodeJSON gives for such a
// body: strings as string, arrays as []any of strings, null as nil, each
// consent as its consentBody. Anything else (numbers, booleans or objects
// among the fields, escapes, invalid UTF-8, another spelling of a member,
// a repeated member, a member a consent does not have, trailing data, bad
// syntax) makes it give up without an error, so that decodeJSON reads the
// body and writes the error the caller gets, as it always has.

// decodeContactFast decodes a contact body of the common shape. ok is
// false when the body has any other shape: the caller then decodes it
// with decodeJSON.
func decodeContactFast(b []byte) (fields map[string]any, consents map[string]consentBody, ok bool) {
	d := fastDecoder{b: b}
	var seenFields, seenConsents bool
	ok = d.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "fields":
			if seenFields {
				return false
			}
			seenFields = true
			fields, ok = d.fields()
		case "consents":
			if seenConsents {
				return false
			}
			seenConsents = true
			consents, ok = d.consents()
		}
		return ok
	})
	if !ok {
		return nil, nil, false
	}
	d.space()
	if d.i != len(b) {
		return nil, nil, false
	}
	return fields, consents, true
}

// fastDecoder reads JSON from b, at i.
type fastDecoder struct {
	b []byte
	i int
}

// space skips the white space JSON allows between tokens.
func (d *fastDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
		default:
			return
		}
	}
}

// next skips white space and then c, reporting whether c was there.
func (d *fastDecoder) next(c byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// null skips white space and then the literal null, reporting whether it
// was there. What follows it is the caller's to check, as after any value.
func (d *fastDecoder) null() bool { return d.literal("null") }

// literal skips white space and then lit, reporting whether it was there.
func (d *fastDecoder) literal(lit string) bool {
	d.space()
	if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

// str reads a string and returns its bytes, unquoted. ok is false for a
// string with an escape or a control character, in invalid UTF-8, or not
// closed, or when the next token is not a string: encoding/json would
// then unescape, replace invalid UTF-8 with U+FFFD, or refuse the body.
// The bytes are b's: they are copied when they are kept.
func (d *fastDecoder) str() (_ []byte, ok bool) {
	if !d.next('"') {
		return nil, false
	}
	start, ascii := d.i, true
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			s := d.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			d.i = j + 1
			return s, true
		case c == '\\' || c < ' ':
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// key reads a member name and the colon after it.
func (d *fastDecoder) key() (_ []byte, ok bool) {
	k, ok := d.str()
	if !ok || !d.next(':') {
		return nil, false
	}
	return k, true
}

// object reads an object, calling member for each member name with the
// decoder at its value, which member reads. It reports false when the next
// token is not an object, on bad syntax, or when member does.
func (d *fastDecoder) object(member func(key []byte) bool) bool {
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return true
	}
	for {
		k, ok := d.key()
		if !ok || !member(k) {
			return false
		}
		if !d.next(',') {
			return d.next('}')
		}
	}
}

// fields reads the value of "fields": null, or an object of strings,
// arrays of strings and nulls.
func (d *fastDecoder) fields() (_ map[string]any, ok bool) {
	if d.null() {
		return nil, true
	}
	m := make(map[string]any)
	ok = d.object(func(k []byte) bool {
		if _, dup := m[string(k)]; dup {
			return false
		}
		d.space()
		if d.i == len(d.b) {
			return false
		}
		switch d.b[d.i] {
		case '"':
			s, ok := d.str()
			if !ok {
				return false
			}
			m[string(k)] = string(s)
		case '[':
			a, ok := d.strings()
			if !ok {
				return false
			}
			m[string(k)] = a
		default:
			if !d.null() {
				return false
			}
			m[string(k)] = nil
		}
		return true
	})
	if !ok {
		return nil, false
	}
	return m, true
}

// strings reads an array of strings as encoding/json decodes it into an
// interface value: a []any, empty rather than nil for [].
func (d *fastDecoder) strings() (_ []any, ok bool) {
	if !d.next('[') {
		return nil, false
	}
	a := make([]any, 0, 4)
	if d.next(']') {
		return a, true
	}
	for {
		s, ok := d.str()
		if !ok {
			return nil, false
		}
		a = append(a, string(s))
		if !d.next(',') {
			if !d.next(']') {
				return nil, false
			}
			return a, true
		}
	}
}

// consents reads the value of "consents": null, or an object of consents.
func (d *fastDecoder) consents() (_ map[string]consentBody, ok bool) {
	if d.null() {
		return nil, true
	}
	m := make(map[string]consentBody)
	ok = d.object(func(k []byte) bool {
		if _, dup := m[string(k)]; dup {
			return false
		}
		c, ok := d.consent()
		if !ok {
			return false
		}
		m[string(k)] = c
		return true
	})
	if !ok {
		return nil, false
	}
	return m, true
}

// consent reads one consent, an object of granted, at, source and proof,
// as decodeJSON reads it into a consentBody: a null leaves the member at
// its zero value.
func (d *fastDecoder) consent() (c consentBody, ok bool) {
	const (
		granted = 1 << iota
		at
		source
		proof
	)
	var seen int
	ok = d.object(func(k []byte) bool {
		var member int
		ok := true
		switch string(k) {
		case "granted":
			member = granted
			switch {
			case d.literal("true"):
				t := true
				c.Granted = &t
			case d.literal("false"):
				f := false
				c.Granted = &f
			case !d.null():
				return false
			}
		case "at":
			member = at
			if !d.null() {
				s, ok := d.str()
				if !ok {
					return false
				}
				t := string(s)
				c.At = &t
			}
		case "source":
			member = source
			c.Source, ok = d.optString()
		case "proof":
			member = proof
			c.Proof, ok = d.optString()
		default:
			return false
		}
		if !ok || seen&member != 0 {
			return false
		}
		seen |= member
		return true
	})
	return c, ok
}

// optString reads a string or null, which leaves a string member empty.
func (d *fastDecoder) optString() (string, bool) {
	if d.null() {
		return "", true
	}
	s, ok := d.str()
	return string(s), ok
}
