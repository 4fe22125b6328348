package p2p

import (
	"context"
	"fmt"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/arbiter-chain/arbiter/node/txpool"
)

// dropGossip makes a node ignore every peer's transaction batch.
func dropGossip(c *Config) { c.dropTxGossip = true }

// TestPullDeliversWithoutGossip: with every transaction batch lost, a
// burst accepted by one node still reaches every other node's pool by
// pulling; a block of those transactions is then imported without
// recovering one signature (the pool's senders are reused).
func TestPullDeliversWithoutGossip(t *testing.T) {
	g := testGenesis(t)
	a := startNode(t, "A", newTestChain(t, g, "A"), nil, dropGossip)
	b := startNode(t, "B", newTestChain(t, g, "B"), nil, dropGossip, withPeers(a))
	c := startNode(t, "C", newTestChain(t, g, "C"), nil, dropGossip, withPeers(a, b))
	waitFor(t, "a full mesh of connections", func() bool { return a.PeerCount() == 2 && b.PeerCount() == 2 })

	const perSender = 60
	var burst []*types.Transaction
	for _, from := range []string{"A", "B", "C"} {
		for n := uint64(0); n < perSender; n++ {
			burst = append(burst, transfer(t, from, n, addrOf(t, "D")))
		}
	}
	for _, tx := range burst {
		if err := a.tc.pool.Add(tx); err != nil {
			t.Fatalf("add to A: %v", err)
		}
	}
	for _, n := range []*testNode{b, c} {
		waitFor(t, "the burst in every pool", func() bool { return n.tc.pool.Len() == len(burst) })
	}
	for _, n := range []*testNode{b, c} {
		if len(n.logs.lines("gossip ignored", errDropped.Error())) == 0 {
			t.Fatalf("no gossip was dropped: the test shows nothing")
		}
	}
	for _, tx := range burst {
		if !b.tc.pool.Has(tx.Hash()) || !c.tc.pool.Has(tx.Hash()) {
			t.Fatalf("transaction %x missing", tx.Hash())
		}
	}
	// Each pulled from A or from the other, each signature checked once.
	for _, n := range []*testNode{b, c} {
		if have := counterValue(n.metrics.recovered); have != float64(len(burst)) {
			t.Fatalf("signatures recovered: have %v, want %d", have, len(burst))
		}
	}

	// A block of the pooled transactions, as bytes from the network.
	blk := a.tc.mine(a.tc.chain.CurrentBlock(), a.tc.pool.Pending(), 1)
	enc, err := rlp.EncodeToBytes(blk)
	if err != nil {
		t.Fatal(err)
	}
	fresh := new(types.Block)
	if err := rlp.DecodeBytes(enc, fresh); err != nil {
		t.Fatal(err)
	}
	if err := b.tc.chain.InsertBlock(fresh); err != nil {
		t.Fatalf("B imports: %v", err)
	}
	if have := b.tc.chain.SenderRecoveries(); have != 0 {
		t.Fatalf("signatures recovered by B's import: have %v, want 0", have)
	}
}

// TestPullFillsGap: a node holding a sender's transactions behind a gap
// that gossip never filled gets the missing ones from a peer.
func TestPullFillsGap(t *testing.T) {
	g := testGenesis(t)
	a := startNode(t, "A", newTestChain(t, g, "A"), nil, dropGossip)
	b := startNode(t, "B", newTestChain(t, g, "B"), nil, dropGossip, withPeers(a))
	waitFor(t, "A and B connected", func() bool { return a.PeerCount() == 1 && b.PeerCount() == 1 })

	tests := []struct {
		name    string
		sender  string
		atA     []uint64
		atB     []uint64
		wantExe int
	}{
		{"gap in the middle", "A", span(0, 10), append(span(0, 3), span(6, 10)...), 10},
		{"gap at the start", "B", span(0, 5), span(2, 5), 5},
		{"peer has no more", "C", span(0, 2), span(0, 2), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, n := range tt.atA {
				if err := a.tc.pool.Add(transfer(t, tt.sender, n, addrOf(t, "D"))); err != nil {
					t.Fatalf("add %d to A: %v", n, err)
				}
			}
			for _, n := range tt.atB {
				if err := b.tc.pool.Add(transfer(t, tt.sender, n, addrOf(t, "D"))); err != nil {
					t.Fatalf("add %d to B: %v", n, err)
				}
			}
			waitFor(t, fmt.Sprintf("%d executable transactions of %s at B", tt.wantExe, tt.sender), func() bool {
				return b.tc.pool.PendingNonce(addrOf(t, tt.sender)) == uint64(tt.wantExe)
			})
		})
	}
	if exe, fut := b.tc.pool.Stats(); exe != 17 || fut != 0 {
		t.Fatalf("B's pool: have %d executable and %d future, want 17 and 0", exe, fut)
	}
}

func span(from, to uint64) []uint64 {
	var out []uint64
	for n := from; n < to; n++ {
		out = append(out, n)
	}
	return out
}

// lyingPool advertises sender's transactions up to nonce len(txs) and
// answers every range with txs, which another sender signed.
type lyingPool struct {
	*txpool.Pool
	sender common.Address
	txs    []*types.Transaction
}

func (p *lyingPool) Digest(int) []txpool.SenderNonce {
	return []txpool.SenderNonce{{Sender: p.sender, Next: uint64(len(p.txs))}}
}

func (p *lyingPool) Range(common.Address, uint64, int, uint64) []*types.Transaction { return p.txs }

// TestPullRefusesAnotherSender: a peer answering a pull with transactions
// of a sender other than the one asked gets none of them into the pool.
func TestPullRefusesAnotherSender(t *testing.T) {
	g := testGenesis(t)
	tcA := newTestChain(t, g, "A")
	liar := &lyingPool{Pool: tcA.pool, sender: addrOf(t, "A")}
	for n := uint64(0); n < 3; n++ {
		liar.txs = append(liar.txs, transfer(t, "C", n, addrOf(t, "D")))
	}
	logs := &logBuffer{}
	cfg := Config{Key: testKey(t, "A"), GenesisHash: tcA.chain.GenesisHash(), Rules: tcA.chain.Rules(),
		Engine: tcA.engine, Logger: newTestLogger(logs), Limits: testLimits()}
	a, err := New(context.Background(), cfg, tcA.chain, liar, HeadMembers(tcA.chain))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	b := startNode(t, "B", newTestChain(t, g, "B"), nil, func(c *Config) {
		for _, ad := range a.Addrs() {
			c.Peers = append(c.Peers, ad.String())
		}
	})
	waitFor(t, "B to refuse the pulled run", func() bool {
		return len(b.logs.lines("pulling transactions failed", errWrongSender.Error())) > 0
	})
	if n := b.tc.pool.Len(); n != 0 {
		t.Fatalf("B's pool: have %d transactions, want 0", n)
	}
}

// TestDecodeTxRun: a pulled run must hold at most the count asked, of
// bounded transactions, with consecutive nonces from the one asked.
func TestDecodeTxRun(t *testing.T) {
	to := addrOf(t, "D")
	enc := func(txs ...*types.Transaction) []byte {
		raws := make([][]byte, len(txs))
		for i, tx := range txs {
			raws[i], _ = tx.MarshalBinary()
		}
		b, err := rlp.EncodeToBytes(raws)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t3, t4, t5 := transfer(t, "A", 3, to), transfer(t, "A", 4, to), transfer(t, "A", 5, to)
	tests := []struct {
		name    string
		payload []byte
		from    uint64
		count   uint64
		want    error
	}{
		{"run", enc(t3, t4, t5), 3, 3, nil},
		{"shorter run", enc(t3), 3, 3, nil},
		{"empty", enc(), 3, 3, nil},
		{"more than asked", enc(t3, t4, t5), 3, 2, errBadResponse},
		{"wrong start", enc(t4, t5), 3, 3, errBadResponse},
		{"gap", enc(t3, t5), 3, 3, errBadResponse},
		{"not a list", []byte{0x01}, 3, 3, errMalformed},
		{"not a transaction", func() []byte { b, _ := rlp.EncodeToBytes([][]byte{{0x02, 0xc1}}); return b }(), 3, 3, errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeTxRun(tt.payload, tt.from, tt.count)
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !wrapsOne(err, tt.want)) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
		})
	}
}

// TestBurstReachesEveryPool: a burst accepted by A reaches C, which only B
// is connected to: B relays what its pool took, in batches of its own.
// Batches are validated concurrently, so they may arrive out of order and
// overflow a sender's allowance of transactions behind a gap; pulling
// fills what that drops.
func TestBurstReachesEveryPool(t *testing.T) {
	g := testGenesis(t)
	a := startNode(t, "A", newTestChain(t, g, "A"), nil)
	b := startNode(t, "B", newTestChain(t, g, "B"), nil, withPeers(a))
	c := startNode(t, "C", newTestChain(t, g, "C"), nil, withPeers(b))
	waitFor(t, "A and C in B's transaction mesh", func() bool {
		return len(b.txTopic.ListPeers()) == 2 && len(a.txTopic.ListPeers()) == 1 && len(c.txTopic.ListPeers()) == 1
	})
	if c.hasPeer(a) {
		t.Fatalf("C is connected to A: the test needs B in between")
	}
	var burst []*types.Transaction
	for _, from := range []string{"A", "B", "C"} {
		for n := uint64(0); n < 300; n++ {
			burst = append(burst, transfer(t, from, n, addrOf(t, "D")))
		}
	}
	for _, tx := range burst {
		if err := a.tc.pool.Add(tx); err != nil {
			t.Fatalf("add to A: %v", err)
		}
	}
	defer func() {
		if t.Failed() {
			t.Logf("pools: A %d, B %d, C %d", a.tc.pool.Len(), b.tc.pool.Len(), c.tc.pool.Len())
			for _, l := range b.logs.lines("gossip") {
				t.Log(l)
			}
		}
	}()
	waitFor(t, "the burst in C's pool", func() bool { return c.tc.pool.Len() == len(burst) })
	if n := c.rejects(labelTxs) + b.rejects(labelTxs); n != 0 {
		t.Fatalf("rejected batches: %v", n)
	}
}

// TestPullRuns: a sender a peer lists for the first time pulls nothing, as
// what it holds that this node lacks is usually on its way by gossip; at a
// later visit it pulls, for each sender still behind, up to what the peer
// held before. A sender missing from a visit's digest still counts at the
// next; one missing for seenVisits visits starts over.
func TestPullRuns(t *testing.T) {
	a, b, c := addrOf(t, "A"), addrOf(t, "B"), addrOf(t, "C")
	mine := map[common.Address]uint64{a: 3, b: 5, c: 0}
	pending := func(s common.Address) uint64 { return mine[s] }
	s := &peerSeen{next: make(map[common.Address]seenNonce)}

	if runs := s.pullRuns([]txpool.SenderNonce{{Sender: a, Next: 10}, {Sender: b, Next: 5}}, pending); len(runs) != 0 {
		t.Fatalf("first digest: pulled %+v, want nothing", runs)
	}
	runs := s.pullRuns([]txpool.SenderNonce{{Sender: a, Next: 20}, {Sender: b, Next: 9}, {Sender: c, Next: 4}}, pending)
	want := []txRequest{{Kind: kindGetTxs, Sender: a, From: 3, Count: 7}}
	if fmt.Sprint(runs) != fmt.Sprint(want) {
		t.Fatalf("second digest: pulled %+v, want %+v (b was caught up, c is new)", runs, want)
	}
	// c missing from one digest still pulls at the next, up to 4.
	s.pullRuns(nil, pending)
	runs = s.pullRuns([]txpool.SenderNonce{{Sender: c, Next: 6}}, pending)
	want = []txRequest{{Kind: kindGetTxs, Sender: c, From: 0, Count: 4}}
	if fmt.Sprint(runs) != fmt.Sprint(want) {
		t.Fatalf("after a missed visit: pulled %+v, want %+v", runs, want)
	}
	// c, unlisted for seenVisits-1 visits, still pulls; a, unlisted for
	// seenVisits, is forgotten.
	for range seenVisits - 1 {
		s.pullRuns(nil, pending)
	}
	if runs := s.pullRuns([]txpool.SenderNonce{{Sender: c, Next: 6}}, pending); len(runs) != 1 {
		t.Fatalf("a sender unlisted for %d visits: pulled %+v, want one run", seenVisits-1, runs)
	}
	if runs := s.pullRuns([]txpool.SenderNonce{{Sender: a, Next: 30}}, pending); len(runs) != 0 {
		t.Fatalf("a sender unlisted for %d visits: pulled %+v, want nothing", seenVisits, runs)
	}
	// A sender listed twice in one digest counts once: its first listing
	// pulls nothing.
	d2 := addrOf(t, "D")
	if runs := s.pullRuns([]txpool.SenderNonce{{Sender: d2, Next: 5}, {Sender: d2, Next: 5}}, pending); len(runs) != 0 {
		t.Fatalf("a sender listed twice on first sight: pulled %+v, want nothing", runs)
	}

	// Bounds: maxPullsPerPeer senders, maxPullTxs each; the senders beyond
	// the cap are recorded, to be pulled at a later visit.
	var d []txpool.SenderNonce
	for i := range maxPullsPerPeer + 5 {
		d = append(d, txpool.SenderNonce{Sender: common.Address{byte(i + 1)}, Next: 10 * maxPullTxs})
	}
	s = &peerSeen{next: make(map[common.Address]seenNonce)}
	zero := func(common.Address) uint64 { return 0 }
	s.pullRuns(d, zero)
	runs = s.pullRuns(d, zero)
	if len(runs) != maxPullsPerPeer {
		t.Fatalf("pulled %d senders, want %d", len(runs), maxPullsPerPeer)
	}
	for _, r := range runs {
		if r.Count != maxPullTxs {
			t.Fatalf("run of %d transactions, want %d", r.Count, maxPullTxs)
		}
	}
	if len(s.next) != len(d) {
		t.Fatalf("recorded %d senders of %d listed", len(s.next), len(d))
	}
	for i := range seenVisits * 2 {
		var many []txpool.SenderNonce
		for j := range maxDigest {
			many = append(many, txpool.SenderNonce{Sender: common.Address{0xf0, byte(i), byte(j)}, Next: 1})
		}
		s.pullRuns(many, zero)
	}
	if len(s.next) > seenVisits*maxDigest {
		t.Fatalf("recorded %d senders, bound %d", len(s.next), seenVisits*maxDigest)
	}
}

// TestPullCooldown: a peer whose visit failed is passed over for its next
// pullCooldownVisits turns, each such tick going to the peer after it, and
// is then visited in turn again; while every peer cools, none is visited.
// A cooldown ends with the peer's connection.
func TestPullCooldown(t *testing.T) {
	a, b, c := peer.ID("a"), peer.ID("b"), peer.ID("c")
	picks := func(p *puller, peers []peer.ID, n int) []peer.ID {
		var out []peer.ID
		for range n {
			pid, ok := p.pick(peers)
			if !ok {
				pid = "none"
			}
			out = append(out, pid)
		}
		return out
	}

	p := &puller{}
	p.coolDown(b)
	var want []peer.ID
	for range pullCooldownVisits {
		want = append(want, c, a) // b's turn passes to c
	}
	want = append(want, b, c, a)
	if have := picks(p, []peer.ID{a, b, c}, len(want)); fmt.Sprint(have) != fmt.Sprint(want) {
		t.Fatalf("one peer cooling: have %v, want %v", have, want)
	}

	p = &puller{}
	p.coolDown(a)
	p.coolDown(b)
	want = want[:0]
	for range pullCooldownVisits {
		want = append(want, "none")
	}
	want = append(want, b, a)
	if have := picks(p, []peer.ID{a, b}, len(want)); fmt.Sprint(have) != fmt.Sprint(want) {
		t.Fatalf("every peer cooling: have %v, want %v", have, want)
	}

	p = &puller{}
	p.coolDown(c)
	p.forgetGone([]peer.ID{a, b})
	if have := picks(p, []peer.ID{a, c}, 2); fmt.Sprint(have) != fmt.Sprint([]peer.ID{c, a}) {
		t.Fatalf("after c reconnected: have %v, want [c a]", have)
	}
}
