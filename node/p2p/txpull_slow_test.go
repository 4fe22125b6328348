package p2p

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/node/txpool"
)

// stallingPool is a member's pool that advertises maxDigest made-up
// senders far ahead of any pool, at every visit, and answers every range
// of them with nothing, after stall: the member holds the puller with runs
// it never serves.
type stallingPool struct {
	*txpool.Pool
	stall time.Duration
	quick bool // the first range of each visit is answered (empty) at once
	// junk, if set, is advertised first and served at once as the first
	// range of each visit: a transaction the pool refuses.
	junk    *types.Transaction
	release chan struct{} // closed to end the stalls
	asked   chan struct{} // closed at the first range asked
	once    sync.Once
	digests atomic.Int64
	ranges  atomic.Int64
	// sinceDigest counts the ranges asked since the last digest.
	sinceDigest atomic.Int64
}

func newStallingPool(pool *txpool.Pool, stall time.Duration) *stallingPool {
	return &stallingPool{Pool: pool, stall: stall, release: make(chan struct{}), asked: make(chan struct{})}
}

func (p *stallingPool) Digest(int) []txpool.SenderNonce {
	p.digests.Add(1)
	p.sinceDigest.Store(0)
	d := make([]txpool.SenderNonce, maxDigest)
	for i := range d {
		d[i] = txpool.SenderNonce{Sender: common.Address{0xee, byte(i)}, Next: 1 << 40}
	}
	if p.junk != nil {
		from, _ := types.Sender(types.LatestSignerForChainID(p.junk.ChainId()), p.junk)
		d[0] = txpool.SenderNonce{Sender: from, Next: 1 << 40}
	}
	return d
}

func (p *stallingPool) Range(common.Address, uint64, int, uint64) []*types.Transaction {
	p.ranges.Add(1)
	p.once.Do(func() { close(p.asked) })
	if first := p.sinceDigest.Add(1) == 1; first && p.junk != nil {
		return []*types.Transaction{p.junk}
	} else if first && p.quick {
		return nil
	}
	select {
	case <-time.After(p.stall):
	case <-p.release:
	}
	return nil
}

// TestPullPastStallingPeer: a member that advertises runs it never serves,
// answering each request for one with nothing just before the request
// timeout (or at once), neither keeps this node from pulling from an
// honest peer nor is asked for more than maxPullsPerPeer runs per visit. V is
// connected to the staller M and to the honest H, which are not connected
// to each other; gossip to V is lost, so the transaction H holds reaches
// V's pool only by pulling from H, and only once V has begun to visit M
// for its runs.
func TestPullPastStallingPeer(t *testing.T) {
	tests := []struct {
		name  string
		stall time.Duration
		quick bool
		junk  bool
		want  error // the failure V logs for M, if known
	}{
		{"answers just before the timeout", testLimits().RequestTimeout - 500*time.Millisecond, false, false, nil},
		{"answers at once", 0, false, false, errEmptyRun},
		// An empty answer, then a request held past the visit's deadline:
		// a cut visit is excused only after runs served in full.
		{"answers one at once, holds the next", testLimits().RequestTimeout - 500*time.Millisecond, true, false, nil},
		// A run of a transaction the pool refuses (its sender is no
		// member) serves nothing, so it does not excuse what follows.
		{"serves one the pool refuses, holds the next", testLimits().RequestTimeout - 500*time.Millisecond, false, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := testGenesis(t)
			tcM := newTestChain(t, g, "A")
			staller := newStallingPool(tcM.pool, tt.stall)
			staller.quick = tt.quick
			if tt.junk {
				staller.junk = transfer(t, "not a member", 0, addrOf(t, "D"))
			}
			m := startNodeWithPool(t, "A", tcM, staller)
			t.Cleanup(func() { close(staller.release) }) // before M closes
			h := startNode(t, "B", newTestChain(t, g, "B"), nil)
			v := startNode(t, "C", newTestChain(t, g, "C"), nil, dropGossip, withPeers(m, h), func(c *Config) {
				c.Limits.PullInterval = 50 * time.Millisecond
			})
			waitFor(t, "V connected to M and H", func() bool { return v.PeerCount() == 2 })
			if m.hasPeer(h) {
				t.Fatalf("M is connected to H: the test needs M's requests to come from V alone")
			}

			select {
			case <-staller.asked:
			case <-time.After(waitTimeout):
				t.Fatalf("V never asked M for an advertised run")
			}
			// The visit that asked for M's first run fails: M is not
			// visited again (and excused) before a failure is logged.
			first := staller.digests.Load()
			for deadline := time.Now().Add(waitTimeout); len(v.logs.lines("pulling transactions failed", m.ID().String())) == 0; {
				if n := staller.digests.Load(); n > first+1 {
					t.Fatalf("M was visited %d times after its first run was asked for, and no visit failed", n-first)
				}
				if time.Now().After(deadline) {
					t.Fatal("no visit of M failed")
				}
				time.Sleep(5 * time.Millisecond)
			}
			tx := transfer(t, "A", 0, addrOf(t, "D"))
			if err := h.tc.pool.Add(tx); err != nil {
				t.Fatalf("add to H: %v", err)
			}
			waitForOr(t, "H's transaction in V's pool", func() bool { return v.tc.pool.Has(tx.Hash()) }, func() string {
				return "V's pull log:\n" + strings.Join(v.logs.lines("pull"), "\n")
			})
			if tt.want != nil && len(v.logs.lines("pulling transactions failed", m.ID().String(), tt.want.Error())) == 0 {
				t.Fatalf("V logged no %q from M", tt.want)
			}

			// A visit asks for at most maxPullsPerPeer runs: read the
			// ranges first, as both counts only grow.
			ranges := staller.ranges.Load()
			if digests := staller.digests.Load(); ranges > maxPullsPerPeer*digests {
				t.Fatalf("M was asked for %d runs in %d visits, want at most %d a visit", ranges, digests, maxPullsPerPeer)
			}
		})
	}
}

// startNodeWithPool starts a node as startNode does, serving and pulling
// into pool instead of tc's.
func startNodeWithPool(t *testing.T, name string, tc *testChain, pool Pool, opts ...nodeOpt) *testNode {
	t.Helper()
	logs := &logBuffer{}
	cfg := Config{Key: testKey(t, name), GenesisHash: tc.chain.GenesisHash(), Rules: tc.chain.Rules(),
		Engine: tc.engine, Logger: newTestLogger(logs), Limits: testLimits()}
	for _, o := range opts {
		o(&cfg)
	}
	n, err := New(context.Background(), cfg, tc.chain, pool, HeadMembers(tc.chain))
	if err != nil {
		t.Fatalf("new node %s: %v", name, err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(); err != nil {
		t.Fatalf("start node %s: %v", name, err)
	}
	return &testNode{Node: n, tc: tc, logs: logs}
}

// emptyOncePool serves its pool's runs, except the first asked for of one
// sender, which comes back empty, as from an honest peer whose block took
// the run between its digest and the request.
type emptyOncePool struct {
	*txpool.Pool
	sender common.Address
	asked  atomic.Int64
}

func (p *emptyOncePool) Range(s common.Address, from uint64, n int, maxBytes uint64) []*types.Transaction {
	if s == p.sender && p.asked.Add(1) == 1 {
		return nil
	}
	return p.Pool.Range(s, from, n, maxBytes)
}

// TestPullEmptyRunNoFault: an empty answer to one run of a visit is no
// fault of an honest peer (a block may have taken the run from its pool
// after its digest): the visit goes on to the other runs, and the peer is
// not passed over.
func TestPullEmptyRunNoFault(t *testing.T) {
	g := testGenesis(t)
	tcH := newTestChain(t, g, "B")
	a := transfer(t, "A", 0, addrOf(t, "D"))
	b := transfer(t, "B", 0, addrOf(t, "D"))
	for _, tx := range []*types.Transaction{a, b} {
		if err := tcH.pool.Add(tx); err != nil {
			t.Fatalf("add to H: %v", err)
		}
	}
	wrapped := &emptyOncePool{Pool: tcH.pool, sender: addrOf(t, "A")}
	h := startNodeWithPool(t, "B", tcH, wrapped)
	// A visit may take 4 intervals: long enough on a loaded machine that
	// no visit is cut short (which would be logged, if excused or not).
	v := startNode(t, "C", newTestChain(t, g, "C"), nil, dropGossip, withPeers(h), func(c *Config) {
		c.Limits.PullInterval = 300 * time.Millisecond
	})
	waitForOr(t, "both transactions pulled", func() bool {
		return v.tc.pool.Has(a.Hash()) && v.tc.pool.Has(b.Hash())
	}, func() string { return "V's pull log:\n" + strings.Join(v.logs.lines("pull"), "\n") })
	if lines := v.logs.lines("pulling transactions failed"); len(lines) != 0 {
		t.Fatalf("V counted an empty run against H:\n%s", strings.Join(lines, "\n"))
	}
}
