package audit

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// ExportFormat is the version of the export format in the header line.
const ExportFormat = 1

// MaxLineSize bounds one line of an export. An entry of MaxEntrySize, even
// made of characters that need escaping, fits.
const MaxLineSize = 8 << 20

// timeLayout is the only time form of an export: RFC 3339 in UTC with
// exactly six fractional digits.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// ExportHeader is the first line of an export.
type ExportHeader struct {
	// Origin is the log's origin, the name of its checkpoint key.
	Origin string
	// Size is the number of entries in the export: entries 0 to Size-1,
	// the size of its last checkpoint.
	Size uint64
	// Tenant is empty for a full export. An export made for one tenant
	// sets it, shows that tenant's entries in full and the others redacted
	// to their sequence number and leaf hash.
	Tenant string
}

// ExportWriter writes an export (see the package documentation): the
// header, then entries in sequence order, each checkpoint right after the
// entry that completes its tree size. The header's Size, and the size of the
// last checkpoint, is the size of the latest checkpoint when the export
// starts; entries appended since are left to the next export. It is not
// safe for concurrent use.
//
// The writer copies what the store holds without checking it: a gap or a
// leaf hash that does not match its entry is written as found, for Verify
// to name. It refuses only what the format cannot represent.
type ExportWriter struct {
	w   *bufio.Writer
	buf []byte
	enc []byte
}

// NewExportWriter writes the header line h to w and returns a writer for
// the rest. Call Flush at the end.
func NewExportWriter(w io.Writer, h ExportHeader) (*ExportWriter, error) {
	if !utf8.ValidString(h.Origin) || !utf8.ValidString(h.Tenant) {
		return nil, errors.New("audit.NewExportWriter: invalid header")
	}
	x := &ExportWriter{w: bufio.NewWriterSize(w, 256<<10)}
	b := append(x.buf[:0], `{"coffre_audit_export":`...)
	b = strconv.AppendUint(b, ExportFormat, 10)
	b = append(b, `,"origin":`...)
	b = appendJSONString(b, h.Origin)
	b = append(b, `,"tenant":`...)
	b = appendJSONString(b, h.Tenant)
	b = append(b, `,"size":`...)
	b = strconv.AppendUint(b, h.Size, 10)
	b = append(b, "}\n"...)
	x.buf = b
	if _, err := x.w.Write(b); err != nil {
		return nil, fmt.Errorf("audit.NewExportWriter: %w", err)
	}
	return x, nil
}

// WriteEntry writes entry e with leafHash, the leaf hash the store holds
// for it (not one recomputed from e, or a changed entry would go unnoticed
// until the next checkpoint). It returns an error wrapping ErrInvalidEntry
// if e cannot be encoded.
func (x *ExportWriter) WriteEntry(e *Entry, leafHash []byte) error {
	var err error
	if x.enc, err = e.AppendEncode(x.enc[:0]); err != nil {
		return fmt.Errorf("audit.ExportWriter.WriteEntry: entry %d: %w", e.Seq, err)
	}
	if len(leafHash) != HashSize {
		return fmt.Errorf("audit.ExportWriter.WriteEntry: entry %d: leaf hash of %d bytes", e.Seq, len(leafHash))
	}
	x.buf = appendEntryLine(x.buf[:0], e, leafHash)
	if _, err := x.w.Write(x.buf); err != nil {
		return fmt.Errorf("audit.ExportWriter.WriteEntry: %w", err)
	}
	return nil
}

// WriteRedacted writes entry seq redacted to its stored leaf hash, for an
// entry of another tenant than the export's.
func (x *ExportWriter) WriteRedacted(seq uint64, leafHash []byte) error {
	if len(leafHash) != HashSize {
		return fmt.Errorf("audit.ExportWriter.WriteRedacted: entry %d: leaf hash of %d bytes", seq, len(leafHash))
	}
	b := append(x.buf[:0], `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"leaf":"`...)
	b = b64.AppendEncode(b, leafHash)
	x.buf = append(b, "\"}\n"...)
	if _, err := x.w.Write(x.buf); err != nil {
		return fmt.Errorf("audit.ExportWriter.WriteRedacted: %w", err)
	}
	return nil
}

// WriteCheckpoint writes a signed checkpoint note as the store holds it.
// An exporter merges the checkpoints (by size) with the entries (by
// sequence number), writing a checkpoint of size n before the first entry
// whose sequence number is n or more, and the remaining ones at the end: so
// a checkpoint stays in place even when entries before it are missing, and
// Verify names them.
func (x *ExportWriter) WriteCheckpoint(signed []byte) error {
	if !utf8.Valid(signed) {
		return errors.New("audit.ExportWriter.WriteCheckpoint: note is not UTF-8")
	}
	b := append(x.buf[:0], `{"checkpoint":`...)
	b = appendJSONString(b, string(signed))
	x.buf = append(b, "}\n"...)
	if _, err := x.w.Write(x.buf); err != nil {
		return fmt.Errorf("audit.ExportWriter.WriteCheckpoint: %w", err)
	}
	return nil
}

// Flush writes any buffered data to the underlying writer.
func (x *ExportWriter) Flush() error {
	if err := x.w.Flush(); err != nil {
		return fmt.Errorf("audit.ExportWriter.Flush: %w", err)
	}
	return nil
}

// appendEntryLine appends the export line of e, which must encode.
func appendEntryLine(b []byte, e *Entry, leaf []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"time":"`...)
	b = time.UnixMicro(e.Time.UnixMicro()).UTC().AppendFormat(b, timeLayout)
	b = append(b, `","tenant":`...)
	b = appendJSONString(b, e.Tenant)
	b = append(b, `,"actor_id":`...)
	b = appendJSONString(b, e.ActorID)
	b = append(b, `,"actor_role":`...)
	b = appendJSONString(b, e.ActorRole)
	b = append(b, `,"action":`...)
	b = appendJSONString(b, e.Action)
	b = append(b, `,"subject":`...)
	b = appendJSONString(b, e.Subject)
	b = append(b, `,"fields":[`...)
	for i, f := range e.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f)
	}
	b = append(b, `],"purpose":`...)
	b = appendJSONString(b, e.Purpose)
	b = append(b, `,"outcome":`...)
	b = appendJSONString(b, e.Outcome)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, e.RequestID)
	b = append(b, `,"decision_id":`...)
	b = appendJSONString(b, e.DecisionID)
	b = append(b, `,"policy_revision":`...)
	b = appendJSONString(b, e.PolicyRevision)
	b = append(b, `,"sealed":"`...)
	b = b64.AppendEncode(b, e.Sealed)
	b = append(b, `","leaf":"`...)
	b = b64.AppendEncode(b, leaf)
	return append(b, "\"}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s, valid UTF-8, as a JSON string in the one form
// an export allows: '"' and '\' escaped with a backslash, newline, carriage
// return and tab as \n, \r and \t, other control characters as \u00xx in
// lower-case hex, everything else as is.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// lineParser reads one export line in its canonical form only: fixed key
// order, no white space, the escapes of appendJSONString. After the first
// mismatch ok is false and every method returns zero values.
type lineParser struct {
	b  []byte
	i  int
	ok bool
}

func (p *lineParser) fail() { p.ok, p.i = false, len(p.b) }

// lit consumes the literal s.
func (p *lineParser) lit(s string) {
	if !p.ok || len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		p.fail()
		return
	}
	p.i += len(s)
}

// has reports whether the literal s comes next, without consuming it.
func (p *lineParser) has(s string) bool {
	return p.ok && len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s
}

// uint consumes a decimal number without leading zeros that fits 64 bits.
func (p *lineParser) uint() uint64 {
	if !p.ok {
		return 0
	}
	start := p.i
	var n uint64
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		d := uint64(p.b[p.i] - '0')
		if n > (1<<64-1-d)/10 {
			p.fail()
			return 0
		}
		n = n*10 + d
		p.i++
	}
	if p.i == start || (p.b[start] == '0' && p.i-start > 1) {
		p.fail()
		return 0
	}
	return n
}

// str consumes a JSON string and appends its value to dst.
func (p *lineParser) str(dst []byte) []byte {
	if !p.ok || p.i >= len(p.b) || p.b[p.i] != '"' {
		p.fail()
		return dst
	}
	p.i++
	for {
		start := p.i
		for p.i < len(p.b) {
			c := p.b[p.i]
			if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
				break
			}
			p.i++
		}
		dst = append(dst, p.b[start:p.i]...)
		if p.i >= len(p.b) {
			p.fail()
			return dst
		}
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			return dst
		case c == '\\':
			if p.i+1 >= len(p.b) {
				p.fail()
				return dst
			}
			switch e := p.b[p.i+1]; e {
			case '"', '\\':
				dst = append(dst, e)
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				if len(p.b)-p.i < 6 || p.b[p.i+2] != '0' || p.b[p.i+3] != '0' {
					p.fail()
					return dst
				}
				hi, lo := unhex(p.b[p.i+4]), unhex(p.b[p.i+5])
				v := hi<<4 | lo
				if hi > 1 || lo > 15 || v == '\n' || v == '\r' || v == '\t' {
					p.fail()
					return dst
				}
				dst = append(dst, v)
				p.i += 4
			default:
				p.fail()
				return dst
			}
			p.i += 2
		case c < 0x20:
			p.fail()
			return dst
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				p.fail()
				return dst
			}
			dst = append(dst, p.b[p.i:p.i+size]...)
			p.i += size
		}
	}
}

// unhex returns the value of a lower-case hex digit, or 255.
func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return 255
}

// lenString consumes a JSON string and appends its value to dst with the
// 4-byte length prefix of the entry encoding.
func (p *lineParser) lenString(dst []byte) []byte {
	at := len(dst)
	dst = p.str(append(dst, 0, 0, 0, 0))
	binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

// b64 consumes a JSON string holding strict base64 and appends the decoded
// bytes to dst.
func (p *lineParser) b64(dst []byte) []byte {
	if !p.ok || p.i >= len(p.b) || p.b[p.i] != '"' {
		p.fail()
		return dst
	}
	end := p.i + 1
	for end < len(p.b) && p.b[end] != '"' {
		end++
	}
	if end >= len(p.b) {
		p.fail()
		return dst
	}
	src := p.b[p.i+1 : end]
	if bytes.ContainsAny(src, "\r\n") { // the decoder would skip them
		p.fail()
		return dst
	}
	at := len(dst)
	dst = append(dst, make([]byte, b64.DecodedLen(len(src)))...)
	n, err := b64.Decode(dst[at:], src)
	if err != nil {
		p.fail()
		return dst[:at]
	}
	p.i = end + 1
	return dst[:at+n]
}

// time consumes a quoted time in timeLayout and returns it in microseconds
// since the Unix epoch.
func (p *lineParser) time() int64 {
	const n = len(`"2006-01-02T15:04:05.000000Z"`)
	if !p.ok || len(p.b)-p.i < n {
		p.fail()
		return 0
	}
	s := p.b[p.i : p.i+n]
	if s[0] != '"' || s[5] != '-' || s[8] != '-' || s[11] != 'T' || s[14] != ':' || s[17] != ':' ||
		s[20] != '.' || s[27] != 'Z' || s[28] != '"' {
		p.fail()
		return 0
	}
	num := func(a, b int) int {
		v := 0
		for _, c := range s[a:b] {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(1, 5), num(6, 8), num(9, 11)
	hour, minute, sec, micro := num(12, 14), num(15, 17), num(18, 20), num(21, 27)
	if year < 1970 || month < 1 || hour < 0 || minute < 0 || sec < 0 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 || micro < 0 {
		p.fail()
		return 0
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, micro*1000, time.UTC)
	if t.Day() != day { // 31 April and the like
		p.fail()
		return 0
	}
	p.i += n
	return t.UnixMicro()
}
