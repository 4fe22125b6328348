package p2p

import (
	"errors"
	"math/big"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/node/rules"
	"github.com/arbiter-chain/arbiter/node/txpool"
)

// TestRelayedAnnouncesOnce: every transaction a pool takes from a peer's
// batch is announced exactly once, in the peer's batch passed on as it is
// or in this node's own batches, whichever order the pool's announcement
// and the batch's verdict come in.
func TestRelayedAnnouncesOnce(t *testing.T) {
	r := rules.NewStatic(big.NewInt(testChainID), 30_000_000)
	to := addrOf(t, "B")
	txs := []*types.Transaction{transfer(t, "A", 0, to), transfer(t, "A", 1, to), transfer(t, "A", 2, to)}
	raw := make([][]byte, len(txs))
	for i, tx := range txs {
		raw[i], _ = tx.MarshalBinary()
	}
	data, err := encodeBatch(raw)
	if err != nil {
		t.Fatal(err)
	}
	pos := func(tx *types.Transaction) int {
		return slices.IndexFunc(txs, func(o *types.Transaction) bool { return o.Hash() == tx.Hash() })
	}
	tests := []struct {
		name      string
		refuse    int  // index of the transaction the pool refuses, -1: none
		known     int  // index of the transaction the pool held before, -1: none
		takeEarly bool // the publishing loop sees each announcement while the batch is checked
		want      string
	}{
		{"all taken, announcements seen early", -1, -1, true, "accept"},
		{"all taken, announcements seen late", -1, -1, false, "accept"},
		{"one refused, announcements seen early", 1, -1, true, "ignore"},
		{"one refused, announcements seen late", 1, -1, false, "ignore"},
		// What a batch brings new is passed on with it, the rest was
		// announced when the pool took it: nothing is re-batched.
		{"one known, the rest taken, announcements seen early", -1, 0, true, "accept"},
		{"one known, the rest taken, announcements seen late", -1, 2, false, "accept"},
		{"one known, one refused", 1, 0, true, "ignore"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var handedBack []*types.Transaction
			rel := newRelayed(func(b []*types.Transaction) { handedBack = append(handedBack, b...) })
			rel.activate()
			var taken []*types.Transaction
			announced := map[int]int{} // position in txs -> times announced by this node
			publish := func(i int) {
				if !rel.take(txs[i].Hash()) {
					announced[i]++
				}
			}
			has := map[common.Hash]bool{}
			if tt.known >= 0 {
				has[txs[tt.known].Hash()] = true
			}
			pool := &fakePool{has: has, add: func(tx *types.Transaction) error {
				i := pos(tx)
				if i == tt.refuse {
					return txpool.ErrPoolFull
				}
				taken = append(taken, tx)
				if tt.takeEarly {
					publish(i)
				}
				return nil
			}}
			res, c, _ := checkTxBatch(data, r, pool, rel, nil, nil, common.Address{})
			took := c.took
			if resultName(res) != tt.want {
				t.Fatalf("result %s, want %s", resultName(res), tt.want)
			}
			if took != len(taken) {
				t.Fatalf("took %d, pool has %d", took, len(taken))
			}
			if !tt.takeEarly {
				for _, tx := range taken {
					publish(pos(tx))
				}
			}
			for _, tx := range handedBack {
				announced[pos(tx)]++
			}
			for i, tx := range txs {
				want := 0
				if res != accept && slices.ContainsFunc(taken, func(o *types.Transaction) bool { return o.Hash() == tx.Hash() }) {
					want = 1 // not passed on: this node announces what it took
				}
				if announced[i] != want {
					t.Errorf("transaction %d announced by this node %d times, want %d", i, announced[i], want)
				}
			}
			if n := rel.size(); n != 0 {
				t.Errorf("%d marks left", n)
			}
		})
	}
}

// TestRelayedBounded: nothing is marked before activate, and a batch that
// would take the marks past the bound is not marked (and so not passed on)
// while every earlier mark stays: no mark is ever forgotten.
func TestRelayedBounded(t *testing.T) {
	rel := newRelayed(func([]*types.Transaction) {})
	to := addrOf(t, "B")
	var txs []*types.Transaction
	for n := range uint64(relayedCap + 10) {
		tx := types.NewTx(&types.DynamicFeeTx{ChainID: big.NewInt(testChainID), Nonce: n, To: &to, Gas: 21000})
		txs = append(txs, tx)
	}
	if rel.mark(txs[:1]) {
		t.Fatalf("marked before activate")
	}
	rel.activate()
	if !rel.mark(txs[:relayedCap-5]) {
		t.Fatalf("batch within the bound not marked")
	}
	if rel.mark(txs[relayedCap-5:]) {
		t.Fatalf("batch past the bound marked")
	}
	if n := rel.size(); n != relayedCap-5 {
		t.Fatalf("%d marks held, want %d", n, relayedCap-5)
	}
	if !rel.take(txs[0].Hash()) {
		t.Fatalf("the oldest mark was forgotten")
	}
}

// TestRelayedOverlappingBatches: batches A = [X, Y] and B = [X, Z] are
// checked at once, both finding X new. A marks its transactions, the pool
// takes X from A and the publishing loop skips X's announcement; then B
// tries to mark; the pool refuses Y, so A is not passed on; B finds X
// taken, so neither is B. X and Z are each announced by this node exactly
// once (X handed back when A releases its marks).
func TestRelayedOverlappingBatches(t *testing.T) {
	to := addrOf(t, "B")
	x, y, z := transfer(t, "A", 0, to), transfer(t, "A", 1, to), transfer(t, "C", 0, to)
	announced := map[common.Hash]int{}
	rel := newRelayed(func(b []*types.Transaction) {
		for _, tx := range b {
			announced[tx.Hash()]++
		}
	})
	rel.activate()
	publish := func(tx *types.Transaction) { // the publishing loop seeing the pool's announcement
		if !rel.take(tx.Hash()) {
			announced[tx.Hash()]++
		}
	}
	batchA, batchB := []*types.Transaction{x, y}, []*types.Transaction{x, z}
	if !rel.mark(batchA) {
		t.Fatalf("A not marked")
	}
	publish(x) // the pool took X from A
	markedB := rel.mark(batchB)
	if markedB {
		t.Errorf("B marked while A holds a mark on X")
	}
	rel.release(batchA) // the pool refused Y
	publish(z)          // the pool took Z from B (X: already known)
	if markedB {
		rel.release(batchB)
	}
	for name, tx := range map[string]*types.Transaction{"X": x, "Z": z} {
		if announced[tx.Hash()] != 1 {
			t.Errorf("%s announced %d times, want 1", name, announced[tx.Hash()])
		}
	}
	if n := rel.size(); n != 0 {
		t.Errorf("%d marks left", n)
	}
}

// TestGossipPassesBatchesOn: a burst added at A reaches C through B, which
// passes A's batches on as they are (a batch a pool does not take in full
// is not passed on; its transactions go out in the node's own batches, and
// the pull protocol fills in what gossip missed): B passed batches on, its
// marks all end at the announcements they suppress, and no batch is
// rejected.
func TestGossipPassesBatchesOn(t *testing.T) {
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
	for _, from := range []string{"A", "B"} {
		for n := uint64(0); n < 600; n++ {
			burst = append(burst, transfer(t, from, n, addrOf(t, "D")))
		}
	}
	for _, tx := range burst {
		if err := a.tc.pool.Add(tx); err != nil && !errors.Is(err, txpool.ErrAlreadyKnown) {
			t.Fatalf("add to A: %v", err)
		}
	}
	defer func() {
		if t.Failed() {
			t.Logf("pools: A %d, B %d, C %d; B's marks %d", a.tc.pool.Len(), b.tc.pool.Len(), c.tc.pool.Len(), b.relayed.size())
			for _, l := range b.logs.lines("") {
				t.Log(l)
			}
		}
	}()
	waitFor(t, "the burst in C's pool", func() bool { return c.tc.pool.Len() == len(burst) })
	waitFor(t, "B's marks settled", func() bool { return b.relayed.size() == 0 })
	if n := c.rejects(labelTxs) + b.rejects(labelTxs); n != 0 {
		t.Fatalf("rejected batches: %v", n)
	}
	if n := counterValue(b.metrics.passedOn); n == 0 {
		t.Fatalf("B passed no batch on")
	}
}

// TestPassOnMostlyKnown: a batch that brings the pool less than a quarter
// of its bytes new is not passed on, however valid: what it brings goes
// out in this node's own batches instead. Counted in bytes, not
// transactions: two large known ones outweigh three small new ones.
func TestPassOnMostlyKnown(t *testing.T) {
	r := rules.NewStatic(big.NewInt(testChainID), 30_000_000)
	to := addrOf(t, "B")
	signer := types.NewLondonSigner(big.NewInt(testChainID))
	large := func(nonce uint64) *types.Transaction {
		tx, err := types.SignNewTx(testKey(t, "A"), signer, &types.DynamicFeeTx{ChainID: big.NewInt(testChainID), Nonce: nonce, To: &to,
			Gas: 1_000_000, GasFeeCap: big.NewInt(1), GasTipCap: big.NewInt(1), Data: make([]byte, 4000)})
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	for _, tt := range []struct {
		known int
		big   bool // the known ones are large
		want  string
	}{{3, false, "accept"}, {4, false, "ignore"}, {2, true, "ignore"}} {
		txs := make([]*types.Transaction, 5)
		raw := make([][]byte, len(txs))
		has := map[common.Hash]bool{}
		for i := range txs {
			txs[i] = transfer(t, "A", uint64(i), to)
			if tt.big && i < tt.known {
				txs[i] = large(uint64(i))
			}
			raw[i], _ = txs[i].MarshalBinary()
			if i < tt.known {
				has[txs[i].Hash()] = true
			}
		}
		data, err := encodeBatch(raw)
		if err != nil {
			t.Fatal(err)
		}
		var handedBack []*types.Transaction
		rel := newRelayed(func(b []*types.Transaction) { handedBack = append(handedBack, b...) })
		rel.activate()
		taken := 0
		pool := &fakePool{has: has, add: func(*types.Transaction) error { taken++; return nil }}
		res, _, _ := checkTxBatch(data, r, pool, rel, nil, nil, common.Address{})
		if resultName(res) != tt.want || taken != len(txs)-tt.known {
			t.Errorf("%d of 5 known (large %v): %s, %d taken; want %s, %d taken", tt.known, tt.big, resultName(res), taken, tt.want, len(txs)-tt.known)
		}
		// The pool announces what it took: passed on, the batch did;
		// else this node's own batches do.
		for _, tx := range txs[tt.known:] {
			if skipped := rel.take(tx.Hash()); skipped != (tt.want == "accept") {
				t.Errorf("%d of 5 known: announcement of a new transaction skipped %v", tt.known, skipped)
			}
		}
		if n := rel.size(); n != 0 || len(handedBack) != 0 {
			t.Errorf("%d of 5 known: %d marks left, %d handed back", tt.known, n, len(handedBack))
		}
	}
}
