package audit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
)

// normalized is what Decode(Encode(e)) must give back.
func normalized(e audit.Entry) audit.Entry {
	e.Time = time.UnixMicro(e.Time.UnixMicro()).UTC()
	if len(e.Fields) == 0 {
		e.Fields = nil
	}
	if len(e.Sealed) == 0 {
		e.Sealed = nil
	}
	return e
}

func TestEncodeRoundTrip(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name  string
		entry audit.Entry
	}{
		{"minimal", audit.Entry{Time: time.Unix(0, 0)}},
		{"full", audit.Entry{Seq: 1<<64 - 1, Time: t0, Tenant: "mairie", ActorID: "tok_1", ActorRole: "dpo",
			Action: "contact.read", Subject: "c_1", Fields: []string{"email", "", "phone"}, Purpose: "casework",
			Outcome: "ok", RequestID: "r", DecisionID: "d", PolicyRevision: "p", Sealed: []byte{0, 1, 2}}},
		{"nanoseconds truncated", audit.Entry{Time: time.Date(2030, 1, 2, 3, 4, 5, 999999999, time.UTC)}},
		{"zone converted", audit.Entry{Time: time.Date(2025, 6, 1, 12, 0, 0, 0, paris)}},
		{"empty slices", audit.Entry{Time: t0, Fields: []string{}, Sealed: []byte{}}},
		{"unicode and controls", audit.Entry{Time: t0, Tenant: "élus\x00\n\"\\", Fields: []string{"\u2028"}}},
		{"last time", audit.Entry{Time: time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.entry.Encode()
			if err != nil {
				t.Fatalf("Encode() error %v", err)
			}
			if b[0] != audit.Version {
				t.Errorf("Encode()[0] = %d, want %d", b[0], audit.Version)
			}
			got, err := audit.Decode(b)
			if err != nil {
				t.Fatalf("Decode(Encode()) error %v", err)
			}
			if want := normalized(tt.entry); !reflect.DeepEqual(*got, want) {
				t.Errorf("Decode(Encode(e)) = %+v, want %+v", *got, want)
			}
			again, err := got.Encode()
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("Encode(Decode(b)) = %x, %v; want %x", again, err, b)
			}
			leaf, err := tt.entry.LeafHash()
			if err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256(append([]byte{0}, b...))
			if !bytes.Equal(leaf, want[:]) || !bytes.Equal(audit.LeafHash(b), want[:]) {
				t.Errorf("LeafHash() = %x, want SHA-256(0x00 || encoding) = %x", leaf, want)
			}
		})
	}
}

// TestEncodeLayout pins the byte layout documented in the package doc.
func TestEncodeLayout(t *testing.T) {
	e := audit.Entry{Seq: 258, Time: time.UnixMicro(1000001), Tenant: "t", Action: "a", Fields: []string{"f"}, Sealed: []byte{0xff}}
	got, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := "01" + "0000000000000102" + "00000000000f4241" +
		"0000000174" + "00000000" + "00000000" + "0000000161" + "00000000" +
		"00000001" + "0000000166" +
		"00000000" + "00000000" + "00000000" + "00000000" + "00000000" +
		"00000001ff"
	if hex.EncodeToString(got) != want {
		t.Errorf("Encode() = %x, want %s", got, want)
	}
}

func TestEncodeInvalid(t *testing.T) {
	tests := []struct {
		name  string
		entry audit.Entry
	}{
		{"zero time", audit.Entry{}},
		{"before 1970", audit.Entry{Time: time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)}},
		{"year 10000", audit.Entry{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"invalid UTF-8", audit.Entry{Time: t0, Subject: "\xff"}},
		{"invalid UTF-8 field", audit.Entry{Time: t0, Fields: []string{"ok", "\xc3"}}},
		{"too large", audit.Entry{Time: t0, Sealed: make([]byte, audit.MaxEntrySize)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.entry.Encode(); !errors.Is(err, audit.ErrInvalidEntry) {
				t.Errorf("Encode() error = %v, want ErrInvalidEntry", err)
			}
			if _, err := tt.entry.LeafHash(); !errors.Is(err, audit.ErrInvalidEntry) {
				t.Errorf("LeafHash() error = %v, want ErrInvalidEntry", err)
			}
		})
	}
}

func TestDecodeRejectsNonCanonical(t *testing.T) {
	e := audit.Entry{Seq: 7, Time: t0, Tenant: "t", Fields: []string{"email"}, Sealed: []byte("x")}
	valid, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	tenantLen := 1 + 8 + 8 // offset of the tenant's length
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"version 0", edit(func(b []byte) []byte { b[0] = 0; return b })},
		{"version 2", edit(func(b []byte) []byte { b[0] = 2; return b })},
		{"trailing byte", append(bytes.Clone(valid), 0)},
		{"truncated", valid[:len(valid)-1]},
		{"header only", valid[:17]},
		{"length past end", edit(func(b []byte) []byte { binary.BigEndian.PutUint32(b[tenantLen:], 1000); return b })},
		{"huge length", edit(func(b []byte) []byte { binary.BigEndian.PutUint32(b[tenantLen:], 0xffffffff); return b })},
		{"huge field count", func() []byte {
			e := audit.Entry{Time: t0}
			b, _ := e.Encode()
			binary.BigEndian.PutUint32(b[17+5*4:], 0xffffffff)
			return b
		}()},
		{"invalid UTF-8", edit(func(b []byte) []byte { b[tenantLen+4] = 0xff; return b })},
		{"time out of range", edit(func(b []byte) []byte { binary.BigEndian.PutUint64(b[9:], 1<<63); return b })},
		{"too large", make([]byte, audit.MaxEntrySize+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := audit.Decode(tt.in); !errors.Is(err, audit.ErrInvalidEntry) {
				t.Errorf("Decode() = %+v, %v; want ErrInvalidEntry", got, err)
			}
		})
	}
}

func TestEncodeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 1000 {
		e := genEntry(r, uint64(i))
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := audit.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if want := normalized(e); !reflect.DeepEqual(*got, want) {
			t.Fatalf("Decode(Encode(e)) = %+v, want %+v", *got, want)
		}
	}
}

// FuzzDecode checks that Decode accepts only canonical encodings: whatever
// it accepts encodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, e := range []audit.Entry{
		{Time: t0},
		{Seq: 9, Time: t0, Tenant: "t", Fields: []string{"a", "b"}, Sealed: []byte{1}},
		{Time: t0, Subject: strings.Repeat("é", 10), Fields: []string{""}},
	} {
		b, err := e.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := audit.Decode(in)
		if err != nil {
			if !errors.Is(err, audit.ErrInvalidEntry) {
				t.Fatalf("Decode() error %v does not wrap ErrInvalidEntry", err)
			}
			return
		}
		out, err := e.Encode()
		if err != nil {
			t.Fatalf("Encode(Decode(in)) error %v", err)
		}
		if !bytes.Equal(in, out) {
			t.Fatalf("Encode(Decode(in)) = %x, want %x", out, in)
		}
	})
}
