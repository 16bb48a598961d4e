package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistIndex(t *testing.T) {
	// Every value falls in a bucket whose bounds hold it, and buckets are
	// in value order.
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 1<<20 + 12345, 1<<40 - 1, 1 << 62, 1<<64 - 1} {
		i := histIndex(v)
		low, width := histBounds(i)
		if v < low || v-low >= width {
			t.Errorf("histIndex(%d) = %d with bounds [%d, +%d)", v, i, low, width)
		}
		if i < prev || i >= histBuckets {
			t.Errorf("histIndex(%d) = %d out of order or range", v, i)
		}
		prev = i
		if v >= histSub && float64(width)/float64(low) > 1.0/64+1e-9 {
			t.Errorf("bucket of %d is %d wide from %d: coarser than 1/64", v, width, low)
		}
	}
}

func TestHistQuantile(t *testing.T) {
	var h hist
	if h.quantile(0.5) != 0 {
		t.Error("quantile of an empty hist is not 0")
	}
	r := rand.New(rand.NewPCG(1, 2))
	var vals []time.Duration
	for i := 0; i < 10000; i++ {
		d := time.Duration(r.ExpFloat64() * float64(3*time.Millisecond))
		vals = append(vals, d)
		h.record(d)
	}
	var other hist
	other.record(time.Second)
	vals = append(vals, time.Second)
	h.merge(&other)
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(q*float64(len(vals)-1)+0.5)]
		got := h.quantile(q)
		if diff := float64(got-exact) / float64(exact); diff > 0.02 || diff < -0.02 {
			t.Errorf("quantile(%v) = %v, exact %v", q, got, exact)
		}
	}
	if h.max != time.Second || h.quantile(1) != time.Second {
		t.Errorf("max = %v, quantile(1) = %v, want 1s", h.max, h.quantile(1))
	}
}

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true, "[::1]": true,
		"10.0.0.1": false, "192.168.1.1": false, "0.0.0.0": false, "::": false, "example.com": false,
		"localhost.example.com": false, "127.0.0.1.nip.io": false, "": false,
	} {
		if got := loopbackHost(host); got != want {
			t.Errorf("loopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestParseOps(t *testing.T) {
	ops, w, err := parseOps("create,get")
	if err != nil || !slices.Equal(ops, []string{"create", "get"}) || w != nil {
		t.Errorf("parseOps(create,get) = %v, %v, %v", ops, w, err)
	}
	ops, w, err = parseOps("get:8, create:1")
	if err != nil || !slices.Equal(ops, []string{"get", "create"}) || !slices.Equal(w, []int{8, 1}) {
		t.Errorf("parseOps(get:8, create:1) = %v, %v, %v", ops, w, err)
	}
	for _, bad := range []string{"", "fly", "get:0", "get:x", "get:1,get:2", "get:1,create"} {
		if _, _, err := parseOps(bad); err == nil {
			t.Errorf("parseOps(%q) succeeded", bad)
		}
	}
}
