package storetest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/vault/synth"
)

// DemoValues are the plain values of one synthetic contact of coffre demo
// (synth.Contact), for a plaintext baseline of the same data. An empty
// string or a zero BirthYear is a field the contact does not have.
type DemoValues struct {
	GivenName, FamilyName, Email, Phone, Address string
	PostalCode, District, SupportLevel, Notes    string
	BirthYear                                    int
	Interests                                    []string
	Newsletter, SMS, Events                      bool
}

// DemoSQLList returns the demo's values vs (districts, interests: no
// quote in them) as a list of SQL string literals, for the plaintext
// baselines' WHERE clauses: 'a', 'b'.
func DemoSQLList(vs []string) string {
	quoted := make([]string, len(vs))
	for i, v := range vs {
		quoted[i] = "'" + v + "'"
	}
	return strings.Join(quoted, ", ")
}

// DemoContact returns the plain values of synth.Contact(seed, i): the
// contact coffre demo --seed seed loads as its i-th, counting --start in.
// A consent is true when it is present and granted, as its segment token.
func DemoContact(seed int64, i int) DemoValues {
	in := synth.Contact(seed, i)
	str := func(name string) string { s, _ := in.Fields[name].(string); return s }
	v := DemoValues{
		GivenName: str("given_name"), FamilyName: str("family_name"), Email: str("email"), Phone: str("phone"),
		Address: str("address"), PostalCode: str("postal_code"), District: str("district"),
		SupportLevel: str("support_level"), Notes: str("notes"),
	}
	if bd := str("birth_date"); len(bd) >= 4 {
		v.BirthYear, _ = strconv.Atoi(bd[:4])
	}
	if tags, ok := in.Fields["interests"].([]string); ok {
		v.Interests = tags
	}
	granted := func(name string) bool {
		c, ok := in.Consents[name]
		return ok && c.Granted != nil && *c.Granted
	}
	v.Newsletter, v.SMS, v.Events = granted("newsletter"), granted("sms"), granted("events")
	return v
}

// The filters of the segment benchmark through the API on coffre demo
// data (scripts/bench-segments.sh sends them as JSON; the plaintext
// baselines write them in SQL):
//
//   - "two": district in DemoDistricts and the newsletter consent;
//   - "five": two, one of DemoInterests, the events consent, created
//     after a time (a year before the run);
//   - "five-age": two, one of DemoInterests, aged DemoAgeMin to DemoAgeMax
//     this year (born in those years), created after the time. The default
//     policy shows birth dates to agents for casework, never to
//     volunteers, so only the agent runs it.
//
// The agent (purpose casework) adds the policy's conditions: not
// restricted, not objected. The volunteer (purpose newsletter, districts
// DemoVolunteerDistricts) adds: district in theirs, newsletter consent,
// not restricted, not objected.
var (
	DemoDistricts          = []string{"d3", "d7"}
	DemoVolunteerDistricts = []string{"d3", "d7", "d11"}
	DemoInterests          = []string{"cycling", "ecology", "transport"}
)

// The age band of the "five-age" filter, in years.
const (
	DemoAgeMin = 45
	DemoAgeMax = 64
)

// DemoQuery is one role and filter of the benchmark.
type DemoQuery struct{ Role, Filter string }

// DemoQueries are the role and filter pairs measured, in order.
var DemoQueries = []DemoQuery{
	{"agent", "two"}, {"agent", "five"}, {"agent", "five-age"},
	{"volunteer", "two"}, {"volunteer", "five"},
}

// DemoCreatedAt spreads n contacts evenly over the span in which coffre
// demo created them, first to last, in load order: the creation time the
// baseline gives the i-th.
func DemoCreatedAt(first, last time.Time, n, i int) time.Time {
	if n <= 1 {
		return first
	}
	return first.Add(time.Duration(int64(last.Sub(first)) / int64(n-1) * int64(i))).Truncate(time.Microsecond)
}

// BestMedian calls f once to warm up, then runs times, and returns the
// shortest and the median time of the runs.
func BestMedian(runs int, f func() error) (best, median time.Duration, err error) {
	if err := f(); err != nil {
		return 0, 0, err
	}
	ts := make([]time.Duration, 0, runs)
	for range max(runs, 1) {
		start := time.Now()
		if err := f(); err != nil {
			return 0, 0, err
		}
		ts = append(ts, time.Since(start))
	}
	slices.Sort(ts)
	return ts[0], ts[len(ts)/2], nil
}

// DemoLine is the line a baseline reports for one measurement, which
// scripts/bench-segments.sh reads: tab-separated "baseline", role, filter,
// answer (count or list), matches (or rows on the page), best and median
// in milliseconds.
func DemoLine(q DemoQuery, answer string, matches int64, best, median time.Duration) string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("baseline\t%s\t%s\t%s\t%d\t%s\t%s", q.Role, q.Filter, answer, matches, ms(best), ms(median))
}

// DemoSince returns the created-after time of the demo filters: flag, in
// RFC 3339, or a year ago when it is empty.
func DemoSince(t testing.TB, flag string) time.Time {
	t.Helper()
	if flag == "" {
		return time.Now().Add(-365 * 24 * time.Hour)
	}
	since, err := time.Parse(time.RFC3339, flag)
	if err != nil {
		t.Fatalf("-seg.demo-since: %v", err)
	}
	return since
}

// TimeDemoQuery times q's count and first page on a plaintext baseline,
// best and median of runs, and logs the lines scripts/bench-segments.sh
// reads. count returns the count; list runs the page's query, reads
// every row and returns how many there were.
func TimeDemoQuery(t testing.TB, q DemoQuery, runs int, count, list func() (int64, error)) {
	t.Helper()
	var matches, page int64
	cb, cm, err := BestMedian(runs, func() (err error) { matches, err = count(); return err })
	if err != nil {
		t.Fatalf("%s %s count: %v", q.Role, q.Filter, err)
	}
	lb, lm, err := BestMedian(runs, func() (err error) { page, err = list(); return err })
	if err != nil {
		t.Fatalf("%s %s list: %v", q.Role, q.Filter, err)
	}
	t.Log(DemoLine(q, "count", matches, cb, cm))
	t.Log(DemoLine(q, "list", page, lb, lm))
}
