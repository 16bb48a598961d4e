package synth_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/keyring"
	"github.com/coffre/coffre/vault/synth"
)

func TestContact_Deterministic(t *testing.T) {
	for _, seed := range []int64{0, 1, -7, 1 << 40} {
		for _, i := range []int{0, 1, 2, 999, 123456789} {
			a, b := synth.Contact(seed, i), synth.Contact(seed, i)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("Contact(%d, %d) differs between calls", seed, i)
			}
		}
	}
	// Concurrent calls give the same answers as sequential ones.
	const n = 2000
	want := make([]*vault.ContactInput, n)
	for i := range want {
		want[i] = synth.Contact(42, i)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := n - 1; i >= 0; i-- {
				if got := synth.Contact(42, i); !reflect.DeepEqual(got, want[i]) {
					t.Errorf("concurrent Contact(42, %d) differs", i)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestContact_SeedsDiffer(t *testing.T) {
	same := 0
	for i := 0; i < 1000; i++ {
		a, b := synth.Contact(1, i), synth.Contact(2, i)
		if a.Fields["given_name"] == b.Fields["given_name"] && a.Fields["family_name"] == b.Fields["family_name"] {
			same++
		}
	}
	if same > 5 {
		t.Fatalf("seeds 1 and 2 share %d names out of 1000", same)
	}
}

// TestContact_Schema normalises every field of many contacts with the
// default schema's rules.
func TestContact_Schema(t *testing.T) {
	s := vault.DefaultSchema()
	now := time.Now()
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	for i := 0; i < n; i++ {
		c := synth.Contact(7, i)
		for name, v := range c.Fields {
			f := s.Field(name)
			if f == nil {
				t.Fatalf("Contact(7, %d): field %q is not in the schema", i, name)
			}
			nv, ferr := f.Normalize(v, now)
			if ferr != nil {
				t.Fatalf("Contact(7, %d): field %s: %s", i, name, ferr.Reason)
			}
			if name == "phone" && !strings.HasPrefix(nv.(string), "+33639980000"[:8]) {
				t.Fatalf("Contact(7, %d): phone %q outside the fiction block", i, nv)
			}
		}
		for name, ci := range c.Consents {
			if !s.HasConsent(name) {
				t.Fatalf("Contact(7, %d): consent %q is not in the schema", i, name)
			}
			if ci.Granted == nil || ci.At == nil || ci.At.After(now) || ci.At.Year() < 2019 || ci.Source == "" {
				t.Fatalf("Contact(7, %d): consent %s is incomplete or out of range", i, name)
			}
		}
		if got, want := synth.District(c.Fields["postal_code"].(string)), c.Fields["district"]; got != want {
			t.Fatalf("Contact(7, %d): district %v does not match postal code (want %v)", i, want, got)
		}
	}
}

// TestContact_Service loads contacts through vault.Service.LoadContacts,
// which applies the schema exactly as for an API create.
func TestContact_Service(t *testing.T) {
	root, err := keyring.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.New(root)
	if err != nil {
		t.Fatal(err)
	}
	schema := vault.DefaultSchema()
	st := &memStore{}
	svc := vault.NewService(st, kr, &vault.RoleAuthorizer{Schema: schema}, schema)
	const n = 5000
	got, err := svc.LoadContacts(context.Background(), "demo", n, func(i int) *vault.ContactInput { return synth.Contact(3, i) }, vault.LoadOptions{BatchSize: 1000})
	if err != nil {
		t.Fatalf("LoadContacts: %v (%v)", err, vault.ErrorFields(err))
	}
	if got != n || st.records != n {
		t.Fatalf("LoadContacts = %d (store has %d), want %d", got, st.records, n)
	}
}

func TestContact_UniqueEmails(t *testing.T) {
	const n = 100_000
	seen := make(map[string]int, n)
	for i := 0; i < n; i++ {
		e := synth.Contact(11, i).Fields["email"].(string)
		if j, dup := seen[strings.ToLower(e)]; dup {
			t.Fatalf("Contact(11, %d) and Contact(11, %d) share an e-mail address", j, i)
		}
		seen[strings.ToLower(e)] = i
	}
}

// TestContact_NoRealDomains checks that every e-mail address is on a
// reserved documentation domain and that no value anywhere names a real
// mail provider.
func TestContact_NoRealDomains(t *testing.T) {
	providers := []string{"gmail", "googlemail", "yahoo", "hotmail", "outlook", "live.", "msn.", "orange.fr",
		"free.fr", "sfr.fr", "laposte", "wanadoo", "icloud", "proton", "gmx", "aol.", "bbox", "numericable"}
	check := func(i int, s string) {
		low := strings.ToLower(s)
		for _, p := range providers {
			if strings.Contains(low, p) {
				t.Fatalf("Contact(5, %d) mentions the mail provider %s", i, p)
			}
		}
	}
	for i := 0; i < 20_000; i++ {
		c := synth.Contact(5, i)
		e := c.Fields["email"].(string)
		at := strings.LastIndexByte(e, '@')
		if at < 1 || !slices.Contains(synth.Domains, e[at+1:]) {
			t.Fatalf("Contact(5, %d): e-mail domain is not a reserved example domain", i)
		}
		for _, v := range c.Fields {
			switch v := v.(type) {
			case string:
				check(i, v)
			case []string:
				for _, s := range v {
					check(i, s)
				}
			}
		}
		for _, ci := range c.Consents {
			check(i, ci.Source)
			check(i, ci.Proof)
		}
	}
}

// TestContact_Spread checks that the generator covers its lists: all
// districts, ages from 18 to 95, absent and present optional fields.
func TestContact_Spread(t *testing.T) {
	districts := map[string]bool{}
	given, family := map[any]bool{}, map[any]bool{}
	minAge, maxAge := 200, 0
	present := map[string]int{}
	const n = 50_000
	for i := 0; i < n; i++ {
		c := synth.Contact(9, i)
		districts[c.Fields["district"].(string)] = true
		given[c.Fields["given_name"]] = true
		family[c.Fields["family_name"]] = true
		for k := range c.Fields {
			present[k]++
		}
		for k := range c.Consents {
			present["consent."+k]++
		}
		if bd, ok := c.Fields["birth_date"].(string); ok {
			d, _ := time.Parse(time.DateOnly, bd)
			age := 2025 - d.Year()
			if d.YearDay() > 1 {
				age--
			}
			minAge, maxAge = min(minAge, age), max(maxAge, age)
		}
	}
	if len(districts) != 20 {
		t.Errorf("districts covered = %d, want 20", len(districts))
	}
	if len(given) < 300 || len(family) < 300 {
		t.Errorf("names covered = %d given, %d family, want ≥ 300 each", len(given), len(family))
	}
	if minAge != 18 || maxAge != 95 {
		t.Errorf("ages = %d..%d, want 18..95", minAge, maxAge)
	}
	for _, k := range []string{"phone", "address", "birth_date", "interests", "support_level", "notes", "consent.newsletter", "consent.sms", "consent.events"} {
		if present[k] == 0 || present[k] == n {
			t.Errorf("field %s present in %d of %d contacts, want some but not all", k, present[k], n)
		}
	}
}

func BenchmarkContact(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			synth.Contact(1, i)
			i++
		}
	})
}

// memStore is the part of vault.Store that LoadContacts uses.
type memStore struct {
	vault.Store
	mu      sync.Mutex
	tenants map[string]*vault.Tenant
	records int
}

func (m *memStore) CreateTenant(ctx context.Context, t *vault.Tenant) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tenants == nil {
		m.tenants = map[string]*vault.Tenant{}
	}
	m.tenants[t.ID] = t
	return nil
}

func (m *memStore) Tenant(ctx context.Context, id string) (*vault.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.tenants[id]; ok {
		return t, nil
	}
	return nil, vault.Errorf(vault.ENOTFOUND, "no tenant")
}

func (m *memStore) LoadContacts(ctx context.Context, rs []*vault.Record, e *vault.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records += len(rs)
	return nil
}
