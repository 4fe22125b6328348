package bridge_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/internal/rpclimit"
	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// fakeNode is a NodeCaller that answers eth_blockNumber and fails
// eth_call with a revert (code 3 and data), recording what it was asked.
type fakeNode struct {
	mu    sync.Mutex
	calls []string
}

type revertErr struct{}

func (revertErr) Error() string  { return "execution reverted: not allowed" }
func (revertErr) ErrorCode() int { return 3 }
func (revertErr) ErrorData() any { return "0x08c379a0" }

func (f *fakeNode) CallContext(_ context.Context, result any, method string, args ...any) error {
	f.mu.Lock()
	f.calls = append(f.calls, method)
	f.mu.Unlock()
	switch method {
	case "eth_blockNumber":
		*(result.(*json.RawMessage)) = json.RawMessage(`"0x2a"`)
		return nil
	case "eth_call":
		return revertErr{}
	}
	return errors.New("unexpected " + method)
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPageRoutes serves the page handler and checks the page, its
// assets, its config, and that the bridge's own routes still answer
// behind it.
func TestPageRoutes(t *testing.T) {
	e := newEnv(t, bridge.NewMemStore())
	b := e.newBridge(bridge.Config{ChainID: testChainID})
	srv := httptest.NewServer(b.PageHandler(bridge.PageConfig{Node: &fakeNode{}}))
	t.Cleanup(srv.Close)
	tests := []struct {
		path, wantType, wantBody string
	}{
		{"/", "text/html; charset=utf-8", `<script id="config" type="application/json">{"arbiter":"0x0000000000000000000000000000000000001003","chainId":31337,"demo":false,"node":true}</script>`},
		{"/app.js", "text/javascript; charset=utf-8", ""},
		{"/style.css", "text/css; charset=utf-8", ""},
		{"/LICENSES.txt", "text/plain; charset=utf-8", "chess.js"},
		{"/page/config", "application/json", `"chainId":31337`},
		{"/healthz", "application/json", `"status":"ok"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tt.wantType || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("have %d %q (%d bytes), want 200 %q containing %q", resp.StatusCode, resp.Header.Get("Content-Type"), len(body), tt.wantType, tt.wantBody)
			}
		})
	}
	if code, body := post(t, srv.URL+"/demo/vouch", `{"account":"0x0000000000000000000000000000000000000001"}`); code == http.StatusOK {
		t.Errorf("/demo/vouch without a Voucher: have 200 %s, want no such route", body)
	}
}

// TestNodeProxy posts JSON-RPC to /node: allowed methods reach the node
// with its error code and data kept; others, oversized bodies and
// batches are refused without reaching it.
func TestNodeProxy(t *testing.T) {
	e := newEnv(t, bridge.NewMemStore())
	b := e.newBridge(bridge.Config{ChainID: testChainID, Limits: rpclimit.Limits{MaxBodyBytes: 2048, MaxBatchItems: 2}})
	node := &fakeNode{}
	srv := httptest.NewServer(b.PageHandler(bridge.PageConfig{Node: node}))
	t.Cleanup(srv.Close)
	call := func(method string) string {
		return `{"jsonrpc":"2.0","id":7,"method":"` + method + `","params":[]}`
	}
	tests := []struct {
		name     string
		body     string
		status   int
		want     string // substring of the response
		reaching []string
	}{
		{"allowed", call("eth_blockNumber"), 200, `"result":"0x2a"`, []string{"eth_blockNumber"}},
		{"revert keeps code and data", call("eth_call"), 200, `"code":3,"message":"execution reverted: not allowed","data":"0x08c379a0"`, []string{"eth_call"}},
		{"not allowed", call("admin_addPeer"), 200, `"code":-32601`, nil},
		{"debug namespace", call("debug_traceTransaction"), 200, `"code":-32601`, nil},
		{"batch", "[" + call("eth_blockNumber") + "," + call("eth_chainId_x") + "]", 200, `"code":-32601`, []string{"eth_blockNumber"}},
		{"batch too large", "[" + strings.Repeat(call("eth_blockNumber")+",", 2) + call("eth_blockNumber") + "]", 200, `"code":-32600`, nil},
		{"malformed", `{"jsonrpc":`, 200, `"code":-32700`, nil},
		{"oversized", `{"pad":"` + strings.Repeat("x", 3000) + `"}`, 413, `"code":-32600`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node.mu.Lock()
			node.calls = nil
			node.mu.Unlock()
			status, body := post(t, srv.URL+"/node", tt.body)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Fatalf("have %d %s, want %d containing %s", status, body, tt.status, tt.want)
			}
			node.mu.Lock()
			defer node.mu.Unlock()
			if strings.Join(node.calls, ",") != strings.Join(tt.reaching, ",") {
				t.Errorf("node asked %v, want %v", node.calls, tt.reaching)
			}
		})
	}
}

// TestOutcomeOffers checks chess_offerOutcome's checks, cheapest first,
// and that chess_outcomes returns each player's newest offer.
func TestOutcomeOffers(t *testing.T) {
	e := newEnv(t, bridge.NewMemStore())
	b := e.newBridge(bridge.Config{ChainID: testChainID})
	c := e.dial(e.serve(b), "/ws")
	ctx := context.Background()
	id := gameID("offers")
	e.openGame(b, id)
	signOutcome := func(key *ecdsa.PrivateKey, gid common.Hash, result uint8) []byte {
		t.Helper()
		sig, err := channel.SignOutcome(e.domain, channel.Outcome{GameID: gid, Result: result}, key)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	stranger := testKey(t, "stranger")
	other := gameID("unregistered")
	tests := []struct {
		name   string
		game   common.Hash
		result uint8
		sig    []byte
		code   int
	}{
		{"result out of range", id, 4, signOutcome(e.white, id, 3), wire.CodeInvalidParams},
		{"short signature", id, 3, make([]byte, 10), wire.CodeBadSignature},
		{"unregistered game", other, 3, signOutcome(e.white, other, 3), wire.CodeUnknownGame},
		{"signed by a stranger", id, 3, signOutcome(stranger, id, 3), wire.CodeBadSignature},
		{"signed for another result", id, 3, signOutcome(e.white, id, 1), wire.CodeBadSignature},
		{"white offers a draw", id, 3, signOutcome(e.white, id, 3), 0},
		{"black signs its defeat", id, 1, signOutcome(e.black, id, 1), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.OfferOutcome(ctx, tt.game, tt.result, tt.sig)
			if code := rpcCode(err); code != tt.code || (tt.code == 0) != (err == nil) {
				t.Fatalf("have %v (code %d), want code %d", err, code, tt.code)
			}
		})
	}
	offers, err := c.Outcomes(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(offers) != 2 || offers[0].Side != "white" || offers[0].Result != 3 || offers[1].Side != "black" || offers[1].Result != 1 {
		t.Fatalf("offers: have %+v, want white's draw and black's defeat", offers)
	}
	for _, o := range offers {
		signer, err := channel.RecoverOutcome(e.domain, channel.Outcome{GameID: id, Result: o.Result}, o.Signature)
		if err != nil || signer != o.Signer {
			t.Errorf("offer by %s: recovers to %s (%v)", o.Signer, signer, err)
		}
	}
	// Once the game has ended no offer is taken.
	e.setStatus(id, channel.StatusEnded)
	if _, err := c.OfferOutcome(ctx, id, 3, signOutcome(e.black, id, 3)); rpcCode(err) != wire.CodeGameNotActive {
		t.Errorf("offer after the end: have %v, want code %d", err, wire.CodeGameNotActive)
	}
}
