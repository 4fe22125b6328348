package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/arbiter-chain/arbiter/offchain/bridge/storeurl"
	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestSetupRefuses checks that the function does not start on a
// configuration it cannot serve with.
func TestSetupRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		vars map[string]string
		want error // nil: any error
	}{
		{"nothing set", map[string]string{}, errConfig},
		{"no node", map[string]string{envStore: "memory:"}, errConfig},
		{"no store", map[string]string{envNode: "http://127.0.0.1:8545"}, errConfig},
		{"chain id not a number", map[string]string{envStore: "memory:", envNode: "http://127.0.0.1:8545", envChainID: "0x10"}, errConfig},
		{"chain id zero", map[string]string{envStore: "memory:", envNode: "http://127.0.0.1:8545", envChainID: "0"}, errConfig},
		{"bad log level", map[string]string{envStore: "memory:", envNode: "http://127.0.0.1:8545", envLogLevel: "loud"}, errConfig},
		{"bad store URL", map[string]string{envStore: "dynamodb://t?regoin=x", envNode: "http://127.0.0.1:8545"}, storeurl.ErrBadURL},
		{"store unreachable", map[string]string{envStore: "postgres://u@127.0.0.1:1/db?sslmode=disable", envNode: "http://127.0.0.1:8545"}, nil},
		{"node not a URL", map[string]string{envStore: "memory:", envNode: "gopher://x"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, closeAll, err := setup(t.Context(), env(tt.vars))
			if err == nil {
				closeAll()
				t.Fatalf("setup: have a handler, want an error")
			}
			if h != nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("setup: have %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSetupServes builds the function over a memory store and calls it
// with an API Gateway event.
func TestSetupServes(t *testing.T) {
	h, closeAll, err := setup(t.Context(), env(map[string]string{
		envStore: "memory:", envNode: "http://127.0.0.1:1", envChainID: "4711",
	}))
	if err != nil {
		t.Fatalf("setup: have %v, want nil", err)
	}
	defer closeAll()
	ev := events.APIGatewayV2HTTPRequest{
		RawPath: "/prod/rpc",
		Headers: map[string]string{"content-type": "application/json"},
		Body:    `{"jsonrpc":"2.0","id":1,"method":"chess_getGame","params":["0x5e1f0c3a9d4b27e8a6c2f19b0d73e4a85c6b1f2e9a0d47c3b8e6f5a2c1d9e07b"]}`,
	}
	ev.RequestContext.HTTP.Method = http.MethodPost
	resp, err := h(context.Background(), ev)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("handler: have %d, %v; want 200", resp.StatusCode, err)
	}
	var out struct {
		Error *struct{ Code int } `json:"error"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil || out.Error == nil || out.Error.Code != wire.CodeUnknownGame {
		t.Fatalf("body: have %s, want error %d", strings.TrimSpace(resp.Body), wire.CodeUnknownGame)
	}
}
