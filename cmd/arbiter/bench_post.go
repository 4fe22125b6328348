package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
)

// poster sends one eth_sendRawTransaction per HTTP/1.1 request over
// keep-alive connections (TLS for https://) it holds itself: the request is
// written in one piece and the answer read back with
// http.ReadResponse, without the transport's goroutines, request objects
// and JSON-RPC client of rpc.Client. The load tool shares the cores with
// the nodes it measures, so what it spends per request is taken from
// them: this path costs it about a third of what rpc.Client did
// (docs/BENCHMARKS.md). https:// URLs get TLS over the same connections,
// checked against the system's roots; batches keep using rpc.Client.
type poster struct {
	addr    string      // host:port to dial
	tls     *tls.Config // nil for http://
	head    []byte      // request line and fixed headers
	timeout time.Duration

	mu     sync.Mutex
	idle   []*postConn
	closed bool
}

// postConn is one keep-alive connection.
type postConn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte // the request being written
}

// maxPostAnswer bounds the answer read to one request.
const maxPostAnswer = 1 << 20

// newPoster returns a poster for an http:// or https:// URL, or nil for
// any other (the caller then sends with rpc.Client).
func newPoster(raw string, timeout time.Duration) *poster {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil
	}
	p := &poster{addr: u.Host, timeout: timeout}
	port := "80"
	if u.Scheme == "https" {
		// HTTP/1.1 only: the poster speaks nothing else.
		p.tls, port = &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}}, "443"
	}
	if u.Port() == "" {
		p.addr = net.JoinHostPort(u.Hostname(), port)
	}
	p.head = []byte("POST " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: application/json\r\nUser-Agent: arbiter-bench\r\n")
	return p
}

// close closes the idle connections.
func (p *poster) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.idle {
		pc.c.Close()
	}
	p.idle, p.closed = nil, true
}

// get returns an idle connection (reused true) or dials one.
func (p *poster) get(ctx context.Context) (pc *postConn, reused bool, err error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		pc = p.idle[n-1]
		p.idle = p.idle[:n-1]
	}
	p.mu.Unlock()
	if pc != nil {
		return pc, true, nil
	}
	// Dialling and the TLS handshake share one timeout.
	dctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(dctx, "tcp", p.addr)
	if err != nil {
		return nil, false, err
	}
	if p.tls != nil {
		tc := tls.Client(c, p.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			c.Close()
			return nil, false, fmt.Errorf("tls handshake with %s: %w", p.addr, err)
		}
		c = tc
	}
	return &postConn{c: c, r: bufio.NewReaderSize(c, 4096)}, false, nil
}

// put keeps a connection for the next request, or closes it if the
// poster is closed.
func (p *poster) put(pc *postConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		pc.c.Close()
		return
	}
	p.idle = append(p.idle, pc)
}

// sendRawTransaction sends raw and returns nil once the node took it, the
// node's JSON-RPC error (an rpc.Error), or an rpc.HTTPError for an answer
// other than 200. A kept connection that turns out closed before a byte
// of the answer came back (the node closed it while it sat idle) is
// redialled once; a timeout or a cut answer is not retried, since the node
// may have taken the transaction.
func (p *poster) sendRawTransaction(ctx context.Context, raw []byte) error {
	for attempt := 0; ; attempt++ {
		pc, reused, err := p.get(ctx)
		if err != nil {
			return err
		}
		keep, err := p.roundTrip(ctx, pc, raw)
		if keep {
			p.put(pc)
		} else {
			pc.c.Close()
		}
		if ctx.Err() != nil && err != nil {
			return ctx.Err()
		}
		var gone idleGone
		if errors.As(err, &gone) && reused && attempt == 0 {
			continue // the idle connection was gone: once more on a new one
		}
		var answered answeredError
		switch {
		case errors.As(err, &answered):
			return answered.error
		case errors.As(err, &gone):
			return gone.error
		}
		return err
	}
}

// answeredError marks an error the node answered with, as opposed to a
// failure of the connection.
type answeredError struct{ error }

// idleGone marks a connection found closed or reset before any of the
// answer arrived: what a kept connection the node closed looks like.
type idleGone struct{ error }

// closedBeforeAnswer reports whether err, from writing the request or
// from reading the first byte of the answer, means the peer had closed or
// reset the connection (and not a timeout).
func closedBeforeAnswer(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// roundTrip writes one request on pc and reads its answer. keep reports
// whether pc may carry another request.
func (p *poster) roundTrip(ctx context.Context, pc *postConn, raw []byte) (keep bool, err error) {
	deadline := time.Now().Add(p.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := pc.c.SetDeadline(deadline); err != nil {
		return false, err
	}
	stop := context.AfterFunc(ctx, func() { _ = pc.c.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			keep = false // the context ended: the deadline is in the past
		}
	}()

	bodyLen := len(`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x"]}`) + 2*len(raw)
	b := append(pc.buf[:0], p.head...)
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(bodyLen), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x`...)
	b = hex.AppendEncode(b, raw)
	b = append(b, `"]}`...)
	pc.buf = b
	if _, err := pc.c.Write(b); err != nil {
		if closedBeforeAnswer(err) {
			return false, idleGone{err}
		}
		return false, err
	}
	if _, err := pc.r.Peek(1); err != nil {
		if closedBeforeAnswer(err) { // nothing of the answer arrived
			return false, idleGone{err}
		}
		return false, err
	}
	resp, err := http.ReadResponse(pc.r, nil)
	// Interim answers (100 Continue and the like) precede the answer.
	for err == nil && resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
		resp, err = http.ReadResponse(pc.r, nil)
	}
	if err != nil {
		return false, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPostAnswer+1))
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	if len(data) > maxPostAnswer {
		return false, fmt.Errorf("answer of more than %d bytes", maxPostAnswer)
	}
	keep = !resp.Close
	if resp.StatusCode != http.StatusOK {
		return keep, answeredError{rpc.HTTPError{StatusCode: resp.StatusCode, Status: resp.Status, Body: data}}
	}
	var out struct {
		Result json.RawMessage `json:"result"`
		Error  *postRPCError   `json:"error"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return false, answeredError{fmt.Errorf("answer is not JSON-RPC: %v", err)}
	}
	if out.Error != nil {
		return keep, answeredError{out.Error}
	}
	if len(out.Result) == 0 {
		return keep, answeredError{errors.New("answer has neither result nor error")}
	}
	return keep, nil
}

// postRPCError is a JSON-RPC error answer; it is an rpc.Error.
type postRPCError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *postRPCError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("json-rpc error %d", e.Code)
	}
	return e.Message
}

// ErrorCode is the JSON-RPC error code (rpc.Error).
func (e *postRPCError) ErrorCode() int { return e.Code }
