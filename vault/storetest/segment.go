package storetest

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

// RunSegments runs the segment part of the conformance suite (Run runs it
// too), for a store whose other methods the suite does not hold to every
// rule, such as the in-memory reference store.
func RunSegments(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("Property", func(t *testing.T) { testSegmentProperty(t, open) })
	t.Run("Isolation", func(t *testing.T) { testSegmentIsolation(t, open) })
	t.Run("Edges", func(t *testing.T) { testSegmentEdges(t, open) })
	t.Run("Writes", func(t *testing.T) { testSegmentWrites(t, open) })
	t.Run("Invalid", func(t *testing.T) { testSegmentInvalid(t, open) })
	t.Run("Saved", func(t *testing.T) { testSavedSegments(t, open) })
}

// segmentPage is the page size the suite lists segments with: small, so
// that every query crosses several pages.
const segmentPage = 7

// Segmentable fields of the property test's records and the size of
// their vocabularies: a token per value, as the service derives them.
// "consent" holds one token per consent, present when it is granted.
var segFields = []struct {
	name  string
	size  int
	share int // percentage of records holding a value (or, for a list, up to 4)
	list  bool
}{
	{"district", 20, 90, false},
	{"postal_code", 20, 85, false},
	{"interests", 12, 0, true},
	{"year", 40, 80, false},
	{"support_level", 5, 60, false},
	{"consent", 3, 0, true},
}

// segVocab holds the tokens of every segmentable value.
type segVocab struct {
	tokens map[string][][]byte // field -> tokens
	names  map[string]string   // hex token -> "field:index", for messages
}

// newSegVocab draws 16-byte tokens, as long as the service's.
func newSegVocab(rng *rand.Rand) *segVocab {
	v := &segVocab{tokens: make(map[string][][]byte), names: make(map[string]string)}
	for _, f := range segFields {
		for i := 0; i < f.size; i++ {
			tok := randToken(rng)
			v.tokens[f.name] = append(v.tokens[f.name], tok)
			v.names[hex.EncodeToString(tok)] = fmt.Sprintf("%s:%d", f.name, i)
		}
	}
	return v
}

func randToken(rng *rand.Rand) []byte {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// name returns the name of a token for messages.
func (v *segVocab) name(tok []byte) string {
	if n, ok := v.names[hex.EncodeToString(tok)]; ok {
		return n
	}
	return "?" + short(tok)
}

// draw returns a random token set: a value for each scalar field a record
// holds, up to four interests, a token per granted consent.
func (v *segVocab) draw(rng *rand.Rand) [][]byte {
	var ts [][]byte
	for _, f := range segFields {
		vals := v.tokens[f.name]
		switch {
		case f.name == "consent":
			for _, tok := range vals {
				if rng.IntN(2) == 0 {
					ts = append(ts, tok)
				}
			}
		case f.list:
			for _, i := range rng.Perm(len(vals))[:rng.IntN(5)] {
				ts = append(ts, vals[i])
			}
		case rng.IntN(100) < f.share:
			ts = append(ts, vals[rng.IntN(len(vals))])
		}
	}
	return ts
}

// segFixture is a store holding tenant a's records, written through every
// write path (bulk load, create, update, erase, and writes that failed),
// and tenant b's records, drawn from the same vocabulary; want holds what
// a's records are, the reference the store's answers are checked against.
type segFixture struct {
	s     vault.Store
	a, b  *vault.Tenant
	v     *segVocab
	want  map[string]*vault.Record // a's records by id
	wantB map[string]*vault.Record
	times []time.Time // record times, where query bounds are drawn
}

// segBase is the earliest creation time of the fixture's records.
var segBase = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

// newSegRecord returns a record of the tenant with tokens from v, random
// flags and times: a tenth of the records share segBase as CreatedAt, and
// half were updated after their creation.
func newSegRecord(rng *rand.Rand, tenantID string, v *segVocab) *vault.Record {
	r := NewRecord(tenantID)
	r.Tokens = v.draw(rng)
	r.Flags = vault.Flags{Restricted: rng.IntN(6) == 0, Objected: rng.IntN(6) == 0}
	r.CreatedAt = segBase
	if rng.IntN(10) > 0 {
		r.CreatedAt = segBase.Add(time.Duration(rng.Int64N(int64(30*24*time.Hour/time.Microsecond))) * time.Microsecond)
	}
	r.UpdatedAt = r.CreatedAt
	if rng.IntN(2) == 0 {
		r.UpdatedAt = r.CreatedAt.Add(time.Duration(rng.Int64N(int64(10*24*time.Hour/time.Microsecond))) * time.Microsecond)
	}
	return r
}

func newSegFixture(t *testing.T, s vault.Store, rng *rand.Rand) *segFixture {
	t.Helper()
	ctx := t.Context()
	f := &segFixture{s: s, a: MustCreateTenant(t, s), b: MustCreateTenant(t, s), v: newSegVocab(rng),
		want: make(map[string]*vault.Record), wantB: make(map[string]*vault.Record)}
	keep := func(m map[string]*vault.Record, r *vault.Record) { m[r.ID] = CloneRecord(r) }

	// Bulk loads.
	load := func(tn *vault.Tenant, n int, m map[string]*vault.Record) {
		rs := make([]*vault.Record, n)
		for i := range rs {
			rs[i] = newSegRecord(rng, tn.ID, f.v)
		}
		mustCode(t, fmt.Sprintf("LoadContacts(%d)", n), s.LoadContacts(ctx, rs, NewEntry(tn.ID, "contact.import", "")), "")
		for _, r := range rs {
			keep(m, r)
		}
	}
	load(f.a, 200, f.want)
	load(f.b, 60, f.wantB)
	// Single creates, one with no token at all.
	for i := 0; i < 60; i++ {
		r := newSegRecord(rng, f.a.ID, f.v)
		if i == 0 {
			r.Tokens = nil
		}
		MustCreateContact(t, s, r)
		keep(f.want, r)
	}
	ids := func() []string {
		var ids []string
		for id := range f.want {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids
	}
	// Updates: new tokens, flags and UpdatedAt; the CreatedAt given is
	// ignored, the stored one kept.
	all := ids()
	for _, i := range rng.Perm(len(all))[:50] {
		old := f.want[all[i]]
		u := newSegRecord(rng, f.a.ID, f.v)
		u.ID, u.Version = old.ID, old.Version+1
		u.UpdatedAt = old.UpdatedAt.Add(time.Duration(1+rng.IntN(1000)) * time.Second)
		if rng.IntN(8) == 0 {
			u.Tokens = nil
		}
		mustCode(t, "UpdateContact", s.UpdateContact(ctx, u, NewEntry(f.a.ID, vault.ActionContactUpdate, u.ID)), "")
		u.CreatedAt = old.CreatedAt
		keep(f.want, u)
	}
	// Erasures.
	all = ids()
	for _, i := range rng.Perm(len(all))[:30] {
		id := all[i]
		mustCode(t, "EraseContact", s.EraseContact(ctx, f.a.ID, id, NewEntry(f.a.ID, vault.ActionContactErase, id)), "")
		delete(f.want, id)
	}
	// Writes that fail change nothing: a load whose last record takes a
	// stored id, an update from a stale version.
	all = ids()
	batch := make([]*vault.Record, 5)
	for i := range batch {
		batch[i] = newSegRecord(rng, f.a.ID, f.v)
	}
	batch[4].ID = all[0]
	checkCode(t, "LoadContacts(stored id)", s.LoadContacts(ctx, batch, NewEntry(f.a.ID, "contact.import", "")), vault.ECONFLICT)
	stale := newSegRecord(rng, f.a.ID, f.v)
	stale.ID, stale.Version = all[1], f.want[all[1]].Version
	checkCode(t, "UpdateContact(stale version)", s.UpdateContact(ctx, stale, NewEntry(f.a.ID, vault.ActionContactUpdate, stale.ID)), vault.ECONFLICT)

	for _, m := range []map[string]*vault.Record{f.want, f.wantB} {
		for _, r := range m {
			f.times = append(f.times, r.CreatedAt, r.UpdatedAt)
		}
	}
	return f
}

// matching returns the records of m that c matches, by id.
func matching(m map[string]*vault.Record, c *vault.Cond) []*vault.Record {
	var rs []*vault.Record
	for _, r := range m {
		if c.Matches(r) {
			rs = append(rs, r)
		}
	}
	slices.SortFunc(rs, func(a, b *vault.Record) int { return strings.Compare(a.ID, b.ID) })
	return rs
}

// randCond returns a random condition of at most depth levels of And, Or
// and Not over leaves: tokens, flags, time ranges, True and False.
func (f *segFixture) randCond(rng *rand.Rand, depth int) *vault.Cond {
	if depth == 0 || rng.IntN(4) == 0 {
		return f.randLeaf(rng)
	}
	switch rng.IntN(5) {
	case 0, 1, 2:
		op := vault.CondAnd
		if rng.IntN(2) == 0 {
			op = vault.CondOr
		}
		n := 1 + rng.IntN(4)
		if rng.IntN(25) == 0 {
			n = 0
		}
		c := &vault.Cond{Op: op}
		for range n {
			c.Children = append(c.Children, f.randCond(rng, depth-1))
		}
		return c
	default:
		return &vault.Cond{Op: vault.CondNot, Children: []*vault.Cond{f.randCond(rng, depth-1)}}
	}
}

func (f *segFixture) randLeaf(rng *rand.Rand) *vault.Cond {
	switch n := rng.IntN(100); {
	case n < 50:
		c := &vault.Cond{Op: vault.CondTokens}
		field := segFields[rng.IntN(len(segFields))].name
		vals := f.v.tokens[field]
		k := 1 + rng.IntN(min(3, len(vals)))
		for _, i := range rng.Perm(len(vals))[:k] {
			c.Tokens = append(c.Tokens, bytes.Clone(vals[i]))
		}
		switch m := rng.IntN(20); {
		case m == 0: // no token: matches nothing
			c.Tokens = nil
		case m == 1: // a token no record holds
			c.Tokens = append(c.Tokens, randToken(rng))
		case m < 4: // values of two fields
			other := f.v.tokens[segFields[rng.IntN(len(segFields))].name]
			c.Tokens = append(c.Tokens, bytes.Clone(other[rng.IntN(len(other))]))
		case m == 4: // a repeated token
			c.Tokens = append(c.Tokens, bytes.Clone(c.Tokens[0]))
		}
		return c
	case n < 65:
		flag := vault.FlagRestricted
		if rng.IntN(2) == 0 {
			flag = vault.FlagObjected
		}
		return &vault.Cond{Op: vault.CondFlag, Flag: flag, Value: rng.IntN(3) > 0}
	case n < 92:
		col := vault.ColumnCreated
		if rng.IntN(2) == 0 {
			col = vault.ColumnUpdated
		}
		c := &vault.Cond{Op: vault.CondTime, Column: col, From: f.randBound(rng), Until: f.randBound(rng)}
		if !c.From.IsZero() && !c.Until.IsZero() && c.Until.Before(c.From) && rng.IntN(4) > 0 {
			c.From, c.Until = c.Until, c.From
		}
		return c
	case n < 96:
		return &vault.Cond{Op: vault.CondTrue}
	default:
		return &vault.Cond{Op: vault.CondFalse}
	}
}

// randBound returns a time bound: open (zero), a record's time exactly,
// or a little before or after one, to the nanosecond, or far out.
func (f *segFixture) randBound(rng *rand.Rand) time.Time {
	t := f.times[rng.IntN(len(f.times))]
	switch rng.IntN(12) {
	case 0, 1, 2:
		return time.Time{}
	case 3:
		return t.Add(time.Microsecond)
	case 4:
		return t.Add(-time.Microsecond)
	case 5:
		return t.Add(time.Duration(1 + rng.IntN(999)))
	case 6:
		return t.Add(-time.Duration(1 + rng.IntN(999)))
	case 7:
		return time.Date(1900+rng.IntN(300), 1, 1, 0, 0, 0, 0, time.UTC)
	case 8:
		return t.In(time.FixedZone("UTC+2", 2*3600))
	default:
		return t
	}
}

// condString describes c for messages, naming the fixture's tokens.
func condString(c *vault.Cond, v *segVocab) string {
	if c == nil {
		return "nil"
	}
	kids := func(name string) string {
		var s []string
		for _, ch := range c.Children {
			s = append(s, condString(ch, v))
		}
		return name + "(" + strings.Join(s, ", ") + ")"
	}
	switch c.Op {
	case vault.CondTrue:
		return "true"
	case vault.CondFalse:
		return "false"
	case vault.CondAnd:
		return kids("and")
	case vault.CondOr:
		return kids("or")
	case vault.CondNot:
		return kids("not")
	case vault.CondTokens:
		var s []string
		for _, t := range c.Tokens {
			if v != nil {
				s = append(s, v.name(t))
			} else {
				s = append(s, short(t))
			}
		}
		return "tokens[" + strings.Join(s, " ") + "]"
	case vault.CondFlag:
		return fmt.Sprintf("%s=%t", c.Flag, c.Value)
	case vault.CondTime:
		b := func(t time.Time) string {
			if t.IsZero() {
				return "·"
			}
			return t.Format(time.RFC3339Nano)
		}
		return fmt.Sprintf("%s in [%s, %s)", c.Column, b(c.From), b(c.Until))
	case vault.CondConsent:
		return "consent " + c.Consent
	}
	return fmt.Sprintf("op%d", c.Op)
}

// checkSegment checks CountContacts and the complete ListContacts paging
// of c in the tenant against want, sorted by id, and reports whether they
// agree.
func checkSegment(t testing.TB, s vault.Store, tenantID string, c *vault.Cond, want []*vault.Record, desc string) bool {
	t.Helper()
	ctx := context.Background()
	ok := true
	n, err := s.CountContacts(ctx, tenantID, c)
	if err != nil {
		t.Errorf("CountContacts(%s) = %v, want %d", desc, err, len(want))
		return false
	}
	if n != int64(len(want)) {
		t.Errorf("CountContacts(%s) = %d, want %d", desc, n, len(want))
		ok = false
	}
	var got []*vault.Record
	after := ""
	for page := 0; ; page++ {
		rs, err := s.ListContacts(ctx, tenantID, c, after, segmentPage)
		if err != nil {
			t.Errorf("ListContacts(%s, after %q) = %v, want nil", desc, after, err)
			return false
		}
		if len(rs) > segmentPage {
			t.Errorf("ListContacts(%s, limit %d) = %d records", desc, segmentPage, len(rs))
			return false
		}
		got = append(got, rs...)
		if len(rs) < segmentPage || page > len(want)/segmentPage+1 {
			break
		}
		after = rs[len(rs)-1].ID
	}
	if g, w := ids(got), ids(want); !slices.Equal(g, w) {
		t.Errorf("ListContacts(%s) pages = %d records, want %d; %s", desc, len(g), len(w), idDiff(g, w))
		return false
	}
	for i := range got {
		if d := DiffRecord(got[i], want[i]); d != "" {
			t.Errorf("ListContacts(%s)[%d]: %s", desc, i, d)
			return false
		}
	}
	return ok
}

// idDiff names the ids of got missing from want and the reverse, and
// says whether the order is wrong.
func idDiff(got, want []string) string {
	var extra, missing []string
	for _, id := range got {
		if !slices.Contains(want, id) {
			extra = append(extra, id)
		}
	}
	for _, id := range want {
		if !slices.Contains(got, id) {
			missing = append(missing, id)
		}
	}
	if len(extra) == 0 && len(missing) == 0 {
		return "same records, wrong order or repeats"
	}
	return fmt.Sprintf("extra %v, missing %v", extra, missing)
}

func testSegmentProperty(t *testing.T, open func(t *testing.T) vault.Store) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5e97))
	s := open(t)
	f := newSegFixture(t, s, rng)

	// The fixture itself: every record of a, none of b.
	if !checkSegment(t, s, f.a.ID, &vault.Cond{Op: vault.CondTrue}, matching(f.want, &vault.Cond{Op: vault.CondTrue}), "true") {
		t.FailNow()
	}
	failed := 0
	const conds = 300
	for i := 0; i < conds && failed < 5; i++ {
		c := f.randCond(rng, 4)
		desc := fmt.Sprintf("#%d %s", i, condString(c, f.v))
		if !checkSegment(t, s, f.a.ID, c, matching(f.want, c), desc) {
			failed++
		}
		// Tenant b, with the same tokens, now and then.
		if i%10 == 0 && !checkSegment(t, s, f.b.ID, c, matching(f.wantB, c), "tenant b "+desc) {
			failed++
		}
	}
}

func testSegmentIsolation(t *testing.T, open func(t *testing.T) vault.Store) {
	s := open(t)
	a, b := MustCreateTenant(t, s), MustCreateTenant(t, s)
	ra := NewRecord(a.ID)
	MustCreateContact(t, s, ra)
	// b's record has the same tokens and flags, and was created later.
	rb := NewRecord(b.ID)
	rb.Tokens, rb.Flags = ra.Tokens, ra.Flags
	MustCreateContact(t, s, rb)

	all := &vault.Cond{Op: vault.CondTrue}
	tok := &vault.Cond{Op: vault.CondTokens, Tokens: [][]byte{ra.Tokens[0]}}
	none := &vault.Cond{Op: vault.CondNot, Children: []*vault.Cond{{Op: vault.CondTokens, Tokens: [][]byte{RandomBytes(16)}}}}
	for _, c := range []*vault.Cond{all, tok, none} {
		checkSegment(t, s, a.ID, c, []*vault.Record{ra}, "tenant a: "+condString(c, nil))
		checkSegment(t, s, b.ID, c, []*vault.Record{rb}, "tenant b: "+condString(c, nil))
		checkSegment(t, s, "tenant-without-records", c, nil, "unknown tenant: "+condString(c, nil))
	}
	// Paging after an id of another tenant pages the tenant's own records.
	rs, err := s.ListContacts(t.Context(), b.ID, all, ra.ID, 10)
	mustCode(t, "ListContacts(after another tenant's id)", err, "")
	var want []*vault.Record
	if rb.ID > ra.ID {
		want = append(want, rb)
	}
	checkFound(t, "ListContacts(after another tenant's id)", rs, want...)
}

func testSegmentEdges(t *testing.T, open func(t *testing.T) vault.Store) {
	s := open(t)
	tn := MustCreateTenant(t, s)
	rs := make([]*vault.Record, 12)
	shared := RandomBytes(16)
	for i := range rs {
		rs[i] = NewRecord(tn.ID)
		rs[i].Tokens = append(rs[i].Tokens, shared)
	}
	rs[3].Tokens = nil
	mustCode(t, "LoadContacts", s.LoadContacts(t.Context(), rs, NewEntry(tn.ID, "contact.import", "")), "")
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b *vault.Record) int { return strings.Compare(a.ID, b.ID) })
	withShared := slices.DeleteFunc(slices.Clone(sorted), func(r *vault.Record) bool { return r == rs[3] })

	tokens := func(ts ...[]byte) *vault.Cond { return &vault.Cond{Op: vault.CondTokens, Tokens: ts} }
	not := func(c *vault.Cond) *vault.Cond { return &vault.Cond{Op: vault.CondNot, Children: []*vault.Cond{c}} }
	for _, tt := range []struct {
		name string
		c    *vault.Cond
		want []*vault.Record
	}{
		{"EmptyTokens", tokens(), nil},
		{"EmptyTokensNonNil", tokens([][]byte{}...), nil},
		{"NotEmptyTokens", not(tokens()), sorted},
		{"AndNone", &vault.Cond{Op: vault.CondAnd}, sorted},
		{"OrNone", &vault.Cond{Op: vault.CondOr}, nil},
		{"NotAndNone", not(&vault.Cond{Op: vault.CondAnd}), nil},
		{"False", &vault.Cond{Op: vault.CondFalse}, nil},
		{"Shared", tokens(shared), withShared},
		{"NotShared", not(tokens(shared)), []*vault.Record{rs[3]}},
		{"OneOfMany", tokens(RandomBytes(16), rs[5].Tokens[1], RandomBytes(16)), []*vault.Record{rs[5]}},
		{"Repeated", tokens(rs[5].Tokens[0], rs[5].Tokens[0], rs[5].Tokens[1]), []*vault.Record{rs[5]}},
		{"LongToken", tokens(append(bytes.Clone(rs[7].Tokens[0]), 1)), nil},
		{"Prefix", tokens(rs[7].Tokens[0][:16]), nil},
		{"UntilZeroFromLater", &vault.Cond{Op: vault.CondTime, Column: vault.ColumnCreated, From: rs[0].CreatedAt.Add(time.Hour)}, nil},
		{"FromEqualsUntil", &vault.Cond{Op: vault.CondTime, Column: vault.ColumnUpdated, From: rs[0].UpdatedAt, Until: rs[0].UpdatedAt}, nil},
		{"TimeOpen", &vault.Cond{Op: vault.CondTime, Column: vault.ColumnUpdated}, sorted},
		{"FarPast", &vault.Cond{Op: vault.CondTime, Column: vault.ColumnCreated, Until: time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC)}, nil},
		{"FarFuture", &vault.Cond{Op: vault.CondTime, Column: vault.ColumnCreated, From: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}, nil},
		{"Wide", &vault.Cond{Op: vault.CondTime, Column: vault.ColumnCreated,
			From: time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC), Until: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}, sorted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkSegment(t, s, tn.ID, tt.c, tt.want, condString(tt.c, nil))
		})
	}

	t.Run("ManyTokens", func(t *testing.T) {
		c := tokens()
		for range 2000 {
			c.Tokens = append(c.Tokens, RandomBytes(16))
		}
		c.Tokens[1234] = rs[9].Tokens[2]
		checkSegment(t, s, tn.ID, c, []*vault.Record{rs[9]}, "2000 tokens")
	})

	t.Run("Deep", func(t *testing.T) {
		// Thirty nested Nots around the shared token: an even number.
		c := tokens(shared)
		for range 30 {
			c = not(c)
		}
		checkSegment(t, s, tn.ID, c, withShared, "30 nested nots")
	})

	t.Run("Paging", func(t *testing.T) {
		ctx := t.Context()
		all := &vault.Cond{Op: vault.CondTrue}
		for _, limit := range []int{1, 5, 12, 13, 1000} {
			got, err := s.ListContacts(ctx, tn.ID, all, "", limit)
			mustCode(t, "ListContacts", err, "")
			checkFound(t, fmt.Sprintf("ListContacts(limit %d)", limit), got, sorted[:min(limit, len(sorted))]...)
		}
		// After an id no record has, after the last id.
		for _, tt := range []struct {
			after string
			want  []*vault.Record
		}{
			{"00000000-0000-0000-0000-000000000000", sorted},
			{"ffffffff-ffff-ffff-ffff-ffffffffffff", nil},
			{sorted[len(sorted)-1].ID, nil},
			{sorted[4].ID, sorted[5:]},
		} {
			got, err := s.ListContacts(ctx, tn.ID, all, tt.after, 100)
			mustCode(t, "ListContacts", err, "")
			checkFound(t, "ListContacts(after "+tt.after+")", got, tt.want...)
		}
	})
}

// testSegmentWrites checks that the answers follow each write at once:
// create, update of tokens, flags and UpdatedAt, and erasure, after which
// nothing of the record is found by any condition.
func testSegmentWrites(t *testing.T, open func(t *testing.T) vault.Store) {
	s := open(t)
	tn := MustCreateTenant(t, s)
	ctx := t.Context()
	r := NewRecord(tn.ID)
	r.Flags = vault.Flags{}
	other := NewRecord(tn.ID)
	other.Flags = vault.Flags{Restricted: true, Objected: true}
	MustCreateContact(t, s, r)
	MustCreateContact(t, s, other)
	tok := func(t []byte) *vault.Cond { return &vault.Cond{Op: vault.CondTokens, Tokens: [][]byte{t}} }
	flag := func(name string, v bool) *vault.Cond { return &vault.Cond{Op: vault.CondFlag, Flag: name, Value: v} }
	updatedFrom := func(from time.Time) *vault.Cond {
		return &vault.Cond{Op: vault.CondTime, Column: vault.ColumnUpdated, From: from}
	}
	createdUntil := func(until time.Time) *vault.Cond {
		return &vault.Cond{Op: vault.CondTime, Column: vault.ColumnCreated, Until: until}
	}
	check := func(step string, c *vault.Cond, want ...*vault.Record) {
		t.Helper()
		checkSegment(t, s, tn.ID, c, want, step+": "+condString(c, nil))
	}
	check("created", tok(r.Tokens[1]), r)
	check("created", flag(vault.FlagRestricted, false), r)

	u := CloneRecord(r)
	u.Version++
	oldTokens := r.Tokens
	u.Tokens = [][]byte{oldTokens[0], RandomBytes(16)}
	u.Flags = vault.Flags{Restricted: true}
	u.UpdatedAt = r.UpdatedAt.Add(time.Hour)
	u.CreatedAt = r.CreatedAt.Add(48 * time.Hour) // ignored
	mustCode(t, "UpdateContact", s.UpdateContact(ctx, u, NewEntry(tn.ID, vault.ActionContactUpdate, r.ID)), "")
	u.CreatedAt = r.CreatedAt
	check("updated", tok(oldTokens[0]), u)
	check("updated", tok(oldTokens[1]))
	check("updated", tok(u.Tokens[1]), u)
	check("updated", flag(vault.FlagRestricted, false))
	check("updated", flag(vault.FlagObjected, false), u)
	check("updated", updatedFrom(r.UpdatedAt.Add(time.Minute)), u)
	check("updated", createdUntil(r.CreatedAt.Add(time.Microsecond)), u)

	// An update to no token at all.
	u2 := CloneRecord(u)
	u2.Version++
	u2.Tokens = nil
	mustCode(t, "UpdateContact(no tokens)", s.UpdateContact(ctx, u2, NewEntry(tn.ID, vault.ActionContactUpdate, r.ID)), "")
	check("no tokens", tok(oldTokens[0]))
	check("no tokens", &vault.Cond{Op: vault.CondNot, Children: []*vault.Cond{tok(other.Tokens[0])}}, u2)

	mustCode(t, "EraseContact", s.EraseContact(ctx, tn.ID, r.ID, NewEntry(tn.ID, vault.ActionContactErase, r.ID)), "")
	check("erased", &vault.Cond{Op: vault.CondTrue}, other)
	check("erased", flag(vault.FlagObjected, false))
	check("erased", &vault.Cond{Op: vault.CondNot, Children: []*vault.Cond{tok(other.Tokens[0])}})

	// Re-creating a record with the erased id starts afresh.
	n := NewRecord(tn.ID)
	n.ID = r.ID
	MustCreateContact(t, s, n)
	check("re-created", tok(oldTokens[0]))
	check("re-created", tok(n.Tokens[2]), n)
}

func testSegmentInvalid(t *testing.T, open func(t *testing.T) vault.Store) {
	s := open(t)
	tn := MustCreateTenant(t, s)
	r := NewRecord(tn.ID)
	MustCreateContact(t, s, r)
	settle(t, s)
	ok := &vault.Cond{Op: vault.CondTrue}
	consent := &vault.Cond{Op: vault.CondConsent, Consent: "newsletter"}
	or := func(cs ...*vault.Cond) *vault.Cond { return &vault.Cond{Op: vault.CondOr, Children: cs} }
	and := func(cs ...*vault.Cond) *vault.Cond { return &vault.Cond{Op: vault.CondAnd, Children: cs} }
	not := func(cs ...*vault.Cond) *vault.Cond { return &vault.Cond{Op: vault.CondNot, Children: cs} }

	// Conditions a store cannot express: each is refused, alone and where
	// a store that skipped it would answer more (or fewer) records.
	for _, tt := range []struct {
		name string
		c    *vault.Cond
	}{
		{"Nil", nil},
		{"Consent", consent},
		{"ConsentInOr", or(ok, consent)},
		{"ConsentInAnd", and(consent, ok)},
		{"ConsentInNot", not(consent)},
		{"UnknownOp", &vault.Cond{Op: vault.CondOp(99)}},
		{"NegativeOp", or(ok, &vault.Cond{Op: vault.CondOp(-1)})},
		{"UnknownFlag", &vault.Cond{Op: vault.CondFlag, Flag: "deleted", Value: true}},
		{"NoFlag", not(&vault.Cond{Op: vault.CondFlag})},
		{"FlagCase", &vault.Cond{Op: vault.CondFlag, Flag: "Restricted"}},
		{"UnknownColumn", &vault.Cond{Op: vault.CondTime, Column: "birth_date"}},
		{"NoColumn", or(ok, &vault.Cond{Op: vault.CondTime})},
		{"NilChild", and(ok, nil)},
		{"NilChildOfNot", not(nil)},
		{"NotWithoutChild", not()},
		{"NotWithTwoChildren", not(ok, ok)},
		{"EmptyToken", &vault.Cond{Op: vault.CondTokens, Tokens: [][]byte{r.Tokens[0], {}}}},
		{"NilToken", or(ok, &vault.Cond{Op: vault.CondTokens, Tokens: [][]byte{nil}})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, err := s.CountContacts(t.Context(), tn.ID, tt.c)
			checkCode(t, fmt.Sprintf("CountContacts(%s) = %d, err", condString(tt.c, nil), n), err, vault.EINVALID)
			rs, err := s.ListContacts(t.Context(), tn.ID, tt.c, "", 10)
			checkCode(t, fmt.Sprintf("ListContacts(%s) = %d records, err", condString(tt.c, nil), len(rs)), err, vault.EINVALID)
		})
	}

	seg := NewSegment(tn.ID, "n")
	entry := func() *vault.AuditEntry { return NewEntry(tn.ID, vault.ActionSegmentSave, "") }
	mustCode(t, "SaveSegment", s.SaveSegment(t.Context(), seg, entry()), "")
	settle(t, s)
	for _, tt := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"CountContacts(no tenant)", func(ctx context.Context) error { _, err := s.CountContacts(ctx, "", ok); return err }},
		{"ListContacts(no tenant)", func(ctx context.Context) error { _, err := s.ListContacts(ctx, "", ok, "", 10); return err }},
		{"ListContacts(limit 0)", func(ctx context.Context) error { _, err := s.ListContacts(ctx, tn.ID, ok, "", 0); return err }},
		{"ListContacts(limit -1)", func(ctx context.Context) error { _, err := s.ListContacts(ctx, tn.ID, ok, "", -1); return err }},
		{"ListContacts(after a non-UUID)", func(ctx context.Context) error {
			_, err := s.ListContacts(ctx, tn.ID, ok, "not-a-uuid", 10)
			return err
		}},
		{"ListContacts(after an upper-case UUID)", func(ctx context.Context) error {
			_, err := s.ListContacts(ctx, tn.ID, ok, strings.ToUpper(r.ID), 10)
			return err
		}},
		{"SaveSegment(nil)", func(ctx context.Context) error { return s.SaveSegment(ctx, nil, entry()) }},
		{"SaveSegment(nil entry)", func(ctx context.Context) error { return s.SaveSegment(ctx, NewSegment(tn.ID, "a"), nil) }},
		{"SaveSegment(no tenant)", func(ctx context.Context) error { return s.SaveSegment(ctx, NewSegment("", "a"), entry()) }},
		{"SaveSegment(no name)", func(ctx context.Context) error { return s.SaveSegment(ctx, NewSegment(tn.ID, ""), entry()) }},
		{"SaveSegment(entry without action)", func(ctx context.Context) error {
			e := entry()
			e.Action = ""
			return s.SaveSegment(ctx, NewSegment(tn.ID, "a"), e)
		}},
		{"Segment(no tenant)", func(ctx context.Context) error { _, err := s.Segment(ctx, "", "n"); return err }},
		{"Segment(no name)", func(ctx context.Context) error { _, err := s.Segment(ctx, tn.ID, ""); return err }},
		{"Segments(no tenant)", func(ctx context.Context) error { _, err := s.Segments(ctx, ""); return err }},
		{"DeleteSegment(no tenant)", func(ctx context.Context) error { return s.DeleteSegment(ctx, "", "n", entry()) }},
		{"DeleteSegment(no name)", func(ctx context.Context) error { return s.DeleteSegment(ctx, tn.ID, "", entry()) }},
		{"DeleteSegment(nil entry)", func(ctx context.Context) error { return s.DeleteSegment(ctx, tn.ID, seg.Name, nil) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := safeCall(func() error { return tt.call(t.Context()) })
			checkCode(t, tt.name, err, vault.EINVALID)
		})
	}
	checkPending(t, s)
	got, err := s.Segments(t.Context(), tn.ID)
	mustCode(t, "Segments", err, "")
	checkSegments(t, "Segments after invalid calls", got, seg)
}

// NewSegment returns a saved segment of the tenant with the given name, a
// JSON filter and an owner.
func NewSegment(tenantID, name string) *vault.SavedSegment {
	return &vault.SavedSegment{
		TenantID:  tenantID,
		Name:      name,
		Filter:    []byte(`{"districts":["d1","d4"],"interests":["transport"],"consent":"newsletter","r":"` + hex.EncodeToString(RandomBytes(4)) + `"}`),
		OwnerID:   "tok-" + hex.EncodeToString(RandomBytes(4)),
		CreatedAt: Now(),
	}
}

// DiffSegment describes how got differs from want, or returns "" (times
// compared with Equal, a nil and an empty Filter alike).
func DiffSegment(got, want *vault.SavedSegment) string {
	if got == nil || want == nil {
		if got == want {
			return ""
		}
		return fmt.Sprintf("segment = %v, want %v", got, want)
	}
	var d []string
	for _, f := range []struct{ name, g, w string }{
		{"TenantID", got.TenantID, want.TenantID},
		{"Name", got.Name, want.Name},
		{"Filter", string(got.Filter), string(want.Filter)},
		{"OwnerID", got.OwnerID, want.OwnerID},
	} {
		if f.g != f.w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", f.name, f.g, f.w))
		}
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		d = append(d, fmt.Sprintf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt))
	}
	return strings.Join(d, "; ")
}

// checkSegments reports an error unless got holds exactly want, in order.
func checkSegments(t testing.TB, call string, got []*vault.SavedSegment, want ...*vault.SavedSegment) {
	t.Helper()
	names := func(ss []*vault.SavedSegment) []string {
		var n []string
		for _, s := range ss {
			n = append(n, s.Name)
		}
		return n
	}
	if !slices.Equal(names(got), names(want)) {
		t.Errorf("%s = %q, want %q", call, names(got), names(want))
		return
	}
	for i := range got {
		if d := DiffSegment(got[i], want[i]); d != "" {
			t.Errorf("%s[%d]: %s", call, i, d)
		}
	}
}

func testSavedSegments(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		ctx := t.Context()
		seg := NewSegment(tn.ID, "Newsletter, 4th district")
		e := NewEntry(tn.ID, vault.ActionSegmentSave, "")
		mustCode(t, "SaveSegment", s.SaveSegment(ctx, seg, e), "")
		checkUnsequenced(t, "SaveSegment", e)
		checkPending(t, s, e)
		got, err := s.Segment(ctx, tn.ID, seg.Name)
		mustCode(t, "Segment", err, "")
		if d := DiffSegment(got, seg); d != "" {
			t.Errorf("Segment: %s", d)
		}
		// The store keeps a copy.
		seg.Filter[0] = '['
		got.Filter[1] = 'x'
		got, err = s.Segment(ctx, tn.ID, seg.Name)
		mustCode(t, "Segment", err, "")
		if got.Filter[0] != '{' || got.Filter[1] != '"' {
			t.Errorf("Segment: Filter = %q, changed through a caller's slice", got.Filter)
		}
		settle(t, s)

		d := NewEntry(tn.ID, vault.ActionSegmentDelete, "")
		mustCode(t, "DeleteSegment", s.DeleteSegment(ctx, tn.ID, seg.Name, d), "")
		checkUnsequenced(t, "DeleteSegment", d)
		checkPending(t, s, d)
		_, err = s.Segment(ctx, tn.ID, seg.Name)
		checkCode(t, "Segment(deleted)", err, vault.ENOTFOUND)
		ss, err := s.Segments(ctx, tn.ID)
		mustCode(t, "Segments", err, "")
		checkSegments(t, "Segments after delete", ss)
		settle(t, s)

		// The name is free again.
		again := NewSegment(tn.ID, seg.Name)
		mustCode(t, "SaveSegment(deleted name)", s.SaveSegment(ctx, again, NewEntry(tn.ID, vault.ActionSegmentSave, "")), "")
		got, err = s.Segment(ctx, tn.ID, seg.Name)
		mustCode(t, "Segment", err, "")
		if d := DiffSegment(got, again); d != "" {
			t.Errorf("Segment(saved again): %s", d)
		}
	})

	t.Run("Shapes", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		for _, tt := range []struct {
			name   string
			modify func(g *vault.SavedSegment)
		}{
			{"NilFilter", func(g *vault.SavedSegment) { g.Filter = nil }},
			{"EmptyFilter", func(g *vault.SavedSegment) { g.Filter = []byte{} }},
			{"NoOwner", func(g *vault.SavedSegment) { g.OwnerID = "" }},
			{"BigFilter", func(g *vault.SavedSegment) {
				g.Filter = []byte(`{"interests":["` + strings.Repeat("x", 60<<10) + `"]}`)
			}},
			{"OldTime", func(g *vault.SavedSegment) { g.CreatedAt = time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC) }},
			{"UnicodeName", func(g *vault.SavedSegment) { g.Name = "Bénévoles — quartier 4 ✓" }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				seg := NewSegment(tn.ID, tt.name)
				tt.modify(seg)
				mustCode(t, "SaveSegment", s.SaveSegment(t.Context(), seg, NewEntry(tn.ID, vault.ActionSegmentSave, "")), "")
				got, err := s.Segment(t.Context(), tn.ID, seg.Name)
				mustCode(t, "Segment", err, "")
				if d := DiffSegment(got, seg); d != "" {
					t.Errorf("Segment: %s", d)
				}
			})
		}
		t.Run("ZeroTime", func(t *testing.T) {
			seg := NewSegment(tn.ID, "zero time")
			seg.CreatedAt = time.Time{}
			before := Now().Add(-time.Minute)
			mustCode(t, "SaveSegment", s.SaveSegment(t.Context(), seg, NewEntry(tn.ID, vault.ActionSegmentSave, "")), "")
			got, err := s.Segment(t.Context(), tn.ID, seg.Name)
			mustCode(t, "Segment", err, "")
			if got.CreatedAt.Before(before) {
				t.Errorf("Segment: CreatedAt = %v for a zero time, want the store's time", got.CreatedAt)
			}
		})
	})

	t.Run("List", func(t *testing.T) {
		s := open(t)
		tn, other := MustCreateTenant(t, s), MustCreateTenant(t, s)
		ctx := t.Context()
		ss, err := s.Segments(ctx, tn.ID)
		mustCode(t, "Segments(none)", err, "")
		checkSegments(t, "Segments(none)", ss)
		// Names sort byte-wise: upper case before lower case, accents last.
		names := []string{"alpha", "Zeta", "beta", "Alpha", "école", "a", "alpha 2", "Ab"}
		want := make(map[string]*vault.SavedSegment)
		for _, n := range names {
			seg := NewSegment(tn.ID, n)
			want[n] = seg
			mustCode(t, "SaveSegment("+n+")", s.SaveSegment(ctx, seg, NewEntry(tn.ID, vault.ActionSegmentSave, "")), "")
		}
		mustCode(t, "SaveSegment(other tenant)", s.SaveSegment(ctx, NewSegment(other.ID, "aardvark"), NewEntry(other.ID, vault.ActionSegmentSave, "")), "")
		sorted := slices.Clone(names)
		slices.Sort(sorted)
		var ws []*vault.SavedSegment
		for _, n := range sorted {
			ws = append(ws, want[n])
		}
		ss, err = s.Segments(ctx, tn.ID)
		mustCode(t, "Segments", err, "")
		checkSegments(t, "Segments", ss, ws...)
	})

	t.Run("ErrConflict", func(t *testing.T) {
		s := open(t)
		tn, other := MustCreateTenant(t, s), MustCreateTenant(t, s)
		ctx := t.Context()
		seg := NewSegment(tn.ID, "volunteers")
		e := NewEntry(tn.ID, vault.ActionSegmentSave, "")
		mustCode(t, "SaveSegment", s.SaveSegment(ctx, seg, e), "")
		settle(t, s)
		dup := NewSegment(tn.ID, seg.Name)
		de := NewEntry(tn.ID, vault.ActionSegmentSave, "")
		checkCode(t, "SaveSegment(same name)", s.SaveSegment(ctx, dup, de), vault.ECONFLICT)
		if de.Seq != 0 {
			t.Errorf("failed SaveSegment: e.Seq = %d, want 0", de.Seq)
		}
		checkPending(t, s)
		got, err := s.Segment(ctx, tn.ID, seg.Name)
		mustCode(t, "Segment", err, "")
		if d := DiffSegment(got, seg); d != "" {
			t.Errorf("Segment after a refused duplicate: %s", d)
		}
		// Names are exact: another case is another name; another tenant
		// may use the same.
		mustCode(t, "SaveSegment(other case)", s.SaveSegment(ctx, NewSegment(tn.ID, "Volunteers"), NewEntry(tn.ID, vault.ActionSegmentSave, "")), "")
		mustCode(t, "SaveSegment(other tenant)", s.SaveSegment(ctx, NewSegment(other.ID, seg.Name), NewEntry(other.ID, vault.ActionSegmentSave, "")), "")
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		tn, other := MustCreateTenant(t, s), MustCreateTenant(t, s)
		ctx := t.Context()
		seg := NewSegment(tn.ID, "donors")
		mustCode(t, "SaveSegment", s.SaveSegment(ctx, seg, NewEntry(tn.ID, vault.ActionSegmentSave, "")), "")
		settle(t, s)

		_, err := s.Segment(ctx, tn.ID, "missing")
		checkCode(t, "Segment(missing)", err, vault.ENOTFOUND)
		_, err = s.Segment(ctx, other.ID, seg.Name)
		checkCode(t, "Segment(other tenant)", err, vault.ENOTFOUND)
		ss, err := s.Segments(ctx, other.ID)
		mustCode(t, "Segments(other tenant)", err, "")
		checkSegments(t, "Segments(other tenant)", ss)

		e := NewEntry(other.ID, vault.ActionSegmentDelete, "")
		checkCode(t, "DeleteSegment(other tenant)", s.DeleteSegment(ctx, other.ID, seg.Name, e), vault.ENOTFOUND)
		e = NewEntry(tn.ID, vault.ActionSegmentDelete, "")
		checkCode(t, "DeleteSegment(missing)", s.DeleteSegment(ctx, tn.ID, "missing", e), vault.ENOTFOUND)
		if e.Seq != 0 {
			t.Errorf("failed DeleteSegment: e.Seq = %d, want 0", e.Seq)
		}
		checkPending(t, s)
		got, err := s.Segment(ctx, tn.ID, seg.Name)
		mustCode(t, "Segment", err, "")
		if d := DiffSegment(got, seg); d != "" {
			t.Errorf("Segment after refused deletes: %s", d)
		}
	})
}
