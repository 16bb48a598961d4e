package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter records what it is given and how many writes.
type countingWriter struct {
	mu     sync.Mutex
	b      strings.Builder
	writes int
	fail   error
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail != nil {
		return 0, w.fail
	}
	w.writes++
	w.b.Write(p)
	return len(p), nil
}

func (w *countingWriter) state() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String(), w.writes
}

func TestLogBuffer(t *testing.T) {
	// Timer-driven flushes are checked in TestLogBufferTimer; here the
	// interval is too long to fire, so that what is written is what the
	// buffer chose to write at once.
	w := &countingWriter{}
	b := newLogBuffer(w)
	b.every = time.Hour
	log := slog.New(slog.NewJSONHandler(b, nil))

	for i := range 50 {
		log.Info("request", "n", i)
	}
	if out, _ := w.state(); out != "" {
		t.Fatalf("info lines written at once: %q", out)
	}

	// A warning goes at once, with what was queued before it, in order.
	log.Warn("careful")
	out, writes := w.state()
	if writes != 1 || strings.Count(out, "\n") != 51 || !strings.HasSuffix(out, "\"msg\":\"careful\"}\n") {
		t.Fatalf("a warning was not written at once, in one write after the lines before it: %d writes, %q", writes, out)
	}
	for i := range 50 {
		if !strings.Contains(out, fmt.Sprintf(`"n":%d}`, i)) {
			t.Fatalf("line %d missing: %q", i, out)
		}
	}
	if strings.Index(out, `"n":3}`) > strings.Index(out, `"n":30}`) {
		t.Errorf("lines out of order: %q", out)
	}
	log.Error("broken")
	if out, _ := w.state(); !strings.HasSuffix(out, "\"msg\":\"broken\"}\n") {
		t.Errorf("an error was not written at once: %q", out)
	}

	// A full buffer is written without waiting.
	big := strings.Repeat("x", 1024)
	_, before := w.state()
	for range logFlushBytes/1024 + 1 {
		log.Info("big", "v", big)
	}
	if _, after := w.state(); after == before {
		t.Error("a full buffer was not written at once")
	}

	// Close writes what is left; later lines go at once.
	log.Info("last")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if out, _ := w.state(); !strings.HasSuffix(out, "\"msg\":\"last\"}\n") {
		t.Errorf("Close did not write the last line: %q", out)
	}
	log.Info("after close")
	if out, _ := w.state(); !strings.HasSuffix(out, "\"msg\":\"after close\"}\n") {
		t.Errorf("a line after Close was not written at once: %q", out)
	}
}

// Info lines reach the writer once the interval has passed, batched.
func TestLogBufferTimer(t *testing.T) {
	w := &countingWriter{}
	b := newLogBuffer(w)
	log := slog.New(slog.NewJSONHandler(b, nil))
	for i := range 50 {
		log.Info("request", "n", i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, writes := w.state()
		if strings.Count(out, "\n") == 50 {
			if writes >= 50 {
				t.Errorf("50 lines took %d writes", writes)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("info lines not written after the flush interval: %q", out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A failed background write is reported by the next Write.
func TestLogBufferError(t *testing.T) {
	w := &countingWriter{fail: errors.New("disk full")}
	b := newLogBuffer(w)
	if _, err := b.Write([]byte(`{"time":"t","level":"INFO","msg":"a"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	b.flush()
	if _, err := b.Write([]byte(`{"time":"t","level":"INFO","msg":"b"}` + "\n")); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Write after a failed flush: %v, want the flush's error", err)
	}
	if _, err := b.Write([]byte(`{"time":"t","level":"ERROR","msg":"c"}` + "\n")); err == nil {
		t.Error("an urgent Write to a failing writer reported no error")
	}
}
