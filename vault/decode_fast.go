package vault

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// The plaintexts of list fields and consent evidence are JSON that seal
// wrote with json.Marshal. Opening a record reads them back on every read
// of a contact, so decodeList and decodeSealedConsent first try a reader
// of exactly that form: no whitespace, members in struct order, valid
// UTF-8, any escape but a \u escape of a UTF-16 surrogate (json.Marshal
// writes none). Whatever it does not recognise, including valid JSON of
// another shape, is left to json.Unmarshal, so the result and the errors
// are those of json.Unmarshal.

// decodeList decodes the plaintext of a list field as json.Unmarshal into
// a []string does: "[]" is an empty slice, "null" a nil one.
func decodeList(pt []byte) ([]string, error) {
	if ss, ok := fastList(pt); ok {
		return ss, nil
	}
	var ss []string
	if err := json.Unmarshal(pt, &ss); err != nil {
		return nil, err
	}
	return ss, nil
}

// decodeSealedConsent decodes the sealed part of a consent as
// json.Unmarshal into a sealedConsent does.
func decodeSealedConsent(pt []byte) (sealedConsent, error) {
	if sc, ok := fastSealedConsent(pt); ok {
		return sc, nil
	}
	var sc sealedConsent
	if err := json.Unmarshal(pt, &sc); err != nil {
		return sealedConsent{}, err
	}
	return sc, nil
}

// fastList decodes what json.Marshal writes for a non-nil []string:
// `[]` or `["a","b"]`. ok is false for anything else.
func fastList(b []byte) (_ []string, ok bool) {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' || !utf8.Valid(b) {
		return nil, false
	}
	if len(b) == 2 {
		return []string{}, true
	}
	// One copy of the whole text: items without escapes are substrings
	// of it. Each item has two quotes, so this bounds the count.
	s := string(b)
	ss := make([]string, 0, bytes.Count(b, []byte{'"'})/2)
	i := 1
	for {
		var item string
		if item, i, ok = fastString(s, i); !ok {
			return nil, false
		}
		ss = append(ss, item)
		switch {
		case i == len(s)-1:
			return ss, true // s[i] is the closing ']'
		case i < len(s)-1 && s[i] == ',':
			i++
		default:
			return nil, false
		}
	}
}

// fastSealedConsent decodes what json.Marshal writes for a sealedConsent:
// `{}`, `{"source":"s"}`, `{"proof":"p"}` or `{"source":"s","proof":"p"}`.
// ok is false for anything else.
func fastSealedConsent(b []byte) (sc sealedConsent, ok bool) {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' || !utf8.Valid(b) {
		return sealedConsent{}, false
	}
	if len(b) == 2 {
		return sealedConsent{}, true
	}
	s := string(b)
	i := 1
	if strings.HasPrefix(s[i:], `"source":`) {
		if sc.Source, i, ok = fastString(s, i+len(`"source":`)); !ok {
			return sealedConsent{}, false
		}
		if i == len(s)-1 {
			return sc, true // s[i] is the closing '}'
		}
		if s[i] != ',' || !strings.HasPrefix(s[i+1:], `"proof":`) {
			return sealedConsent{}, false
		}
		i++
	}
	if strings.HasPrefix(s[i:], `"proof":`) {
		if sc.Proof, i, ok = fastString(s, i+len(`"proof":`)); !ok {
			return sealedConsent{}, false
		}
	}
	// s[len(s)-1] is the closing '}'.
	if i != len(s)-1 {
		return sealedConsent{}, false
	}
	return sc, true
}

// fastString decodes the JSON string starting at s[i], which must be its
// opening quote, and returns it and the index after its closing quote.
// s must be valid UTF-8. ok is false when there is no string there, or it
// holds a raw control character or an escape it does not decode (a
// \u escape of a UTF-16 surrogate, which json.Unmarshal pairs or
// replaces).
func fastString(s string, i int) (_ string, next int, ok bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	start := i + 1
	for j := start; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return s[start:j], j + 1, true
		case c == '\\':
			return unescapeString(s, start, j)
		case c < ' ':
			return "", 0, false
		}
	}
	return "", 0, false
}

// unescapeString is fastString past the first backslash, at s[j], of the
// string whose text starts at s[start].
func unescapeString(s string, start, j int) (_ string, next int, ok bool) {
	buf := make([]byte, 0, len(s)-start)
	buf = append(buf, s[start:j]...)
	for j < len(s) {
		c := s[j]
		switch {
		case c == '"':
			return string(buf), j + 1, true
		case c < ' ':
			return "", 0, false
		case c != '\\':
			buf = append(buf, c)
			j++
			continue
		}
		if j+1 >= len(s) {
			return "", 0, false
		}
		switch e := s[j+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r := hex4(s[j+2:])
			if r < 0 || 0xd800 <= r && r < 0xe000 {
				return "", 0, false
			}
			buf = utf8.AppendRune(buf, r)
			j += 4
		default:
			return "", 0, false
		}
		j += 2
	}
	return "", 0, false
}

// hex4 returns the value of the four hexadecimal digits s starts with, or
// -1.
func hex4(s string) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range []byte(s[:4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
