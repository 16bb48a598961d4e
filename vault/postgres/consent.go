package postgres

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/coffre/coffre/vault"
)

// The consents column holds {"name": {"granted": bool, "at": time}}. Every
// read of a record decodes it, so it is encoded and decoded by hand rather
// than through encoding/json's reflection; anything the fast paths do not
// expect goes through encoding/json.

// consentsJSON encodes consent states for the consents column, times in
// UTC, as json.Marshal would.
func consentsJSON(m map[string]vault.ConsentState) ([]byte, error) {
	if len(m) == 0 {
		return []byte("{}"), nil
	}
	b := make([]byte, 0, 64*len(m))
	b = append(b, '{')
	for k, c := range m {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, `:{"granted":`...)
		b = strconv.AppendBool(b, c.Granted)
		b = append(b, `,"at":`...)
		at, err := c.At.UTC().MarshalJSON()
		if err != nil {
			return nil, vault.Errorf(vault.EINVALID, "Invalid consent time.")
		}
		b = append(b, at...)
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// parseConsents decodes the consents column, times in UTC.
func parseConsents(b []byte) (map[string]vault.ConsentState, error) {
	if m, ok := parseConsentsFast(b); ok {
		return m, nil
	}
	var m map[string]vault.ConsentState
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("consents: %w", err)
	}
	if m == nil {
		m = map[string]vault.ConsentState{}
	}
	for k, c := range m {
		c.At = c.At.UTC()
		m[k] = c
	}
	return m, nil
}

// parseConsentsFast decodes the consents column as PostgreSQL prints
// jsonb: an object of objects with the members granted and at, strings
// without escapes. It reports false for anything else.
func parseConsentsFast(b []byte) (map[string]vault.ConsentState, bool) {
	p := jsonScanner{b: b}
	if !p.byte('{') {
		return nil, false
	}
	m := make(map[string]vault.ConsentState)
	if p.byte('}') {
		return m, p.end()
	}
	for {
		name, ok := p.str()
		if !ok || !p.byte(':') || !p.byte('{') {
			return nil, false
		}
		var c vault.ConsentState
		var seenGranted, seenAt bool
		for {
			key, ok := p.str()
			if !ok || !p.byte(':') {
				return nil, false
			}
			switch {
			case key == "granted" && !seenGranted:
				seenGranted = true
				if c.Granted, ok = p.boolean(); !ok {
					return nil, false
				}
			case key == "at" && !seenAt:
				seenAt = true
				s, ok := p.str()
				if !ok {
					return nil, false
				}
				t, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					return nil, false
				}
				c.At = t.UTC()
			default:
				return nil, false
			}
			if p.byte('}') {
				break
			}
			if !p.byte(',') {
				return nil, false
			}
		}
		if _, dup := m[name]; dup {
			return nil, false
		}
		m[name] = c
		if p.byte('}') {
			return m, p.end()
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

// jsonScanner reads the JSON tokens parseConsentsFast needs.
type jsonScanner struct {
	b []byte
	i int
}

func (p *jsonScanner) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

// byte consumes c, after white space, if it is next.
func (p *jsonScanner) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str consumes a string without escapes or control characters.
func (p *jsonScanner) str() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, true
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

func (p *jsonScanner) boolean() (v, ok bool) {
	p.space()
	switch {
	case len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "true":
		p.i += 4
		return true, true
	case len(p.b)-p.i >= 5 && string(p.b[p.i:p.i+5]) == "false":
		p.i += 5
		return false, true
	}
	return false, false
}

// end reports whether only white space is left.
func (p *jsonScanner) end() bool {
	p.space()
	return p.i == len(p.b)
}
