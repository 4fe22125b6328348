package bridge_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arbiter-chain/arbiter/internal/rpclimit"
	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/aws/aws-lambda-go/events"
	"github.com/ethereum/go-ethereum/common"
)

// lambdaGameID is the game the fixtures in testdata/ play.
var lambdaGameID = common.HexToHash("0x5e1f0c3a9d4b27e8a6c2f19b0d73e4a85c6b1f2e9a0d47c3b8e6f5a2c1d9e07b")

func loadEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return ev
}

// TestLambda replays API Gateway HTTP API (payload 2.0) events through
// the Lambda handler, in order: they open the game, play 1. e4 (signed by
// the test white key for chain 31337), and read it back.
func TestLambda(t *testing.T) {
	e := newEnv(t, bridge.NewMemStore())
	b := e.newBridge(bridge.Config{Limits: rpclimit.Limits{MaxBodyBytes: 8192}})
	e.activate(lambdaGameID)
	handle := b.LambdaHandler()

	oversized := loadEvent(t, "apigw_open_game.json")
	oversized.Body = `{"pad":"` + strings.Repeat("x", 9000) + `"}`
	oversized64 := loadEvent(t, "apigw_get_game_base64.json")
	oversized64.Body = base64.StdEncoding.EncodeToString([]byte(oversized.Body))

	tests := []struct {
		name   string
		event  events.APIGatewayV2HTTPRequest
		status int
		code   int              // JSON-RPC error code, 0 for a result
		check  func(out string) // on the result, if set
	}{
		{name: "open game", event: loadEvent(t, "apigw_open_game.json"), status: http.StatusOK, check: func(out string) {
			var g bridge.Game
			if err := json.Unmarshal([]byte(out), &g); err != nil || g.GameID != lambdaGameID || g.White != addr(e.white) || g.Status != channel.StatusActive {
				t.Errorf("openGame result: have %s", out)
			}
		}},
		{name: "submit move", event: loadEvent(t, "apigw_submit_move.json"), status: http.StatusOK, check: func(out string) {
			var r bridge.MoveReceipt
			if err := json.Unmarshal([]byte(out), &r); err != nil || !r.Accepted || r.Ply != 1 {
				t.Errorf("submitMove result: have %s", out)
			}
		}},
		{name: "submit move again", event: loadEvent(t, "apigw_submit_move.json"), status: http.StatusOK, code: wire.CodeDuplicate},
		{name: "get game, base64 body", event: loadEvent(t, "apigw_get_game_base64.json"), status: http.StatusOK, check: func(out string) {
			var g bridge.Game
			if err := json.Unmarshal([]byte(out), &g); err != nil || g.Ply != 1 || g.ToMove != "black" {
				t.Errorf("getGame result: have %s", out)
			}
		}},
		{name: "history under a stage prefix", event: loadEvent(t, "apigw_history_stage.json"), status: http.StatusOK, check: func(out string) {
			var h []json.RawMessage
			if err := json.Unmarshal([]byte(out), &h); err != nil || len(h) != 1 {
				t.Errorf("history result: have %s", out)
			}
		}},
		{name: "malformed JSON", event: loadEvent(t, "apigw_malformed_json.json"), status: http.StatusOK, code: -32700},
		{name: "oversized body", event: oversized, status: http.StatusRequestEntityTooLarge, code: wire.CodeInvalidRequest},
		{name: "oversized base64 body", event: oversized64, status: http.StatusRequestEntityTooLarge, code: wire.CodeInvalidRequest},
		{name: "GET", event: loadEvent(t, "apigw_get_method.json"), status: http.StatusMethodNotAllowed},
		{name: "wrong path", event: loadEvent(t, "apigw_wrong_path.json"), status: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := handle(context.Background(), tt.event)
			if err != nil {
				t.Fatalf("handler: have %v, want nil", err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status: have %d, want %d (%s)", resp.StatusCode, tt.status, resp.Body)
			}
			if tt.status != http.StatusOK && tt.code == 0 {
				return
			}
			if ct := resp.Headers["content-type"]; !strings.HasPrefix(ct, "application/json") {
				t.Errorf("content-type: have %q, want application/json", ct)
			}
			var out rpcResponse
			if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
				t.Fatalf("body: have %q, %v", resp.Body, err)
			}
			switch {
			case tt.code != 0 && (out.Error == nil || out.Error.Code != tt.code):
				t.Fatalf("have %s, want error code %d", resp.Body, tt.code)
			case tt.code == 0 && out.Error != nil:
				t.Fatalf("have error %+v, want a result", out.Error)
			case tt.check != nil:
				tt.check(string(out.Result))
			}
		})
	}
}
