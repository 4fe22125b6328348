package bridge_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

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
