package synth

import (
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/vault"
)

// refDate is the fixed "today" of the generator: ages (18 to 95) and
// consent times are computed from it rather than from the clock, so that
// Contact stays a pure function of its arguments.
var refDate = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// consentFrom and consentSpan bound consent times: 2019 to 2024.
var (
	consentFrom = time.Date(2019, time.January, 1, 0, 0, 0, 0, time.UTC)
	consentSpan = int64(refDate.Sub(consentFrom) / time.Second)
)

// Domains are the e-mail domains of synthetic contacts, all reserved for
// documentation by RFC 2606: no mail sent to them reaches anyone.
var Domains = []string{"example.org", "example.com", "example.net"}

// FictitiousPhonePrefix is the national prefix of every synthetic phone
// number: ARCEP reserves 06 39 98 XX XX for fiction.
const FictitiousPhonePrefix = "06 39 98"

// Contact returns the i-th synthetic resident of the given seed, for the
// default schema. It is a pure function of seed and i: the same arguments
// give the same contact, on any machine. E-mail addresses embed i, so the
// contacts of one seed have distinct e-mail addresses for distinct
// non-negative i. Contact is safe for concurrent use and holds no lock; the
// result is the caller's to keep or change.
func Contact(seed int64, i int) *vault.ContactInput {
	r := newRand(seed, i)
	g := r.intn(len(givenNames))
	f := r.intn(len(familyNames))
	arr := int(arrondissements[r.intn(len(arrondissements))])

	fields := make(map[string]any, 11)
	fields["given_name"] = givenAny[g]
	fields["family_name"] = familyAny[f]
	fields["email"] = email(givenSlugs[g], familySlugs[f], i, Domains[r.intn(len(Domains))])
	fields["postal_code"] = postalAny[arr-1]
	fields["district"] = districtAny[arr-1]
	if r.chance(88) {
		fields["phone"] = phone(r.intn(10000))
	}
	if r.chance(95) {
		fields["address"] = address(&r)
	}
	if r.chance(90) {
		fields["birth_date"] = birthDate(&r)
	}
	if n := r.intn(5); n > 0 {
		fields["interests"] = pick(&r, interests, n)
	}
	if r.chance(60) {
		fields["support_level"] = supportAny[r.intn(len(supportAny))]
	}
	if r.chance(15) {
		fields["notes"] = notesAny[r.intn(len(notesAny))]
	}

	// One allocation backs every consent's pointers.
	var b *struct {
		granted [3]bool
		at      [3]time.Time
	}
	consents := make(map[string]vault.ConsentInput, 3)
	for k, c := range consentKinds {
		if !r.chance(c.present) {
			continue
		}
		if b == nil {
			b = new(struct {
				granted [3]bool
				at      [3]time.Time
			})
		}
		b.granted[k] = r.chance(c.granted)
		b.at[k] = consentFrom.Add(time.Duration(r.int63n(consentSpan)) * time.Second)
		in := vault.ConsentInput{Granted: &b.granted[k], At: &b.at[k], Source: consentSources[r.intn(len(consentSources))]}
		if r.chance(30) {
			in.Proof = proof(r.next())
		}
		consents[c.name] = in
	}
	return &vault.ContactInput{Fields: fields, Consents: consents}
}

// consentKinds are the default schema's consents with the percentage of
// contacts who gave an answer, and of those, who granted it.
var consentKinds = [3]struct {
	name             string
	present, granted int
}{
	{"newsletter", 70, 80},
	{"sms", 40, 60},
	{"events", 50, 75},
}

// Precomputed strings: slugs for e-mail local parts, postal codes and
// district names. They are built once and only read afterwards.
var (
	givenSlugs  = slugs(givenNames)
	familySlugs = slugs(familyNames)
	postalCodes = func() (out [20]string) {
		for i := range out {
			out[i] = "750" + twoDigits(i+1)
		}
		return out
	}()
	districts = func() (out [20]string) {
		for i := range out {
			out[i] = "d" + strconv.Itoa(i+1)
		}
		return out
	}()
)

// Values of fixed lists boxed once, so that storing them in a field map
// does not allocate.
var (
	givenAny    = boxed(givenNames)
	familyAny   = boxed(familyNames)
	postalAny   = boxed(postalCodes[:])
	districtAny = boxed(districts[:])
	supportAny  = boxed(supportLevels)
	notesAny    = boxed(notes)
)

func boxed(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// District returns the district of a postal code of the generator
// ("75011" → "d11"), or "" for a postal code it does not produce.
func District(postalCode string) string {
	for i, pc := range postalCodes {
		if pc == postalCode {
			return districts[i]
		}
	}
	return ""
}

func twoDigits(n int) string {
	return string([]byte{byte('0' + n/10), byte('0' + n%10)})
}

// slugs returns the lower-case ASCII forms of names for e-mail addresses:
// accents dropped, spaces and apostrophes turned into hyphens.
func slugs(names []string) []string {
	r := strings.NewReplacer(
		"à", "a", "â", "a", "ä", "a", "ç", "c", "é", "e", "è", "e", "ê", "e",
		"ë", "e", "î", "i", "ï", "i", "ô", "o", "ö", "o", "ù", "u", "û", "u",
		"ü", "u", "ÿ", "y", "æ", "ae", "œ", "oe", " ", "-", "'", "-",
	)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = r.Replace(strings.ToLower(n))
	}
	return out
}

// email returns given.family.i@domain in one allocation.
func email(given, family string, i int, domain string) string {
	var buf [128]byte
	b := append(buf[:0], given...)
	b = append(b, '.')
	b = append(b, family...)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, '@')
	b = append(b, domain...)
	return string(b)
}

// phone returns the n-th number (0 ≤ n < 10,000) of the fiction block.
func phone(n int) string {
	var buf [16]byte
	b := append(buf[:0], FictitiousPhonePrefix...)
	b = append(b, ' ', byte('0'+n/1000), byte('0'+n/100%10), ' ', byte('0'+n/10%10), byte('0'+n%10))
	return string(b)
}

func address(r *rng) string {
	var buf [160]byte
	// Small street numbers are more frequent than large ones.
	b := strconv.AppendInt(buf[:0], int64(1+r.intn(1+r.intn(180))), 10)
	if r.chance(4) {
		b = append(b, " bis"...)
	}
	b = append(b, ' ')
	b = append(b, streetTypes[r.intn(len(streetTypes))]...)
	b = append(b, ' ')
	b = append(b, streetNames[r.intn(len(streetNames))]...)
	if r.chance(15) {
		b = append(b, ", "...)
		b = append(b, addressComplements[r.intn(len(addressComplements))]...)
	}
	return string(b)
}

// ageBands spread adults over ages 18 to 95 roughly like the French adult
// population: percentage, lowest and highest age.
var ageBands = []struct{ pct, lo, hi int }{
	{18, 18, 29}, {25, 30, 44}, {25, 45, 59}, {21, 60, 74}, {11, 75, 95},
}

func birthDate(r *rng) string {
	p := r.intn(100)
	band := ageBands[len(ageBands)-1]
	for _, ab := range ageBands {
		if p < ab.pct {
			band = ab
			break
		}
		p -= ab.pct
	}
	age := band.lo + r.intn(band.hi-band.lo+1)
	// Born between age+1 years and age years before refDate, exclusive.
	d := refDate.AddDate(-age, 0, 0).AddDate(0, 0, -1-r.intn(364))
	var buf [10]byte
	return string(d.AppendFormat(buf[:0], time.DateOnly))
}

// pick returns n distinct items of list.
func pick(r *rng, list []string, n int) []string {
	out := make([]string, 0, n)
	for len(out) < n {
		s := list[r.intn(len(list))]
		dup := false
		for _, o := range out {
			dup = dup || o == s
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}

func proof(x uint64) string {
	const hex = "0123456789abcdef"
	var buf [12]byte
	b := append(buf[:0], "ref-"...)
	for k := 0; k < 8; k++ {
		b = append(b, hex[x>>(4*k)&0xf])
	}
	return string(b)
}

// rng is a SplitMix64 generator: tiny state, no lock, good enough
// statistics for synthetic data (not for anything secret).
type rng struct{ s uint64 }

func newRand(seed int64, i int) rng {
	r := rng{s: uint64(seed)}
	r.s = r.next() ^ uint64(i)*0xd1342543de82ef95
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// intn returns a number in [0, n) for 0 < n < 2^32.
func (r *rng) intn(n int) int { return int((r.next() >> 32) * uint64(n) >> 32) }

// int63n returns a number in [0, n) for n > 0.
func (r *rng) int63n(n int64) int64 { return int64(r.next()>>1) % n }

// chance reports true pct times in a hundred.
func (r *rng) chance(pct int) bool { return r.intn(100) < pct }
