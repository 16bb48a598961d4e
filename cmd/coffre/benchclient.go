package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/vault"
)

// The bench's HTTP client. The bench runs on the machine of the server it
// measures and shares its cores, so every cycle the driver spends per
// request is taken from the server. net/http's Client is costly for
// this: a Transport runs a read and a write goroutine per connection,
// hands every request over channels, and builds a Request and its header
// maps each time. Each worker instead owns one HTTP/1.1 keep-alive
// connection and writes requests from bytes built once, reusing its
// buffers from one request to the next.

const (
	// benchDialTimeout bounds one connection attempt.
	benchDialTimeout = 5 * time.Second
	// maxProblemBody bounds what is read of a failed answer for its
	// problem title.
	maxProblemBody = 64 << 10
	// maxDrainBody bounds what is read of an answer to keep its
	// connection; a longer answer closes the connection instead.
	maxDrainBody = 4 << 20
	// benchReadBuffer is the size of a connection's read buffer.
	benchReadBuffer = 4 << 10
)

// benchClient is one worker's connection to the server: one request in
// flight at a time, on a persistent HTTP/1.1 connection that it dials
// again when the server closed it or it broke. It is not safe for
// concurrent use.
type benchClient struct {
	addr      string      // host:port to dial
	tls       *tls.Config // nil for http
	prefix    string      // path of the base URL
	header    []byte      // Host, Authorization and Coffre-Purpose lines
	headerErr error       // a token or purpose that cannot be sent
	timeout   time.Duration
	dialer    net.Dialer

	conn     net.Conn // nil when not connected
	br       *bufio.Reader
	used     bool            // conn carried a request before: it sat idle
	stop     func() bool     // unhooks conn from hookDone
	hookDone <-chan struct{} // Done of the context that closes conn
	wbuf     []byte          // the request being written
	rbuf     []byte          // scratch for answers
	body     trackedBody     // the answer being read
}

// newBenchClient returns a client for base, a URL benchURL accepted,
// that sends token and purpose with every request. It dials only
// loopback addresses.
func newBenchClient(base, token, purpose string) (*benchClient, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	c := &benchClient{
		addr:    net.JoinHostPort(u.Hostname(), port),
		prefix:  strings.TrimSuffix(u.EscapedPath(), "/"),
		timeout: benchRequestTimeout,
		dialer:  net.Dialer{Timeout: benchDialTimeout, KeepAlive: 30 * time.Second},
		rbuf:    make([]byte, 0, benchReadBuffer),
	}
	if u.Scheme == "https" {
		c.tls = &tls.Config{ServerName: u.Hostname()}
	}
	h := []byte("Host: " + u.Host + "\r\n")
	for _, f := range [][2]string{{"Authorization", "Bearer " + token}, {"Coffre-Purpose", purpose}} {
		if !validHeaderValue(f[1]) {
			// As net/http did: every request fails, as a transport error.
			c.headerErr = fmt.Errorf("invalid header field value for %q", f[0])
		}
		h = append(h, f[0]+": "+strings.TrimSpace(f[1])+"\r\n"...)
	}
	c.header = h
	return c, nil
}

// validHeaderValue reports whether v may be sent as a header value: no
// control characters other than tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// request sends one request for the base path, path and id, and reads the
// whole answer, decoding it into out when it has the wanted status (a
// *[]byte out receives the answer's bytes, up to 64 KiB). The
// detail of a failure is the problem document's title, or the transport
// error. The duration runs from the first byte written (or the dial) to
// the last byte read.
func (c *benchClient) request(ctx context.Context, method, path, id string, body []byte, want int, out any) (result, string) {
	if c.headerErr != nil {
		return result{}, c.headerErr.Error()
	}
	if err := ctx.Err(); err != nil {
		return result{}, err.Error()
	}
	if !validPath(path) || !validPath(id) {
		return result{}, "invalid request path"
	}
	c.wbuf = c.appendRequest(c.wbuf[:0], method, path, id, body)
	t0 := time.Now()
	resp, err := c.roundTrip(ctx, t0.Add(c.timeout))
	if err != nil {
		c.close()
		return result{d: time.Since(t0)}, c.transportError(ctx, err)
	}
	// As with net/http, an answer whose head arrived counts by its
	// status even if its body breaks off; only the connection goes.
	ok := resp.StatusCode == want || ((want == http.StatusCreated || want == http.StatusNoContent) && resp.StatusCode == http.StatusOK)
	var detail string
	c.body = trackedBody{r: resp.Body}
	switch {
	case ok && out != nil:
		if loc, isLoc := out.(*createdID); isLoc {
			// The new contact's id, from the Location header: the answer's
			// body need not be parsed.
			id, found := strings.CutPrefix(resp.Header.Get("Location"), "/v1/contacts/")
			if !found || !vault.ValidID(id) {
				ok, detail = false, "no contact id in the Location header"
			}
			*loc = createdID(id)
		} else if raw, isRaw := out.(*[]byte); isRaw {
			// The answer as it is, for a text answer such as /metrics.
			*raw = bytes.Clone(c.readUpTo(maxProblemBody))
			if !c.body.eof {
				ok, detail = false, "answer too long"
			}
		} else if !c.decode(out) {
			ok, detail = false, "unreadable answer"
		}
	case !ok:
		var p struct {
			Title string `json:"title"`
		}
		if json.NewDecoder(bytes.NewReader(c.readUpTo(maxProblemBody))).Decode(&p) == nil {
			detail = p.Title
		}
	}
	c.drain(maxDrainBody)
	if !c.body.eof || resp.Close || resp.StatusCode < 200 {
		// A broken or overlong answer, the server's Connection: close, or
		// a switch to another protocol.
		c.close()
	}
	c.body = trackedBody{}
	return result{status: resp.StatusCode, ok: ok, d: time.Since(t0)}, detail
}

// validPath reports whether p may go in a request line as it is.
func validPath(p string) bool {
	for i := 0; i < len(p); i++ {
		if b := p[i]; b <= ' ' || b == 0x7f {
			return false
		}
	}
	return true
}

// appendRequest appends the request to dst.
func (c *benchClient) appendRequest(dst []byte, method, path, id string, body []byte) []byte {
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, c.prefix...)
	dst = append(dst, path...)
	dst = append(dst, id...)
	dst = append(dst, " HTTP/1.1\r\n"...)
	dst = append(dst, c.header...)
	if body != nil {
		dst = append(dst, "Content-Type: application/json\r\nContent-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

// roundTrip writes c.wbuf and reads the answer's head. A request that
// could not be written on a connection that was idle is written once
// more on a fresh connection: the server may have closed it meanwhile,
// and nothing of the request reached it. No other failure is retried.
func (c *benchClient) roundTrip(ctx context.Context, deadline time.Time) (*http.Response, error) {
	if c.conn != nil && c.br.Buffered() > 0 {
		// Bytes nobody asked for: the connection is out of step.
		c.close()
	}
	if err := c.connect(ctx, deadline); err != nil {
		return nil, err
	}
	n, err := c.conn.Write(c.wbuf)
	if err != nil && n == 0 && c.used && ctx.Err() == nil {
		c.close()
		if err := c.connect(ctx, deadline); err != nil {
			return nil, err
		}
		_, err = c.conn.Write(c.wbuf)
	}
	if err != nil {
		return nil, err
	}
	c.used = true
	for {
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			return nil, err
		}
		// Skip informational answers (100 Continue and the like).
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

// connect dials when there is no connection, hooks the connection to
// ctx so that cancelling ctx ends a request in flight, and sets the
// deadline of this request.
func (c *benchClient) connect(ctx context.Context, deadline time.Time) error {
	if c.conn == nil {
		conn, err := dialLoopback(ctx, &c.dialer, "tcp", c.addr)
		if err != nil {
			return err
		}
		if c.tls != nil {
			conn.SetDeadline(deadline)
			tc := tls.Client(conn, c.tls)
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return err
			}
			conn = tc
		}
		c.conn, c.used = conn, false
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, benchReadBuffer)
		} else {
			c.br.Reset(conn)
		}
	}
	if done := ctx.Done(); done != c.hookDone || c.stop == nil {
		if c.stop != nil {
			c.stop()
			c.stop = nil
		}
		c.hookDone = done
		if done != nil {
			conn := c.conn
			c.stop = context.AfterFunc(ctx, func() { conn.Close() })
		}
	}
	return c.conn.SetDeadline(deadline)
}

// close closes the connection; the next request dials again.
func (c *benchClient) close() {
	if c.conn == nil {
		return
	}
	if c.stop != nil {
		c.stop()
		c.stop, c.hookDone = nil, nil
	}
	c.conn.Close()
	c.conn = nil
}

// createdID, as request's out, takes the id of a created contact from the
// answer's Location header, and leaves its body unread.
type createdID string

// trackedBody is an answer's body that remembers how its reading ended.
type trackedBody struct {
	r   io.Reader
	eof bool  // read to its end
	err error // broke off
}

func (t *trackedBody) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	switch {
	case err == io.EOF:
		t.eof = true
	case err != nil:
		t.err = err
	}
	return n, err
}

// decode decodes the first JSON value of c.body into out and reports
// whether it could, as a json.Decoder on the body would.
func (c *benchClient) decode(out any) bool {
	data := c.readUpTo(maxProblemBody)
	if c.body.eof {
		// The whole answer, the usual case: no decoder to allocate.
		if json.Unmarshal(data, out) == nil {
			return true
		}
		return json.NewDecoder(bytes.NewReader(data)).Decode(out) == nil
	}
	// A long or broken answer: decode it as it comes.
	return json.NewDecoder(io.MultiReader(bytes.NewReader(data), &c.body)).Decode(out) == nil
}

// readUpTo reads c.body into c.rbuf until its end, an error or limit
// bytes, and returns what it read.
func (c *benchClient) readUpTo(limit int) []byte {
	buf := c.rbuf[:0]
	for len(buf) < limit && !c.body.eof && c.body.err == nil {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(max(cap(buf), 512), limit-len(buf)))
		}
		n, _ := c.body.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
	}
	c.rbuf = buf[:0]
	return buf
}

// drain reads and discards up to limit more bytes of c.body, or until
// its end or an error.
func (c *benchClient) drain(limit int) {
	buf := c.rbuf[:cap(c.rbuf)]
	for limit > 0 && !c.body.eof && c.body.err == nil {
		n, _ := c.body.Read(buf[:min(len(buf), limit)])
		limit -= n
	}
}

// transportError describes a request that got no (whole) answer.
func (c *benchClient) transportError(ctx context.Context, err error) string {
	switch {
	case ctx.Err() != nil:
		return ctx.Err().Error()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Sprintf("timeout: no answer within %s", c.timeout)
	case err == io.EOF:
		return "the server closed the connection without answering"
	}
	return err.Error()
}

// dialLoopback dials addr at its loopback addresses only, whatever its
// host name resolves to.
func dialLoopback(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			continue
		}
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.IP.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("bench: %s does not resolve to a loopback address", host)
	}
	return nil, errors.Join(errs...)
}
