package rpc

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/gorilla/websocket"

	"github.com/arbiter-chain/arbiter/internal/rpclimit"
)

// TestWebSocketOrigins opens WebSockets with and without a browser's
// Origin header: by default only the server's own origin (and clients
// without one) get in; configured origins widen that.
func TestWebSocketOrigins(t *testing.T) {
	const same = "<same>" // the server's own origin
	tests := []struct {
		name    string
		allowed []string
		origin  string // "" sends none
		want    bool
	}{
		{"no origin", nil, "", true},
		{"same origin", nil, same, true},
		{"cross origin refused by default", nil, "https://evil.example", false},
		{"null origin refused by default", nil, "null", false},
		{"configured origin", []string{"https://console.example"}, "https://console.example", true},
		{"other origin with a list", []string{"https://console.example"}, "https://evil.example", false},
		{"same origin with a list", []string{"https://console.example"}, same, true},
		{"any", []string{"*"}, "https://evil.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, Config{WSOrigins: tt.allowed})
			origin := tt.origin
			if origin == same {
				origin = e.http.URL
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			for _, path := range []string{"/", "/ws"} {
				c, err := gethrpc.DialWebsocket(ctx, e.wsURL(path), origin)
				if !tt.want {
					if err == nil {
						c.Close()
						t.Fatalf("%s: handshake from %q: have accepted, want refused", path, origin)
					}
					if !strings.Contains(err.Error(), "403") {
						t.Fatalf("%s: handshake from %q: have %v, want HTTP 403", path, origin, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: handshake from %q: have %v, want accepted", path, origin, err)
				}
				n, err := ethclient.NewClient(c).BlockNumber(ctx)
				c.Close()
				if err != nil || n != 3 {
					t.Fatalf("%s: eth_blockNumber: have %d, %v; want 3", path, n, err)
				}
			}
		})
	}
}

func TestNewRefusesBadOrigins(t *testing.T) {
	e := newTestEnv(t, Config{})
	if s, err := New(Config{WSOrigins: []string{"console.example"}}, e.chain, e.pool); err == nil {
		s.Close()
		t.Fatal("an origin without a scheme was accepted")
	}
}

// TestSubscriptionsPerConnection checks that one WebSocket connection
// cannot take more than its share of the server's subscriptions, that
// the server-wide bound holds across connections, and that a
// connection's slots come back when its subscriptions end.
func TestSubscriptionsPerConnection(t *testing.T) {
	// Both connections come from one address; its own bound is out of the way.
	e := newTestEnv(t, Config{Limits: rpclimit.Limits{MaxSubscriptionsPerConn: 3}, MaxSubscriptions: 5, MaxSubscriptionsPerClient: 6})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	dial := func() *ethclient.Client {
		t.Helper()
		c, err := ethclient.DialContext(ctx, e.wsURL("/ws"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	subscribe := func(c *ethclient.Client) (interface{ Unsubscribe() }, error) {
		return c.SubscribeNewHead(ctx, make(chan *types.Header, 1))
	}

	a, b := dial(), dial()
	var first interface{ Unsubscribe() }
	for i := range 3 {
		sub, err := subscribe(a)
		if err != nil {
			t.Fatalf("connection A, subscription %d: have %v, want nil", i+1, err)
		}
		if i == 0 {
			first = sub
		}
	}
	if _, err := subscribe(a); !limited(err) || !strings.Contains(err.Error(), "connection") {
		t.Fatalf("connection A, subscription 4: have %v, want the per-connection limit", err)
	}
	for i := range 2 {
		if _, err := subscribe(b); err != nil {
			t.Fatalf("connection B, subscription %d: have %v, want nil", i+1, err)
		}
	}
	if _, err := subscribe(b); !limited(err) || strings.Contains(err.Error(), "connection") {
		t.Fatalf("connection B, subscription 3: have %v, want the server-wide limit", err)
	}

	// A's unsubscribe is served before its next call; the slot is freed
	// when the subscription's goroutine ends, so a few tries may be needed.
	first.Unsubscribe()
	var freed bool
	for deadline := time.Now().Add(waitTimeout); !freed && time.Now().Before(deadline); {
		if _, err := a.BlockNumber(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := subscribe(b)
		switch {
		case err == nil:
			freed = true
		case !limited(err):
			t.Fatalf("connection B after A unsubscribed: have %v, want nil", err)
		}
	}
	if !freed {
		t.Fatal("no slot freed by A's unsubscribe")
	}
	if _, err := subscribe(b); !limited(err) || !strings.Contains(err.Error(), "connection") {
		t.Fatalf("connection B, subscription 4: have %v, want the per-connection limit", err)
	}
}

// subscribeHeads subscribes c to new heads.
func subscribeHeads(ctx context.Context, c *ethclient.Client) (interface{ Unsubscribe() }, error) {
	return c.SubscribeNewHead(ctx, make(chan *types.Header, 1))
}

// limited reports whether err is a refusal for a limit (code -32005).
func limited(err error) bool {
	var re gethrpc.Error
	return errors.As(err, &re) && re.ErrorCode() == codeLimitExceeded
}

// dialWSFrom opens a WebSocket to e's /ws from the loopback address src,
// and skips the test where the system gives loopback one address only.
func dialWSFrom(t *testing.T, ctx context.Context, e *testEnv, src string) *ethclient.Client {
	t.Helper()
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := gethrpc.DialOptions(ctx, e.wsURL("/ws"), gethrpc.WithWebsocketDialer(websocket.Dialer{NetDialContext: nd.DialContext}))
	if err != nil {
		t.Skipf("cannot dial from %s (needs the whole 127.0.0.0/8 on loopback, as Linux has): %v", src, err)
	}
	t.Cleanup(c.Close)
	return ethclient.NewClient(c)
}

// TestSubscriptionsPerClient checks that the WebSocket connections of one
// client address share one bound, so that more connections do not get a
// client more of the server's subscriptions; that a slot freed on one of
// them serves another; and that a client at its bound shuts out no other.
func TestSubscriptionsPerClient(t *testing.T) {
	e := newTestEnv(t, Config{Limits: rpclimit.Limits{MaxSubscriptionsPerConn: 3}, MaxSubscriptionsPerClient: 4, MaxSubscriptions: 10})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	const perClient = "too many subscriptions from this client address (at most 4 across its connections)"

	a1, a2 := dialWSFrom(t, ctx, e, "127.0.0.1"), dialWSFrom(t, ctx, e, "127.0.0.1")
	var first interface{ Unsubscribe() }
	for i := range 3 {
		sub, err := subscribeHeads(ctx, a1)
		if err != nil {
			t.Fatalf("client A, connection 1, subscription %d: have %v, want nil", i+1, err)
		}
		if i == 0 {
			first = sub
		}
	}
	if _, err := subscribeHeads(ctx, a2); err != nil {
		t.Fatalf("client A, connection 2, subscription 1: have %v, want nil", err)
	}
	// Connection 2 holds one of its 3 and the server 4 of its 10: only
	// the client's bound is reached.
	if _, err := subscribeHeads(ctx, a2); !limited(err) || !strings.Contains(err.Error(), perClient) {
		t.Fatalf("client A, connection 2, subscription 2: have %v, want %q", err, perClient)
	}

	// The slot is freed when the subscription's goroutine ends, after the
	// unsubscribe is answered, so a few tries may be needed.
	first.Unsubscribe()
	var freed bool
	for deadline := time.Now().Add(waitTimeout); !freed && time.Now().Before(deadline); {
		if _, err := a1.BlockNumber(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := subscribeHeads(ctx, a2)
		switch {
		case err == nil:
			freed = true
		case !limited(err):
			t.Fatalf("client A, connection 2, after connection 1 unsubscribed: have %v, want nil", err)
		}
	}
	if !freed {
		t.Fatal("no slot freed by connection 1's unsubscribe")
	}
	if _, err := subscribeHeads(ctx, a2); !limited(err) || !strings.Contains(err.Error(), perClient) {
		t.Fatalf("client A, connection 2, subscription 3: have %v, want %q", err, perClient)
	}

	b := dialWSFrom(t, ctx, e, "127.0.0.2")
	for i := range 3 {
		if _, err := subscribeHeads(ctx, b); err != nil {
			t.Fatalf("client B, subscription %d: have %v, want nil", i+1, err)
		}
	}
}

// TestSubscriptionsWithoutAddress checks that connections without a
// remote address (in-process) share the bound of the empty client key.
func TestSubscriptionsWithoutAddress(t *testing.T) {
	e := newTestEnv(t, Config{Limits: rpclimit.Limits{MaxSubscriptionsPerConn: 2}, MaxSubscriptionsPerClient: 3})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c1, c2 := gethrpc.DialInProc(e.srv.rpc), gethrpc.DialInProc(e.srv.rpc)
	defer c1.Close()
	defer c2.Close()
	for i, c := range []*gethrpc.Client{c1, c1, c2} {
		if _, err := subscribeHeads(ctx, ethclient.NewClient(c)); err != nil {
			t.Fatalf("subscription %d: have %v, want nil", i+1, err)
		}
	}
	if _, err := subscribeHeads(ctx, ethclient.NewClient(c2)); !limited(err) || !strings.Contains(err.Error(), "client address (at most 3") {
		t.Fatalf("subscription 4: have %v, want the per-client limit", err)
	}
}
