package main

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// The server logs a line per request. Written one by one, each line is a
// system call on the request's path, about 4 % of a read's CPU time, so
// serve gathers its log lines in a logBuffer: lines of level INFO and
// below reach the log within logFlushEvery, warnings and errors at once
// (with everything before them, in order), and Close writes what is left.
// A process killed outright loses at most logFlushEvery of access lines;
// the audit log, not this one, is the record of who did what.
const (
	logFlushEvery = 100 * time.Millisecond
	logFlushBytes = 64 << 10
)

// urgentLevels mark the lines a logBuffer writes at once: slog's JSON
// handler writes the level as the second key of every line.
var urgentLevels = [][]byte{[]byte(`"level":"WARN`), []byte(`"level":"ERROR`)}

// logBuffer is an io.Writer that batches whole lines (each Write is one
// line, as slog's handlers write them) for a slower writer.
type logBuffer struct {
	mu     sync.Mutex
	w      io.Writer
	every  time.Duration // the longest a line waits
	buf    []byte
	armed  bool // a flush is scheduled
	closed bool
	err    error // the first write error, reported by the next Write
}

func newLogBuffer(w io.Writer) *logBuffer { return &logBuffer{w: w, every: logFlushEvery} }

// Write queues p, or writes it and everything queued when p is a warning
// or an error, or when logFlushBytes are queued. After Close it writes p
// at once.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.err; err != nil {
		b.err = nil
		return 0, err
	}
	b.buf = append(b.buf, p...)
	if b.closed || len(b.buf) >= logFlushBytes || urgent(p) {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if !b.armed {
		b.armed = true
		time.AfterFunc(b.every, b.flush)
	}
	return len(p), nil
}

// urgent reports whether line is a warning or an error.
func urgent(line []byte) bool {
	head := line[:min(len(line), 96)]
	for _, l := range urgentLevels {
		if bytes.Contains(head, l) {
			return true
		}
	}
	return false
}

// flush writes what is queued; a failure is reported by the next Write.
func (b *logBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.armed = false
	if err := b.flushLocked(); err != nil && b.err == nil {
		b.err = err
	}
}

func (b *logBuffer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	if cap(b.buf) > 4*logFlushBytes {
		b.buf = nil
	}
	return err
}

// Close writes what is queued; later lines are written at once.
func (b *logBuffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return b.flushLocked()
}
