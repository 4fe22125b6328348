package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/arbiter-chain/arbiter/internal/rpclimit"
	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// rpcResponse is a JSON-RPC response as it comes off the wire.
type rpcResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestHTTPLimits posts raw bodies to /rpc.
func TestHTTPLimits(t *testing.T) {
	e := newEnv(t, bridge.NewMemStore())
	b := e.newBridge(bridge.Config{Limits: rpclimit.Limits{MaxBodyBytes: 4096, MaxBatchItems: 3}})
	srv := e.serve(b)
	id := gameID("limits")
	e.openGame(b, id)
	getGame := `{"jsonrpc":"2.0","id":1,"method":"chess_getGame","params":["` + id.Hex() + `"]}`

	tests := []struct {
		name      string
		body      string
		chunked   bool // send without Content-Length
		status    int
		code      int // JSON-RPC error code; 0 for success
		batchSize int // > 0: want a batch of this many successes
	}{
		{name: "ok", body: getGame, status: http.StatusOK},
		{name: "oversized body", body: `{"pad":"` + strings.Repeat("x", 5000) + `"}`, status: http.StatusRequestEntityTooLarge, code: wire.CodeInvalidRequest},
		{name: "oversized chunked body", body: `{"pad":"` + strings.Repeat("x", 5000) + `"}`, chunked: true, status: http.StatusRequestEntityTooLarge, code: wire.CodeInvalidRequest},
		{name: "malformed JSON", body: `{"jsonrpc":"2.0","id":1,"method":`, status: http.StatusOK, code: -32700},
		{name: "unknown method", body: `{"jsonrpc":"2.0","id":1,"method":"chess_nope","params":[]}`, status: http.StatusOK, code: -32601},
		{name: "batch within limit", body: "[" + strings.Repeat(getGame+",", 2) + getGame + "]", status: http.StatusOK, batchSize: 3},
		{name: "batch over limit", body: "[" + strings.Repeat(getGame+",", 3) + getGame + "]", status: http.StatusOK, code: wire.CodeInvalidRequest},
		{name: "subscribe over HTTP", body: `{"jsonrpc":"2.0","id":1,"method":"chess_subscribe","params":["moves","` + id.Hex() + `"]}`, status: http.StatusOK, code: -32601},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length from net/http
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/rpc", body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("POST: have %v, want nil", err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status: have %d, want %d (%s)", resp.StatusCode, tt.status, raw)
			}
			if tt.batchSize > 0 {
				var out []rpcResponse
				if err := json.Unmarshal(raw, &out); err != nil || len(out) != tt.batchSize {
					t.Fatalf("batch: have %s, want %d results", raw, tt.batchSize)
				}
				for _, r := range out {
					if r.Error != nil {
						t.Fatalf("batch item: have error %+v", r.Error)
					}
				}
				return
			}
			var out rpcResponse
			if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
				var batch []rpcResponse
				if err := json.Unmarshal(raw, &batch); err != nil || len(batch) == 0 {
					t.Fatalf("response: have %s", raw)
				}
				out = batch[0]
			} else if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatalf("response: have %s, %v", raw, err)
			}
			switch {
			case tt.code == 0 && out.Error != nil:
				t.Fatalf("have error %+v, want a result", out.Error)
			case tt.code != 0 && (out.Error == nil || out.Error.Code != tt.code):
				t.Fatalf("have %s, want error code %d", raw, tt.code)
			}
		})
	}
}

// TestWebSocketLimits checks the message cap and the subscription cap of
// one WebSocket connection.
func TestWebSocketLimits(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, bridge.NewMemStore())
	b := e.newBridge(bridge.Config{Limits: rpclimit.Limits{MaxWSMessageBytes: 2048, MaxSubscriptionsPerConn: 2}})
	srv := e.serve(b)
	id := gameID("ws limits")
	e.openGame(b, id)

	t.Run("subscriptions per connection", func(t *testing.T) {
		c := e.dial(srv, "/ws")
		ch := make(chan channel.SignedState, 1)
		first, err := c.SubscribeMoves(ctx, id, ch)
		if err != nil {
			t.Fatalf("subscription 1: have %v, want nil", err)
		}
		if _, err := c.SubscribeMoves(ctx, id, ch); err != nil {
			t.Fatalf("subscription 2: have %v, want nil", err)
		}
		if _, err := c.SubscribeMoves(ctx, id, ch); rpcCode(err) != wire.CodeLimitExceeded {
			t.Fatalf("subscription 3: have %v, want code %d", err, wire.CodeLimitExceeded)
		}
		// Another connection has its own budget.
		if _, err := e.dial(srv, "/ws").SubscribeMoves(ctx, id, ch); err != nil {
			t.Fatalf("subscription on a second connection: have %v, want nil", err)
		}
		// Unsubscribing frees a slot once the server has seen it; a
		// GetGame round trip after the unsubscribe call orders the two.
		first.Unsubscribe()
		var sub interface{ Unsubscribe() }
		for deadline := time.Now().Add(10 * time.Second); sub == nil && time.Now().Before(deadline); {
			if _, err := c.GetGame(ctx, id); err != nil {
				t.Fatal(err)
			}
			if s, err := c.SubscribeMoves(ctx, id, ch); err == nil {
				sub = s
			}
		}
		if sub == nil {
			t.Fatalf("no slot freed by Unsubscribe")
		}
	})

	t.Run("unknown game", func(t *testing.T) {
		c := e.dial(srv, "/ws")
		ch := make(chan channel.SignedState, 1)
		if _, err := c.SubscribeMoves(ctx, gameID("nope"), ch); rpcCode(err) != wire.CodeUnknownGame {
			t.Fatalf("have %v, want code %d", err, wire.CodeUnknownGame)
		}
	})

	// A raw WebSocket, not go-ethereum's client: that client can miss a
	// drop that lands while it is still sending the request, and then
	// waits for the answer forever (seen once in CI, under -race).
	t.Run("message over the cap", func(t *testing.T) {
		url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
		conn, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"chess_getGame","params":[%q]}`, strings.Repeat("x", 4096))
		if err := conn.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
			return // dropped while the message was still being written
		}
		if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		_, reply, err := conn.ReadMessage()
		var ne net.Error
		switch {
		case err == nil:
			t.Fatalf("oversized message: answered %s, want the connection dropped", reply)
		case errors.As(err, &ne) && ne.Timeout():
			t.Fatalf("oversized message: connection neither answered nor dropped in 10 s")
		}
	})
}
