package pos

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// A network whose validators start one after another loses what the first
// ones send before the others are up. Only rebroadcast recovers it: in the
// scenario below A and B prevote before C and D start, so C and D see two
// prevotes and A and B two precommits, and nobody ever sees 2f+1 of
// anything again unless the messages are sent again.

// startStaggered starts node 0 of c at once and each further node gap ticks
// after the previous one; messages to a node not yet started are lost.
func startStaggered(c *cluster, gap int) {
	for i := 1; i < len(c.nodes); i++ {
		c.crash(i)
	}
	for i := 1; i < len(c.nodes); i++ {
		c.run(gap, func() bool { return false })
		c.restart(i)
	}
}

func TestClusterStaggeredStart(t *testing.T) {
	// zero is the core config a node gets when it sets no timeouts.
	zero := func(cfg *Config) {
		cfg.TimeoutPropose, cfg.TimeoutPrevote, cfg.TimeoutPrecommit = Timeout{}, Timeout{}, Timeout{}
		cfg.RebroadcastTicks = 0
	}
	t.Run("without rebroadcast the network stalls", func(t *testing.T) {
		c := newCluster(t, []uint64{1, 1, 1, 1}, withConfig(zero))
		startStaggered(c, 3)
		if c.run(1000, c.allAt(1)) {
			t.Fatalf("heights %v: the scenario no longer loses the early messages", c.heights())
		}
		for _, n := range c.nodes {
			if n.core.Round() != 0 {
				t.Fatalf("node %s left round 0", n.name)
			}
		}
	})
	t.Run("driver defaults rebroadcast", func(t *testing.T) {
		c := newCluster(t, []uint64{1, 1, 1, 1}, withConfig(func(cfg *Config) {
			zero(cfg)
			defaultTimeouts(cfg, DefaultTickInterval)
		}))
		startStaggered(c, 3)
		if !c.run(1000, c.allAt(3)) {
			t.Fatalf("heights %v after 1000 ticks, want all at 3", c.heights())
		}
		c.checkNoDoubleSigns()
	})
}

func TestDriverDefaultTimeouts(t *testing.T) {
	var def Config
	def.DefaultTimeouts()

	cfg := Config{}
	defaultTimeouts(&cfg, DefaultTickInterval)
	if cfg.TimeoutPropose != def.TimeoutPropose || cfg.TimeoutPrevote != def.TimeoutPrevote ||
		cfg.TimeoutPrecommit != def.TimeoutPrecommit || cfg.RebroadcastTicks != def.RebroadcastTicks {
		t.Fatalf("defaults at %v: have %+v", DefaultTickInterval, cfg)
	}

	// A shorter tick keeps the real durations.
	cfg = Config{}
	defaultTimeouts(&cfg, DefaultTickInterval/4)
	if cfg.TimeoutPropose.Base != 4*def.TimeoutPropose.Base || cfg.RebroadcastTicks != 4*def.RebroadcastTicks {
		t.Fatalf("defaults at %v: have %+v", DefaultTickInterval/4, cfg)
	}

	// Values set by the caller are kept.
	cfg = Config{TimeoutPrevote: Timeout{Base: 7}, RebroadcastTicks: 3}
	defaultTimeouts(&cfg, DefaultTickInterval)
	if cfg.TimeoutPrevote != (Timeout{Base: 7}) || cfg.RebroadcastTicks != 3 || cfg.TimeoutPropose != def.TimeoutPropose {
		t.Fatalf("explicit values overridden: %+v", cfg)
	}
}

// lateNet connects drivers that join one by one: a message to a driver
// that has not joined yet is lost, as on a p2p network before it connects.
type lateNet struct {
	mu      sync.Mutex
	inboxes []chan []byte // nil until joined
}

type latePort struct {
	net  *lateNet
	self int
}

func (p latePort) Broadcast(msg []byte) {
	p.net.mu.Lock()
	defer p.net.mu.Unlock()
	for i, in := range p.net.inboxes {
		if i == p.self || in == nil {
			continue
		}
		select {
		case in <- msg:
		default:
		}
	}
}

// TestDriversStaggeredStart runs drivers configured like a node that sets
// no timeouts, started one after another with the early messages lost.
func TestDriversStaggeredStart(t *testing.T) {
	keys := []*ecdsa.PrivateKey{testKey(t, "stg-A"), testKey(t, "stg-B"), testKey(t, "stg-C"), testKey(t, "stg-D")}
	sets := mustSchedule(t, mustSet(t, 1, keys, nil))
	genesis := testGenesis()
	dir := t.TempDir()
	events := make(chan string, 1024)
	const tick = 5 * time.Millisecond
	net := &lateNet{inboxes: make([]chan []byte, len(keys))}
	chains := make([]*memChain, len(keys))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i, k := range keys {
		chains[i] = newMemChain(New(testChainID, sets, k), genesis, events)
		inbox := make(chan []byte, 4096)
		d, err := NewDriver(chains[i].engine, DriverConfig{
			WALPath:      filepath.Join(dir, fmt.Sprintf("%d.wal", i)),
			TickInterval: tick,
			BlockTime:    2 * tick,
			Head:         genesis,
			Inbound:      inbox,
			Transport:    latePort{net, i},
			Builder:      chains[i],
			Validator:    chains[i],
			Committer:    chains[i],
			Clock:        func() time.Time { return time.Unix(int64(testGenesisTime), 0) },
			Logger:       slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			time.Sleep(10 * tick) // the previous drivers sign meanwhile
		}
		net.mu.Lock()
		net.inboxes[i] = inbox
		net.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Run(ctx); err != nil {
				t.Errorf("driver %d: %v", i, err)
			}
		}()
	}
	deadline := time.After(15 * time.Second)
	for {
		done := true
		for _, c := range chains {
			if c.Head().NumberU64() < 2 {
				done = false
			}
		}
		if done {
			return
		}
		select {
		case <-events:
		case <-deadline:
			heights := make([]uint64, len(chains))
			for i, c := range chains {
				heights[i] = c.Head().NumberU64()
			}
			t.Fatalf("heights %v after 15s, want all at 2", heights)
		}
	}
}
