package bridge_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/arbiter-chain/arbiter/internal/rpclimit"
	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/prometheus/client_golang/prometheus"
)

// TestMetrics plays two moves with one refusal and a subscriber, then
// reads /metrics.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	e := newEnv(t, bridge.NewMemStore())
	b := e.newBridge(bridge.Config{Registerer: reg, Gatherer: reg})
	srv := e.serve(b)
	id := gameID("metrics")
	e.openGame(b, id)

	c := e.dial(srv, "/ws")
	pushed := make(chan channel.SignedState, 4)
	sub, err := c.SubscribeMoves(ctx, id, pushed)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	states := e.line(id, "e2e4", "e7e5")
	for _, s := range []channel.SignedState{states[0], states[0], states[1]} {
		_, _ = c.SubmitMove(ctx, s)
	}
	receive(t, pushed, sub.Err())
	receive(t, pushed, sub.Err())

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		"arbiter_bridge_moves_accepted_total 2",
		`arbiter_bridge_moves_rejected_total{code="-32017"} 1`,
		"arbiter_bridge_submit_seconds_count 2",
		"arbiter_bridge_relay_seconds_count 2",
		"arbiter_bridge_subscriptions 1",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestRequestMetrics checks that refused and served HTTP requests are
// counted by route and status code, so a bridge under a flood of
// oversized bodies shows it on /metrics.
func TestRequestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, bridge.NewMemStore())
	b := e.newBridge(bridge.Config{Registerer: reg, Limits: rpclimit.Limits{MaxBodyBytes: 1024}})
	srv := e.serve(b)
	post := func(body string) int {
		t.Helper()
		resp, err := http.Post(srv.URL+"/rpc", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name string
		body string
		code int
	}{
		{"oversized body", `{"jsonrpc":"2.0","id":1,"method":"chess_game","params":["` + strings.Repeat("0", 2048) + `"]}`, http.StatusRequestEntityTooLarge},
		{"small call", `{"jsonrpc":"2.0","id":1,"method":"chess_nothing"}`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if have := post(tt.body); have != tt.code {
				t.Errorf("have status %d, want %d", have, tt.code)
			}
		})
	}
	srv.Close() // waits for the handlers, which count after they answer
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "arbiter_bridge_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := ""
			for _, l := range m.GetLabel() {
				labels += l.GetName() + "=" + l.GetValue() + " "
			}
			have[labels] = m.GetCounter().GetValue()
		}
	}
	for _, want := range []string{"code=413 route=http ", "code=200 route=http "} {
		if have[want] != 1 {
			t.Errorf("have %v requests with %q, want 1 (all: %v)", have[want], want, have)
		}
	}
}
