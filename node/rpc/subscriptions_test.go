package rpc

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// waitTimeout bounds every wait for a notification; events are fed
// synchronously, so it is only hit when the test fails.
const waitTimeout = 10 * time.Second

func recv[T any](t *testing.T, ch <-chan T, errc <-chan error) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case err := <-errc:
		t.Fatalf("subscription failed: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("no notification")
	}
	var zero T
	return zero
}

func TestSubscribeNewHeads(t *testing.T) {
	e := newTestEnv(t, Config{})
	for _, path := range []string{"/", "/ws"} {
		t.Run(path, func(t *testing.T) {
			ctx := context.Background()
			c, err := ethclient.DialContext(ctx, e.wsURL(path))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			heads := make(chan *types.Header, 4)
			sub, err := c.SubscribeNewHead(ctx, heads)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			for _, b := range e.chain.blocks[1:3] {
				e.chain.headFeed.Send(b.Header())
			}
			for _, want := range e.chain.blocks[1:3] {
				if have := recv(t, heads, sub.Err()); have.Hash() != want.Hash() {
					t.Errorf("have head %s, want %s", have.Hash(), want.Hash())
				}
			}
			// The same connection serves calls too.
			if n, err := c.BlockNumber(ctx); err != nil || n != 3 {
				t.Errorf("BlockNumber over ws: have %d, %v; want 3", n, err)
			}
		})
	}
}

func TestSubscribeLogs(t *testing.T) {
	e := newTestEnv(t, Config{})
	ctx := context.Background()
	c, err := ethclient.DialContext(ctx, e.wsURL("/ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	logs := make(chan types.Log, 4)
	q := ethereum.FilterQuery{Addresses: []common.Address{contractAddr}, Topics: [][]common.Hash{{topicA, topicC}}}
	sub, err := c.SubscribeFilterLogs(ctx, q, logs)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	other := common.HexToAddress("0x99")
	mk := func(addr common.Address, n uint64, topics ...common.Hash) *types.Log {
		return &types.Log{Address: addr, Topics: topics, BlockNumber: n, Data: []byte{byte(n)}}
	}
	// Non-matching logs come first in each batch: if they were let through
	// they would arrive before the wanted ones.
	e.chain.logFeed.Send([]*types.Log{mk(other, 10, topicA), mk(contractAddr, 11, topicB), mk(contractAddr, 12, topicA)})
	e.chain.logFeed.Send([]*types.Log{mk(contractAddr, 13), mk(contractAddr, 14, topicC, topicB)})
	for _, want := range []uint64{12, 14} {
		if have := recv(t, logs, sub.Err()); have.BlockNumber != want || have.Address != contractAddr {
			t.Errorf("have log of block %d from %s, want block %d", have.BlockNumber, have.Address, want)
		}
	}
}

func TestSubscribeOverHTTPRefused(t *testing.T) {
	e := newTestEnv(t, Config{})
	_, err := e.client.SubscribeNewHead(context.Background(), make(chan *types.Header))
	if err == nil {
		t.Fatal("subscription over HTTP accepted")
	}
}

// TestSlowSubscriberDoesNotBlockFeed: a subscriber that never reads must
// not stall the chain's feed; its surplus events are dropped and counted.
func TestSlowSubscriberDoesNotBlockFeed(t *testing.T) {
	e := newTestEnv(t, Config{})
	m := newMetrics()
	h := newHub(e.chain, m, subLimits{total: DefaultMaxSubscriptions, perConn: DefaultMaxSubscriptionsPerConn, perClient: DefaultMaxSubscriptions})
	_, remove, err := add(h, h.heads, owner{})
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	header := &types.Header{Number: big.NewInt(1)}
	const extra = 10
	for range subBuffer + hubBuffer + extra {
		e.chain.headFeed.Send(header) // would block forever if the hub blocked
	}
	h.close()
	if dropped := metricValue(t, m.dropped); dropped < extra {
		t.Errorf("dropped %v events, want at least %d", dropped, extra)
	}
	if subs := metricValue(t, m.Subscriptions); subs != 1 {
		t.Errorf("subscriptions gauge %v, want 1", subs)
	}
}

func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	if pb.Counter != nil {
		return pb.Counter.GetValue()
	}
	return pb.Gauge.GetValue()
}

func TestSubscriptionsPerClientDefault(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want int
	}{
		{"a sixteenth of the default total", Config{}, DefaultMaxSubscriptions / 16},
		{"a sixteenth of a configured total", Config{MaxSubscriptions: 3200}, 200},
		{"not below one connection's bound", Config{MaxSubscriptions: 160}, DefaultMaxSubscriptionsPerConn},
		{"configured", Config{MaxSubscriptionsPerClient: 7}, 7},
	}
	for _, tt := range tests {
		c, err := tt.cfg.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		if c.MaxSubscriptionsPerClient != tt.want {
			t.Errorf("%s: have %d, want %d", tt.name, c.MaxSubscriptionsPerClient, tt.want)
		}
	}
}
