package synth

import "testing"

func TestLists(t *testing.T) {
	for name, list := range map[string][]string{
		"givenNames": givenNames, "familyNames": familyNames, "streetNames": streetNames,
		"interests": interests, "notes": notes, "consentSources": consentSources,
	} {
		seen := map[string]bool{}
		for _, s := range list {
			if seen[s] {
				t.Errorf("%s: %q listed twice", name, s)
			}
			seen[s] = true
		}
	}
	for i, s := range append(append([]string{}, givenSlugs...), familySlugs...) {
		for _, r := range s {
			if !('a' <= r && r <= 'z' || r == '-') {
				t.Fatalf("slug %d (%q) is not lower-case ASCII", i, s)
			}
		}
	}
}
