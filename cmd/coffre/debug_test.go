package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestStartDebug(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:6060", "example.org:6060", "6060", ""} {
		if srv, _, err := startDebug(addr); err == nil {
			srv.Close()
			t.Errorf("startDebug(%q) succeeded, want a refusal", addr)
		}
	}
	srv, addr, err := startDebug("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get("http://" + addr.String() + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "goroutine") {
		t.Errorf("GET /debug/pprof/ = %d, want the profile index", resp.StatusCode)
	}
}
