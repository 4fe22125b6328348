package bridge_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/arbiter-chain/arbiter/internal/rpclimit"
	"github.com/arbiter-chain/arbiter/offchain/bridge"
)

// serverTimeout is every HTTP timeout of the servers in these tests.
const serverTimeout = 200 * time.Millisecond

// hangLimit bounds how long a test waits for the server to drop a
// connection: far beyond serverTimeout, so reaching it means the server
// held the connection, not that it was slow.
const hangLimit = 5 * time.Second

// serveHTTP serves b.HTTPServer() on a loopback port until the end of
// the test and returns its address.
func serveHTTP(tb testing.TB, b *bridge.Bridge) string {
	tb.Helper()
	srv := b.HTTPServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("Serve: have %v, want %v", err, http.ErrServerClosed)
		}
	})
	return ln.Addr().String()
}

// trickle writes data one byte at a time, a byte every few
// milliseconds, until it is all sent (never, for the endless reader) or
// a write fails because the server closed the connection.
func trickle(conn net.Conn, data io.Reader) {
	r := bufio.NewReader(data)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		c, err := r.ReadByte()
		if err != nil {
			return
		}
		if _, err := conn.Write([]byte{c}); err != nil {
			return
		}
	}
}

// endless yields the same byte for ever.
type endless byte

func (b endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestHTTPServerDropsSlowClients opens connections that trickle their
// headers or body byte by byte, or sit idle after a request, against
// HTTPServer: the server drops each of them once its timeout passes, and
// serves other clients meanwhile.
func TestHTTPServerDropsSlowClients(t *testing.T) {
	tests := []struct {
		name string
		// send writes to the connection (in its own goroutine).
		send func(conn net.Conn)
	}{
		{"headers byte by byte", func(conn net.Conn) {
			trickle(conn, io.MultiReader(strings.NewReader("GET /healthz HTTP/1.1\r\nHost: bridge\r\nX-Pad: "), endless('a')))
		}},
		{"body byte by byte", func(conn net.Conn) {
			head := "POST /rpc HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
			if _, err := io.WriteString(conn, head); err != nil {
				return
			}
			trickle(conn, endless(' '))
		}},
		{"idle after a request", func(conn net.Conn) {
			_, _ = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: bridge\r\n\r\n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, bridge.NewMemStore())
			b := e.newBridge(bridge.Config{Limits: rpclimit.Limits{
				ReadHeaderTimeout: serverTimeout, ReadTimeout: serverTimeout,
				WriteTimeout: serverTimeout, IdleTimeout: serverTimeout,
			}})
			addr := serveHTTP(t, b)

			const slow = 4
			conns := make([]net.Conn, slow)
			for i := range conns {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				conns[i] = conn
				go tt.send(conn)
			}
			// Meanwhile another client is served.
			resp, err := http.Get("http://" + addr + "/healthz")
			if err != nil {
				t.Fatalf("GET /healthz beside slow clients: have %v, want nil", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /healthz beside slow clients: have %s, want 200", resp.Status)
			}
			// Each slow connection is closed by the server: reading it
			// ends (after any response) with EOF or a reset, not with the
			// test's own deadline.
			for i, conn := range conns {
				if err := conn.SetReadDeadline(time.Now().Add(hangLimit)); err != nil {
					t.Fatal(err)
				}
				_, err := io.Copy(io.Discard, conn)
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("connection %d: still open after %v, want closed by the server", i, hangLimit)
				}
			}
		})
	}
}

// TestHTTPServerWebSocketOutlivesTimeouts checks that a WebSocket is not
// cut by the HTTP timeouts: it still answers after all of them passed.
func TestHTTPServerWebSocketOutlivesTimeouts(t *testing.T) {
	e := newEnv(t, bridge.NewMemStore())
	b := e.newBridge(bridge.Config{Limits: rpclimit.Limits{
		ReadHeaderTimeout: serverTimeout, ReadTimeout: serverTimeout,
		WriteTimeout: serverTimeout, IdleTimeout: serverTimeout,
	}})
	addr := serveHTTP(t, b)
	id := gameID("ws outlives")
	e.openGame(b, id)
	ctx := context.Background()
	c, err := gethrpc.DialWebsocket(ctx, "ws://"+addr+"/ws", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 2 {
		var out map[string]any
		if err := c.CallContext(ctx, &out, "chess_getGame", id); err != nil {
			t.Fatalf("call %d: have %v, want nil", i, err)
		}
		if i == 0 {
			// Let every HTTP deadline of the connection pass: the
			// elapsed time is what is tested here.
			time.Sleep(4 * serverTimeout)
		}
	}
}

// TestWebSocketOrigins opens the bridge's WebSocket with and without a
// browser's Origin header: by default only the bridge's own origin (and
// clients without one) get in; configured origins widen that.
func TestWebSocketOrigins(t *testing.T) {
	const same = "<same>"
	tests := []struct {
		name    string
		allowed []string
		origin  string // "" sends none
		want    bool
	}{
		{"no origin", nil, "", true},
		{"same origin", nil, same, true},
		{"cross origin refused by default", nil, "https://evil.example", false},
		{"configured origin", []string{"https://console.example"}, "https://console.example", true},
		{"other origin with a list", []string{"https://console.example"}, "https://evil.example", false},
		{"any", []string{"*"}, "https://evil.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, bridge.NewMemStore())
			srv := e.serve(e.newBridge(bridge.Config{WSOrigins: tt.allowed}))
			origin := tt.origin
			if origin == same {
				origin = srv.URL
			}
			c, err := gethrpc.DialWebsocket(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", origin)
			switch {
			case tt.want && err != nil:
				t.Fatalf("handshake from %q: have %v, want accepted", origin, err)
			case !tt.want && err == nil:
				c.Close()
				t.Fatalf("handshake from %q: have accepted, want refused", origin)
			case !tt.want && !strings.Contains(err.Error(), "403"):
				t.Fatalf("handshake from %q: have %v, want HTTP 403", origin, err)
			case tt.want:
				c.Close()
			}
		})
	}
	e := newEnv(t, bridge.NewMemStore())
	if _, err := bridge.New(bridge.Config{WSOrigins: []string{"console.example"}}, e.store, e.arb); err == nil {
		t.Fatal("New accepted an origin without a scheme")
	}
}

// TestListenerBoundsConnsPerIP: on Bridge.Listener, a client address holds
// at most MaxConnsPerIP connections; the next gets HTTP 503 and is counted
// in arbiter_bridge_connections_refused_total.
func TestListenerBoundsConnsPerIP(t *testing.T) {
	e := newEnv(t, bridge.NewMemStore())
	reg := prometheus.NewRegistry()
	b := e.newBridge(bridge.Config{Limits: rpclimit.Limits{MaxConnsPerIP: 1}, Registerer: reg, Gatherer: reg})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := b.HTTPServer()
	go func() { _ = srv.Serve(b.Listener(ln)) }()
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	ws, err := gethrpc.Dial("ws://" + addr + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second connection: %d, want 503", resp.StatusCode)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var refused float64
	for _, f := range fams {
		if f.GetName() == "arbiter_bridge_connections_refused_total" {
			refused = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if refused != 1 {
		t.Errorf("arbiter_bridge_connections_refused_total %v, want 1", refused)
	}
}
