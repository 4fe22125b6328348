package rpc

import (
	"context"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/arbiter-chain/arbiter/internal/rpclimit"
)

func TestHTTPErrors(t *testing.T) {
	e := newTestEnv(t, Config{Limits: rpclimit.Limits{MaxBodyBytes: 1024, MaxBatchItems: 3}})
	call := func(method, params string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"` + method + `","params":` + params + `}`
	}
	const jsonType = "application/json"
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		wantStatus  int    // checked when non-zero
		wantCode    int    // JSON-RPC error code, checked when non-zero
		wantMsg     string // substring of the error message
	}{
		{"body over limit", http.MethodPost, "/", jsonType, call("eth_blockNumber", `["`+strings.Repeat("a", 2000)+`"]`), http.StatusRequestEntityTooLarge, 0, ""},
		{"malformed JSON", http.MethodPost, "/", jsonType, `{"jsonrpc":"2.0","id":1,"method":`, 0, -32700, ""},
		{"batch over item limit", http.MethodPost, "/", jsonType, "[" + strings.Repeat(call("eth_blockNumber", "[]")+",", 3) + call("eth_blockNumber", "[]") + "]", 0, -32600, "batch too large"},
		{"batch at item limit", http.MethodPost, "/", jsonType, "[" + strings.Repeat(call("eth_blockNumber", "[]")+",", 2) + call("eth_blockNumber", "[]") + "]", http.StatusOK, 0, ""},
		{"unknown method", http.MethodPost, "/", jsonType, call("eth_mine", "[]"), 0, -32601, "does not exist"},
		{"subscribe over HTTP", http.MethodPost, "/", jsonType, call("eth_subscribe", `["newHeads"]`), 0, -32601, "notifications not supported"},
		{"bad block number", http.MethodPost, "/", jsonType, call("eth_getBlockByNumber", `["zz",false]`), 0, -32602, ""},
		{"wrong content type", http.MethodPost, "/", "text/plain", call("eth_blockNumber", "[]"), http.StatusUnsupportedMediaType, 0, ""},
		{"GET / without upgrade", http.MethodGet, "/", "", "", http.StatusMethodNotAllowed, 0, ""},
		{"unknown path", http.MethodGet, "/nope", "", "", http.StatusNotFound, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, e.http.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if tt.wantStatus != 0 && resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: have %d, want %d (%s)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantCode == 0 {
				return
			}
			type rpcResp struct {
				Error *struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			var r rpcResp
			if strings.HasPrefix(strings.TrimSpace(string(body)), "[") {
				var rs []rpcResp
				if err := json.Unmarshal(body, &rs); err != nil || len(rs) == 0 {
					t.Fatalf("bad batch response %s: %v", body, err)
				}
				r = rs[0]
			} else if err := json.Unmarshal(body, &r); err != nil {
				t.Fatalf("bad response %s: %v", body, err)
			}
			if r.Error == nil || r.Error.Code != tt.wantCode || !strings.Contains(r.Error.Message, tt.wantMsg) {
				t.Fatalf("have %s, want code %d %q", body, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	e := newTestEnv(t, Config{})
	resp, err := http.Get(e.http.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Status string      `json:"status"`
		Number uint64      `json:"number"`
		Hash   common.Hash `json:"hash"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	head := e.chain.blocks[3]
	if resp.StatusCode != http.StatusOK || h.Status != "ok" || h.Number != 3 || h.Hash != head.Hash() {
		t.Errorf("have %d %+v, want 200 ok #3 %s", resp.StatusCode, h, head.Hash())
	}
}

func TestMetrics(t *testing.T) {
	e := newTestEnv(t, Config{})
	if _, err := e.client.BlockNumber(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(e.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	want := `arbiter_rpc_http_requests_total{code="200",route="http"}`
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		t.Errorf("have %d %s, want %s", resp.StatusCode, body, want)
	}
}

func TestNewValidates(t *testing.T) {
	e := newTestEnv(t, Config{})
	tests := []struct {
		name  string
		cfg   Config
		chain Chain
		pool  TxPool
	}{
		{"nil chain", Config{}, nil, e.pool},
		{"nil pool", Config{}, e.chain, nil},
		{"negative gas price", Config{GasPrice: big.NewInt(-1)}, e.chain, e.pool},
		{"metrics registered twice", Config{Registerer: e.registry}, e.chain, e.pool},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := New(tt.cfg, tt.chain, tt.pool); err == nil {
				s.Close()
				t.Fatal("accepted")
			}
		})
	}
}

func TestListenAddr(t *testing.T) {
	tests := []struct {
		name, addr, want string
		wantErr          bool
	}{
		{"empty host is loopback", ":8545", "127.0.0.1:8545", false},
		{"all interfaces kept", "0.0.0.0:8545", "0.0.0.0:8545", false},
		{"ipv6 all interfaces kept", "[::]:8545", "[::]:8545", false},
		{"loopback kept", "127.0.0.1:8545", "127.0.0.1:8545", false},
		{"hostname kept", "localhost:8545", "localhost:8545", false},
		{"ipv6 loopback", "[::1]:0", "[::1]:0", false},
		{"empty", "", "", true},
		{"no port", "127.0.0.1", "", true},
		{"named port", ":http", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have, err := ListenAddr(tt.addr)
			if (err != nil) != tt.wantErr || have != tt.want {
				t.Errorf("have %q, %v; want %q (error %v)", have, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestServe runs the real HTTP server on a loopback listener from an
// empty-host address.
func TestServe(t *testing.T) {
	e := newTestEnv(t, Config{})
	srv, err := New(Config{}, e.chain, e.pool)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen(":0")
	if err != nil {
		t.Fatal(err)
	}
	if ip := l.Addr().(*net.TCPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("listening on %s, want 127.0.0.1", ip)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()

	c, err := ethclient.Dial("http://" + l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := c.BlockNumber(context.Background()); err != nil || n != 3 {
		t.Errorf("have %d, %v; want 3", n, err)
	}
	ws, err := ethclient.Dial("ws://" + l.Addr().String() + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	heads := make(chan *types.Header, 1)
	sub, err := ws.SubscribeNewHead(context.Background(), heads)
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	// Closing the server ends the WebSocket subscription.
	if err := recvErr(t, sub.Err()); err == nil {
		t.Error("subscription survived Close without error")
	}
	ws.Close()
}

func recvErr(t *testing.T, errc <-chan error) error {
	t.Helper()
	return recv(t, errc, nil)
}

// TestServeBoundsConnsPerIP: Serve holds at most MaxConnsPerIP connections
// from one address, WebSockets included; the next is answered 503 and
// counted, and a closed one makes room.
func TestServeBoundsConnsPerIP(t *testing.T) {
	e := newTestEnv(t, Config{})
	reg := prometheus.NewRegistry()
	srv, err := New(Config{Limits: rpclimit.Limits{MaxConnsPerIP: 2}, Registerer: reg, Gatherer: reg}, e.chain, e.pool)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen(":0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	addr := l.Addr().String()

	var held []*ethclient.Client
	for range 2 {
		ws, err := ethclient.Dial("ws://" + addr + "/ws")
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		held = append(held, ws)
	}
	resp, err := http.Post("http://"+addr, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "too many open connections") {
		t.Fatalf("third connection: %d %q, want 503", resp.StatusCode, body)
	}
	if n := metricValue(t, srv.metrics.ConnsRefused); n != 1 {
		t.Errorf("connections refused %v, want 1", n)
	}
	// The held ones still work.
	if n, err := held[0].BlockNumber(context.Background()); err != nil || n != 3 {
		t.Errorf("held WebSocket: %d, %v", n, err)
	}
	held[1].Close()
	var ok bool
	for range 1000 { // up to 10 s: the server sees the close on its own time
		if c, err := ethclient.Dial("http://" + addr); err == nil {
			_, err = c.BlockNumber(context.Background())
			c.Close()
			if ok = err == nil; ok {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !ok {
		t.Error("no room after a WebSocket closed")
	}
}
