package audit_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
)

func verify(tb testing.TB, export []byte, vkey string, opts audit.VerifyOptions) (*audit.Summary, error) {
	tb.Helper()
	return audit.Verify(context.Background(), bytes.NewReader(export), vkey, opts)
}

func TestVerifyOK(t *testing.T) {
	f := newFixture(t, 1000, 64)
	export := f.export(t)
	var calls int
	var last [2]uint64
	s, err := verify(t, export, f.vkey, audit.VerifyOptions{Progress: func(done, total uint64) {
		calls++
		last = [2]uint64{done, total}
	}})
	if err != nil {
		t.Fatal(err)
	}
	tree, _ := buildTree(t, func() (l [][]byte) {
		for _, r := range f.rows {
			l = append(l, r.leaf)
		}
		return l
	}(), 100)
	if s.Size != 1000 || s.Origin != testOrigin || !bytes.Equal(s.Root, tree.Root()) ||
		s.Checkpoints != 16 || s.Redacted != 0 || !bytes.Equal(s.Checkpoint, f.cps[len(f.cps)-1]) {
		t.Errorf("Verify() = %+v", s)
	}
	if calls == 0 || last != [2]uint64{1000, 1000} {
		t.Errorf("Progress called %d times, last with %v, want (1000, 1000) last", calls, last)
	}

	t.Run("old checkpoint and previous export", func(t *testing.T) {
		short := f.clone()
		short.rows = short.rows[:640]
		short.cps, short.sizes = short.cps[:10], short.sizes[:10]
		for _, old := range [][]byte{f.cps[3], f.cps[len(f.cps)-1]} {
			if _, err := verify(t, export, f.vkey, audit.VerifyOptions{OldCheckpoint: old, Previous: bytes.NewReader(short.export(t))}); err != nil {
				t.Errorf("Verify(old checkpoint, previous export) error %v", err)
			}
		}
		if _, err := verify(t, export, f.vkey, audit.VerifyOptions{Previous: bytes.NewReader(export)}); err != nil {
			t.Errorf("Verify(previous = same export) error %v", err)
		}
	})
	t.Run("tenant export with redactions", func(t *testing.T) {
		g := f.clone()
		g.tenant = "tenant-1"
		var redacted uint64
		for i := range g.rows {
			if g.rows[i].entry.Tenant != g.tenant {
				g.rows[i].redacted = true
				redacted++
			}
		}
		export := g.export(t)
		s, err := verify(t, export, f.vkey, audit.VerifyOptions{OldCheckpoint: f.cps[5]})
		if err != nil {
			t.Fatal(err)
		}
		if s.Redacted != redacted || s.Tenant != "tenant-1" || !bytes.Equal(s.Root, tree.Root()) {
			t.Errorf("Verify(redacted) = %+v, want %d redacted", s, redacted)
		}
		if bytes.Contains(export, []byte("tenant-0")) {
			t.Error("tenant export holds another tenant's entry")
		}
	})
	t.Run("empty log", func(t *testing.T) {
		g := newFixture(t, 0, 10)
		s, err := verify(t, g.export(t), g.vkey, audit.VerifyOptions{})
		if err != nil || s.Size != 0 || !bytes.Equal(s.Root, audit.EmptyRoot()) {
			t.Errorf("Verify(empty) = %+v, %v", s, err)
		}
	})
}

// TestVerifyTamper edits the log as someone with write access to the
// database (and, for the fork, the signing key) would, and checks that
// Verify names the entry.
func TestVerifyTamper(t *testing.T) {
	const n, every = 500, 50
	base := newFixture(t, n, every)
	original := base.export(t)
	otherKey, _, _ := mustSigner(t, testOrigin)

	tests := []struct {
		name     string
		tamper   func(t *testing.T, f *fixture)
		opts     func(t *testing.T) audit.VerifyOptions
		want     error
		seq, end uint64 // want Seq, and End (0: Seq+1)
		detail   string // want in Detail
	}{
		{
			name:   "changed field",
			tamper: func(t *testing.T, f *fixture) { f.rows[137].entry.ActorID = "tok_innocent" },
			want:   audit.ErrLeafHash, seq: 137,
		},
		{
			name:   "changed time",
			tamper: func(t *testing.T, f *fixture) { f.rows[12].entry.Time = f.rows[12].entry.Time.Add(1e3) },
			want:   audit.ErrLeafHash, seq: 12,
		},
		{
			name:   "changed fields list",
			tamper: func(t *testing.T, f *fixture) { f.rows[3].entry.Fields = append(f.rows[3].entry.Fields, "notes") },
			want:   audit.ErrLeafHash, seq: 3,
		},
		{
			name:   "changed stored hash only",
			tamper: func(t *testing.T, f *fixture) { f.rows[420].leaf = audit.LeafHash([]byte("x")) },
			want:   audit.ErrLeafHash, seq: 420,
		},
		{
			name: "changed field and its stored hash",
			tamper: func(t *testing.T, f *fixture) {
				f.rows[137].entry.Outcome = "denied"
				f.rehash(t, 137)
			},
			want: audit.ErrRootMismatch, seq: 100, end: 150,
		},
		{
			name:   "deleted entry",
			tamper: func(t *testing.T, f *fixture) { f.rows = append(f.rows[:222:222], f.rows[223:]...) },
			want:   audit.ErrSequence, seq: 222,
		},
		{
			name:   "deleted entry before a checkpoint",
			tamper: func(t *testing.T, f *fixture) { f.rows = append(f.rows[:249:249], f.rows[250:]...) },
			want:   audit.ErrMissing, seq: 249, end: 250,
		},
		{
			name: "deleted and renumbered",
			tamper: func(t *testing.T, f *fixture) {
				f.rows = append(f.rows[:222:222], f.rows[223:]...)
				for i := 222; i < len(f.rows); i++ {
					f.rows[i].entry.Seq--
				}
			},
			want: audit.ErrLeafHash, seq: 222,
		},
		{
			name:   "swapped entries",
			tamper: func(t *testing.T, f *fixture) { f.rows[300], f.rows[301] = f.rows[301], f.rows[300] },
			want:   audit.ErrSequence, seq: 300,
		},
		{
			name: "swapped contents, sequence numbers kept",
			tamper: func(t *testing.T, f *fixture) {
				a, b := f.rows[301], f.rows[300]
				a.entry.Seq, b.entry.Seq = 300, 301
				f.rows[300], f.rows[301] = a, b
			},
			want: audit.ErrLeafHash, seq: 300,
		},
		{
			name: "swapped contents and hashes recomputed",
			tamper: func(t *testing.T, f *fixture) {
				f.rows[310].entry, f.rows[360].entry = f.rows[360].entry, f.rows[310].entry
				f.rows[310].entry.Seq, f.rows[360].entry.Seq = 310, 360
				f.rehash(t, 310)
				f.rehash(t, 360)
			},
			want: audit.ErrRootMismatch, seq: 300, end: 350,
		},
		{
			name:   "truncated tail, last checkpoint kept",
			tamper: func(t *testing.T, f *fixture) { f.rows = f.rows[:480] },
			want:   audit.ErrMissing, seq: 480, end: 500,
		},
		{
			name: "truncated tail, last checkpoint dropped",
			tamper: func(t *testing.T, f *fixture) {
				f.rows = f.rows[:480]
				f.cps, f.sizes = f.cps[:len(f.cps)-1], f.sizes[:len(f.sizes)-1]
			},
			// The header still announces the old size.
			want: audit.ErrMissing, seq: 480, end: 500,
		},
		{
			name: "cut back to an earlier checkpoint, against the old checkpoint",
			tamper: func(t *testing.T, f *fixture) {
				f.rows = f.rows[:400]
				f.cps, f.sizes = f.cps[:8], f.sizes[:8]
			},
			opts: func(t *testing.T) audit.VerifyOptions { return audit.VerifyOptions{OldCheckpoint: base.cps[9]} },
			want: audit.ErrMissing, seq: 400, end: 500,
		},
		{
			name: "cut back to an earlier checkpoint, against the previous export",
			tamper: func(t *testing.T, f *fixture) {
				f.rows = f.rows[:400]
				f.cps, f.sizes = f.cps[:8], f.sizes[:8]
			},
			opts: func(t *testing.T) audit.VerifyOptions {
				return audit.VerifyOptions{Previous: bytes.NewReader(original)}
			},
			want: audit.ErrMissing, seq: 400, end: 500,
		},
		{
			name: "forked history re-signed, against the old checkpoint",
			tamper: func(t *testing.T, f *fixture) {
				f.rows[137].entry.Purpose = "marketing"
				f.rehash(t, 137)
				f.resign(t, f.signer, 100, every)
			},
			opts: func(t *testing.T) audit.VerifyOptions { return audit.VerifyOptions{OldCheckpoint: base.cps[3]} },
			want: audit.ErrFork, seq: 0, end: 200,
		},
		{
			name: "forked history re-signed, against the previous export",
			tamper: func(t *testing.T, f *fixture) {
				f.rows[137].entry.Purpose = "marketing"
				f.rehash(t, 137)
				f.resign(t, f.signer, 100, every)
			},
			opts: func(t *testing.T) audit.VerifyOptions {
				return audit.VerifyOptions{Previous: bytes.NewReader(original)}
			},
			want: audit.ErrFork, seq: 137, detail: "entry 137 of the previous export, line 141",
		},
		{
			name: "forked history re-signed, against a shorter previous export",
			tamper: func(t *testing.T, f *fixture) {
				f.rows[37].entry.Subject = "c_other"
				f.rehash(t, 37)
				f.resign(t, f.signer, 0, every)
			},
			opts: func(t *testing.T) audit.VerifyOptions {
				short := base.clone()
				short.rows = short.rows[:100]
				short.cps, short.sizes = short.cps[:2], short.sizes[:2]
				return audit.VerifyOptions{Previous: bytes.NewReader(short.export(t))}
			},
			want: audit.ErrFork, seq: 37,
		},
		{
			name: "history re-signed with another key",
			tamper: func(t *testing.T, f *fixture) {
				f.rows[137].entry.Purpose = "marketing"
				f.rehash(t, 137)
				f.resign(t, otherKey, 100, every)
			},
			want: audit.ErrSignature, seq: 100, end: 150,
		},
		{
			name: "checkpoint body edited",
			tamper: func(t *testing.T, f *fixture) {
				f.cps[1] = bytes.Replace(f.cps[1], []byte("\n100\n"), []byte("\n101\n"), 1)
			},
			want: audit.ErrSignature, seq: 50, end: 100,
		},
		{
			name: "entries after the last checkpoint",
			tamper: func(t *testing.T, f *fixture) {
				f.cps, f.sizes = f.cps[:len(f.cps)-1], f.sizes[:len(f.sizes)-1]
			},
			want: audit.ErrUnsigned, seq: 450, end: 500,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base.clone()
			tt.tamper(t, f)
			var opts audit.VerifyOptions
			if tt.opts != nil {
				opts = tt.opts(t)
			}
			export := f.export(t)
			if tt.name == "truncated tail, last checkpoint dropped" || strings.HasPrefix(tt.name, "entries after") {
				// Keep the header of the untampered export.
				export = append(original[:bytes.IndexByte(original, '\n')+1:bytes.IndexByte(original, '\n')+1], export[bytes.IndexByte(export, '\n')+1:]...)
			}
			s, err := verify(t, export, f.vkey, opts)
			var ve *audit.VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("Verify() = %+v, %v; want a *VerifyError", s, err)
			}
			end := tt.end
			if end == 0 {
				end = tt.seq + 1
			}
			if !errors.Is(err, tt.want) || ve.Seq != tt.seq || ve.End != end {
				t.Errorf("Verify() error = %v (Seq %d, End %d); want %v, Seq %d, End %d", err, ve.Seq, ve.End, tt.want, tt.seq, end)
			}
			if !strings.Contains(ve.Detail, tt.detail) {
				t.Errorf("Verify() error detail = %q, want it to contain %q", ve.Detail, tt.detail)
			}
			if ve.Previous {
				t.Errorf("Verify() error = %v, blames the previous export", err)
			}
			t.Log(err)
		})
	}
}

func TestVerifyFormat(t *testing.T) {
	f := newFixture(t, 20, 10)
	export := f.export(t)
	lines := strings.SplitAfter(string(export), "\n")
	lines = lines[:len(lines)-1] // after the last newline
	entry := lines[4]
	edit := func(i int, line string) []byte {
		l := append([]string(nil), lines...)
		l[i] = line
		return []byte(strings.Join(l, ""))
	}
	swap := func(i, j int) []byte {
		l := append([]string(nil), lines...)
		l[i], l[j] = l[j], l[i]
		return []byte(strings.Join(l, ""))
	}
	tests := []struct {
		name   string
		export []byte
		want   error
		seq    uint64
	}{
		{"empty", nil, audit.ErrFormat, 0},
		{"no header", []byte(strings.Join(lines[1:], "")), audit.ErrFormat, 0},
		{"header of another log", edit(0, strings.Replace(lines[0], testOrigin, "other.example/log", 1)), audit.ErrCheckpoint, 0},
		{"header format 2", edit(0, strings.Replace(lines[0], `export":1`, `export":2`, 1)), audit.ErrFormat, 0},
		{"white space", edit(4, strings.Replace(entry, `,"time"`, `, "time"`, 1)), audit.ErrFormat, 3},
		{"keys reordered", edit(4, strings.Replace(strings.Replace(entry, `"actor_id":`, `"X":`, 1), `"actor_role":`, `"actor_id":`, 1)), audit.ErrFormat, 3},
		{"unknown key", edit(4, strings.Replace(entry, `{"seq":3,`, `{"seq":3,"x":1,`, 1)), audit.ErrFormat, 3},
		{"leading zero", edit(4, strings.Replace(entry, `{"seq":3,`, `{"seq":03,`, 1)), audit.ErrFormat, 3},
		{"escaped slash", edit(4, strings.Replace(entry, `"agent"`, `"ag\/ent"`, 1)), audit.ErrFormat, 3},
		{"needless escape", edit(4, strings.Replace(entry, `"agent"`, `"\u0061gent"`, 1)), audit.ErrFormat, 3},
		{"time with zone", edit(4, strings.Replace(entry, `Z"`, `+00:00"`, 1)), audit.ErrFormat, 3},
		{"time of 31 April", edit(4, strings.Replace(entry, `2025-03-01`, `2025-04-31`, 1)), audit.ErrFormat, 3},
		{"time before 1970", edit(4, strings.Replace(entry, `2025-03-01`, `1969-03-01`, 1)), audit.ErrFormat, 3},
		{"carriage return in base64", edit(4, strings.Replace(entry, `","leaf":"`, `","leaf":"`+"\r", 1)), audit.ErrFormat, 3},
		{"unpadded base64", edit(4, strings.Replace(entry, `="}`, `"}`, 1)), audit.ErrFormat, 3},
		{"CRLF", edit(4, strings.Replace(entry, "}\n", "}\r\n", 1)), audit.ErrFormat, 3},
		{"no final newline", export[:len(export)-1], audit.ErrFormat, 20},
		{"garbage line", edit(4, "hello\n"), audit.ErrFormat, 3},
		{"blank line", edit(4, "\n"), audit.ErrFormat, 3},
		{"checkpoint out of place", swap(11, 12), audit.ErrFormat, 10},
		{"redacted entry in a full export", edit(4, `{"seq":3,"leaf":"`+entry[strings.Index(entry, `"leaf":"`)+8:]), audit.ErrFormat, 3},
		{"entry of another tenant in a tenant export", edit(0, strings.Replace(lines[0], `"tenant":""`, `"tenant":"tenant-9"`, 1)), audit.ErrFormat, 0},
		{"entry repeated", edit(13, lines[12]), audit.ErrSequence, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify(t, tt.export, f.vkey, audit.VerifyOptions{})
			var ve *audit.VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, tt.want) || ve.Seq != tt.seq {
				t.Errorf("Verify() error = %v, want %v at entry %d", err, tt.want, tt.seq)
			}
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		_, vkey, _ := audit.GenerateKey("other.example/log")
		if _, err := verify(t, export, vkey, audit.VerifyOptions{}); !errors.Is(err, audit.ErrCheckpoint) {
			t.Errorf("Verify(key of another log) error = %v, want ErrCheckpoint", err)
		}
		_, vkey, _ = audit.GenerateKey(testOrigin)
		if _, err := verify(t, export, vkey, audit.VerifyOptions{}); !errors.Is(err, audit.ErrSignature) {
			t.Errorf("Verify(another key, same origin) error = %v, want ErrSignature", err)
		}
		if _, err := verify(t, export, "not a key", audit.VerifyOptions{}); err == nil {
			t.Error("Verify(invalid key) = nil error")
		}
	})
	t.Run("old checkpoint by another key", func(t *testing.T) {
		other, _, _ := mustSigner(t, testOrigin)
		old, _ := other.Sign(10, audit.EmptyRoot())
		_, err := verify(t, export, f.vkey, audit.VerifyOptions{OldCheckpoint: old})
		var ve *audit.VerifyError
		if !errors.Is(err, audit.ErrSignature) || errors.As(err, &ve) {
			t.Errorf("Verify(old checkpoint by another key) error = %v, want ErrSignature outside a VerifyError", err)
		}
	})
	t.Run("invalid previous export", func(t *testing.T) {
		prev := edit(4, strings.Replace(entry, `"agent"`, `"admin"`, 1))
		_, err := verify(t, export, f.vkey, audit.VerifyOptions{Previous: bytes.NewReader(prev)})
		var ve *audit.VerifyError
		if !errors.As(err, &ve) || !ve.Previous || !errors.Is(err, audit.ErrLeafHash) || ve.Seq != 3 {
			t.Errorf("Verify(tampered previous export) error = %v, want ErrLeafHash at 3 in the previous export", err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		big := newFixture(t, 40000, 1000)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := audit.Verify(ctx, bytes.NewReader(big.export(t)), big.vkey, audit.VerifyOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Verify(canceled) error = %v, want context.Canceled", err)
		}
	})
}

// TestVerifyErrorMessage checks that an error names the entry and line and
// nothing of the entry's content.
func TestVerifyErrorMessage(t *testing.T) {
	f := newFixture(t, 30, 10)
	f.rows[17].entry.Subject = "c_planted_marker"
	_, err := verify(t, f.export(t), f.vkey, audit.VerifyOptions{})
	msg := err.Error()
	if !strings.Contains(msg, "entry 17 (line 20)") || strings.Contains(msg, "planted") {
		t.Errorf("Verify() error = %q, want it to name entry 17, line 20, and no content", msg)
	}
}

// FuzzExportRoundTrip checks that whatever entry the writer writes, Verify
// reads back to the same leaf hash.
func FuzzExportRoundTrip(f *testing.F) {
	f.Add("mairie", "contact.read", "email", "c_1", []byte{1, 2}, int64(0))
	f.Add("\x00\x1f\"\\\n\r\t\u2028é", "", "", "\x7f", []byte(nil), int64(1)<<50)
	skey, vkey, err := audit.GenerateKey(testOrigin)
	if err != nil {
		f.Fatal(err)
	}
	s, _ := audit.NewSigner(skey)
	f.Fuzz(func(t *testing.T, tenant, action, field, subject string, sealed []byte, micros int64) {
		e := audit.Entry{Time: time.UnixMicro(micros), Tenant: tenant, Action: action,
			Fields: []string{field, field}, Subject: subject, Sealed: sealed}
		leaf, err := e.LeafHash()
		if err != nil {
			return // not encodable: the writer refuses it too
		}
		var buf bytes.Buffer
		w, err := audit.NewExportWriter(&buf, audit.ExportHeader{Origin: testOrigin, Size: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteEntry(&e, leaf); err != nil {
			t.Fatal(err)
		}
		tree, _, _ := (&audit.Tree{}).Append(leaf)
		note, _ := s.Sign(1, tree.Root())
		if err := w.WriteCheckpoint(note); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, err := audit.Verify(context.Background(), &buf, vkey, audit.VerifyOptions{}); err != nil {
			t.Fatalf("Verify(written entry) error %v", err)
		}
	})
}

// FuzzVerifyCanonical replaces one entry line of a valid export: if the
// export still verifies, the line must be the original one byte for byte
// (an entry has one export form; and a full export has no redacted lines).
func FuzzVerifyCanonical(f *testing.F) {
	fx := newFixture(f, 3, 3)
	export := fx.export(f)
	lines := strings.SplitAfter(string(export), "\n")
	orig := lines[2]
	fx.rows[1].redacted = true
	redacted := strings.SplitAfter(string(fx.export(f)), "\n")[2]
	f.Add([]byte(orig))
	f.Add([]byte(redacted))
	f.Add([]byte(strings.Replace(orig, `"agent"`, `"\u0061gent"`, 1)))
	f.Fuzz(func(t *testing.T, line []byte) {
		l := append([]string(nil), lines...)
		l[2] = string(line)
		_, err := audit.Verify(context.Background(), strings.NewReader(strings.Join(l, "")), fx.vkey, audit.VerifyOptions{})
		if err == nil && string(line) != orig {
			t.Fatalf("Verify accepted %q in place of %q", line, orig)
		}
	})
}
