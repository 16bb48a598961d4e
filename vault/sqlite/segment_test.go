package sqlite_test

import (
	"flag"
	"testing"

	"github.com/coffre/coffre/vault/storetest"
)

var segN = flag.Int("seg.n", 0, "TestSegmentScale: number of contacts to load (0 skips the test)")

// TestSegmentScale loads -seg.n synthetic contacts and reports the time
// of the segment benchmark's queries, the best of five runs.
//
//	go test ./vault/sqlite -run TestSegmentScale -seg.n 100000 -v
func TestSegmentScale(t *testing.T) {
	if *segN <= 0 {
		t.Skip("set -seg.n to run")
	}
	db := MustOpen(t)
	d := storetest.LoadSegmentData(t, db, *segN, false)
	for _, line := range storetest.TimeSegments(t, db, d, 5) {
		t.Log(line)
	}
}

// BenchmarkSegments measures the segment benchmark's queries over 100,000
// contacts.
func BenchmarkSegments(b *testing.B) {
	db := MustOpen(b)
	storetest.BenchSegments(b, db, storetest.LoadSegmentData(b, db, 100000, false))
}
