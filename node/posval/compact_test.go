package posval

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/arbiter-chain/arbiter/consensus/pos"
)

var fillChainID = big.NewInt(4545)

func fillKey(t testing.TB, name string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("posval fill key " + name)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signedProposal returns a proposal at height 1 and round by key of a
// block carrying n transfers (offset makes distinct blocks).
func signedProposal(t testing.TB, key *ecdsa.PrivateKey, round uint32, n int, offset uint64) *signed {
	t.Helper()
	signer := types.LatestSignerForChainID(fillChainID)
	sender := fillKey(t, "sender")
	txs := make([]*types.Transaction, n)
	for i := range txs {
		tx, err := types.SignNewTx(sender, signer, &types.DynamicFeeTx{
			ChainID: fillChainID, Nonce: offset*1000 + uint64(i), Gas: params.TxGas, GasFeeCap: big.NewInt(1), To: &common.Address{1},
		})
		if err != nil {
			t.Fatal(err)
		}
		txs[i] = tx
	}
	h := &types.Header{
		Number: big.NewInt(1), Time: 10 + offset, GasLimit: 30_000_000, BaseFee: new(big.Int),
		TxHash: types.DeriveSha(types.Transactions(txs), trie.NewStackTrie(nil)),
	}
	p := &pos.Proposal{Height: 1, Round: round, ValidRound: -1, Block: types.NewBlockWithHeader(h).WithBody(types.Body{Transactions: txs})}
	d := p.Digest(fillChainID)
	sig, err := crypto.Sign(d[:], key)
	if err != nil {
		t.Fatal(err)
	}
	copy(p.Signature[:], sig)
	c, err := p.Compact(fillChainID, key)
	if err != nil {
		t.Fatal(err)
	}
	return &signed{p, c}
}

// signed is a proposal and its compact form.
type signed struct {
	*pos.Proposal
	compact *pos.CompactProposal
}

// mapPool is a pool of the transactions in it.
type mapPool map[common.Hash]*types.Transaction

func (p mapPool) GetMany(hashes []common.Hash) []*types.Transaction {
	out := make([]*types.Transaction, len(hashes))
	for i, h := range hashes {
		out[i] = p[h]
	}
	return out
}

// fakeFetcher answers fetches from held, after release is closed (if set).
type fakeFetcher struct {
	held    mapPool
	release chan struct{}
	fail    error

	mu      sync.Mutex
	calls   []fetchCall
	kept    int
	aborted int
}

type fetchCall struct {
	prefer common.Address
	hashes []common.Hash
}

func (f *fakeFetcher) FetchTxs(ctx context.Context, prefer common.Address, hashes []common.Hash) (map[common.Hash]*types.Transaction, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fetchCall{prefer, append([]common.Hash(nil), hashes...)})
	f.mu.Unlock()
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			f.mu.Lock()
			f.aborted++
			f.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	if f.fail != nil {
		return nil, f.fail
	}
	out := make(map[common.Hash]*types.Transaction)
	for _, h := range hashes {
		if tx := f.held[h]; tx != nil {
			out[h] = tx
		}
	}
	return out, nil
}

func (f *fakeFetcher) KeepTxs(txs []*types.Transaction) {
	f.mu.Lock()
	f.kept += len(txs)
	f.mu.Unlock()
}

func (f *fakeFetcher) fetches() []fetchCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fetchCall(nil), f.calls...)
}

type fillHarness struct {
	f   *filler
	net *fakeFetcher
	out chan []byte
}

func newFillHarness(t *testing.T, pool mapPool, net *fakeFetcher) *fillHarness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan []byte, 16)
	f := newFiller(ctx, fillChainID, pool, net, func(f pos.FilledProposal) {
		// The core steps the proposal without decoding Raw: they must
		// be the same message.
		if !bytes.Equal(f.Raw, f.Proposal.Encode()) {
			t.Error("a filled proposal's wire form is not its own")
		}
		out <- f.Raw
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { cancel(); f.wait() })
	return &fillHarness{f: f, net: net, out: out}
}

func (h *fillHarness) delivered(t *testing.T, want *signed) {
	t.Helper()
	select {
	case got := <-h.out:
		if !bytes.Equal(got, want.Encode()) {
			t.Fatal("delivered proposal differs from the one sent")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no proposal delivered")
	}
}

func (h *fillHarness) nothingDelivered(t *testing.T) {
	t.Helper()
	h.f.wait()
	select {
	case <-h.out:
		t.Fatal("a proposal was delivered")
	default:
	}
}

// TestFillFromPool: a compact proposal whose transactions are all pooled
// reaches the core as the very proposal sent, with no fetch.
func TestFillFromPool(t *testing.T) {
	p := signedProposal(t, fillKey(t, "A"), 0, 5, 0)
	pool := mapPool{}
	for _, tx := range p.Block.Transactions() {
		pool[tx.Hash()] = tx
	}
	h := newFillHarness(t, pool, &fakeFetcher{})
	h.f.handle(p.compact.Encode())
	h.delivered(t, p)
	if n := len(h.net.fetches()); n != 0 {
		t.Fatalf("fetches: have %d, want 0", n)
	}
	if h.net.kept != 5 {
		t.Fatalf("kept transactions: have %d, want 5", h.net.kept)
	}
	// A copy (the proposer's rebroadcast) is not delivered again.
	h.f.handle(p.compact.Encode())
	h.nothingDelivered(t)
}

// TestFillFetchesMissing: only what the pool lacks is fetched, from the
// proposer first; a copy that arrives during the fetch or after it causes
// no second fetch.
func TestFillFetchesMissing(t *testing.T) {
	key := fillKey(t, "A")
	p := signedProposal(t, key, 0, 4, 0)
	txs := p.Block.Transactions()
	pool := mapPool{txs[0].Hash(): txs[0], txs[2].Hash(): txs[2]}
	net := &fakeFetcher{held: mapPool{txs[1].Hash(): txs[1], txs[3].Hash(): txs[3]}, release: make(chan struct{})}
	h := newFillHarness(t, pool, net)
	h.f.handle(p.compact.Encode())
	h.f.handle(p.compact.Encode())
	close(net.release)
	h.delivered(t, p)
	h.f.handle(p.compact.Encode())
	h.nothingDelivered(t)
	calls := net.fetches()
	if len(calls) != 1 {
		t.Fatalf("fetches: have %d, want 1", len(calls))
	}
	if calls[0].prefer != crypto.PubkeyToAddress(key.PublicKey) {
		t.Fatalf("fetch preferred %v, want the proposer", calls[0].prefer)
	}
	if want := []common.Hash{txs[1].Hash(), txs[3].Hash()}; len(calls[0].hashes) != 2 || calls[0].hashes[0] != want[0] || calls[0].hashes[1] != want[1] {
		t.Fatalf("fetched %x, want %x", calls[0].hashes, want)
	}
}

// TestFillFetchFails: a proposal whose transactions no peer has is not
// delivered (the core's propose timeout then prevotes nil).
func TestFillFetchFails(t *testing.T) {
	p := signedProposal(t, fillKey(t, "A"), 0, 3, 0)
	h := newFillHarness(t, mapPool{}, &fakeFetcher{fail: errors.New("missing at every peer")})
	h.f.handle(p.compact.Encode())
	h.nothingDelivered(t)
	// Found nowhere but answered without error: Fill refuses the gap.
	h2 := newFillHarness(t, mapPool{}, &fakeFetcher{held: mapPool{}})
	h2.f.handle(p.compact.Encode())
	h2.nothingDelivered(t)
}

// TestFillOneFetchPerProposer: a proposer's newer proposal replaces its
// older one still being fetched, and does not touch another proposer's.
func TestFillOneFetchPerProposer(t *testing.T) {
	a, b := fillKey(t, "A"), fillKey(t, "B")
	older := signedProposal(t, a, 0, 2, 0)
	newer := signedProposal(t, a, 1, 2, 1)
	other := signedProposal(t, b, 0, 2, 2)
	held := mapPool{}
	for _, p := range []*signed{older, newer, other} {
		for _, tx := range p.Block.Transactions() {
			held[tx.Hash()] = tx
		}
	}
	net := &fakeFetcher{held: held, release: make(chan struct{})}
	h := newFillHarness(t, mapPool{}, net)
	h.f.handle(older.compact.Encode())
	h.f.handle(other.compact.Encode())
	h.f.handle(newer.compact.Encode())
	deadline := time.Now().Add(5 * time.Second)
	for {
		net.mu.Lock()
		aborted := net.aborted
		net.mu.Unlock()
		if aborted == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("older fetch not cancelled")
		}
		time.Sleep(time.Millisecond)
	}
	close(net.release)
	got := map[common.Hash]bool{}
	for range 2 {
		select {
		case raw := <-h.out:
			m, err := pos.DecodeMessage(raw, pos.DefaultMaxMessageSize)
			if err != nil {
				t.Fatal(err)
			}
			got[m.(*pos.Proposal).Block.Hash()] = true
		case <-time.After(5 * time.Second):
			t.Fatal("proposals not delivered")
		}
	}
	h.nothingDelivered(t)
	if !got[newer.Block.Hash()] || !got[other.Block.Hash()] || got[older.Block.Hash()] {
		t.Fatalf("delivered %v; want the newer and the other proposer's", got)
	}
}

// TestFillBudgetPerProposer: fills that need the network draw on a budget
// per proposer, so a validator signing compact proposals of rising rounds
// that name transactions no one holds makes this node ask its peers at
// most fetchBurst times, then fetchRate a second; another proposer's fills
// are not held back, and fills from the pool need no budget.
func TestFillBudgetPerProposer(t *testing.T) {
	a, b := fillKey(t, "A"), fillKey(t, "B")
	h := newFillHarness(t, mapPool{}, &fakeFetcher{held: mapPool{}})
	now := time.Unix(1000, 0)
	h.f.now = func() time.Time { return now }
	flood := func(from, to uint32) {
		for r := from; r < to; r++ {
			h.f.handle(signedProposal(t, a, r, 1, uint64(r)).compact.Encode())
			h.f.wait()
		}
	}
	flood(0, fetchBurst+10)
	if n := len(h.net.fetches()); n != fetchBurst {
		t.Fatalf("fetches for a flood of %d proposals: have %d, want %d", fetchBurst+10, n, fetchBurst)
	}
	// Another proposer's proposal is still fetched.
	other := signedProposal(t, b, 0, 2, 500)
	h.net.held = mapPool{}
	for _, tx := range other.Block.Transactions() {
		h.net.held[tx.Hash()] = tx
	}
	h.f.handle(other.compact.Encode())
	h.delivered(t, other)
	// A proposal of A's whose transactions are pooled is filled at once.
	pooled := signedProposal(t, a, 100, 2, 600)
	for _, tx := range pooled.Block.Transactions() {
		h.f.pool.(mapPool)[tx.Hash()] = tx
	}
	h.f.handle(pooled.compact.Encode())
	h.delivered(t, pooled)
	// A second later A has fetchRate more.
	before := len(h.net.fetches())
	now = now.Add(time.Second)
	flood(200, 200+2*fetchRate)
	if n := len(h.net.fetches()) - before; n != fetchRate {
		t.Fatalf("fetches a second later: have %d, want %d", n, fetchRate)
	}
	if h.f.denied != 10+fetchRate {
		t.Fatalf("denied fills: have %d, want %d", h.f.denied, 10+fetchRate)
	}
}

// TestCompactor: the node's own proposal goes out compact and its
// transactions are kept for fetches; other messages go out as they are.
func TestCompactor(t *testing.T) {
	p := signedProposal(t, fillKey(t, "A"), 0, 3, 0)
	for _, recent := range []*recentBlocks{nil, new(recentBlocks)} {
		if recent != nil {
			// Built here: the sealed block differs from the built one in
			// its hash only.
			h := p.Block.Header()
			h.Extra = []byte("unsealed")
			recent.add(types.NewBlockWithHeader(h).WithBody(types.Body{Transactions: p.Block.Transactions()}))
		}
		net := &fakeFetcher{}
		c := &compactor{net: net, chainID: fillChainID, key: fillKey(t, "A"), blocks: recent}
		for range 2 {
			if got := c.compact(p.Encode()); !bytes.Equal(got, p.compact.Encode()) {
				t.Fatal("proposal not sent compact")
			}
		}
		if net.kept != 3 {
			t.Fatalf("kept: have %d transactions, want 3 (once)", net.kept)
		}
	}
	vote := []byte{2, 0xc0}
	if got := (&compactor{net: &fakeFetcher{}}).compact(vote); !bytes.Equal(got, vote) {
		t.Fatal("a vote was changed")
	}
}

// TestFillKeepsLaterRound: while a proposer's later-round proposal is
// being fetched, its earlier-round one (late, or a Byzantine proposer's
// second list) neither cancels the fetch nor starts one of its own.
func TestFillKeepsLaterRound(t *testing.T) {
	a := fillKey(t, "A")
	later := signedProposal(t, a, 2, 2, 0)
	earlier := signedProposal(t, a, 1, 2, 1)
	held := mapPool{}
	for _, p := range []*signed{later, earlier} {
		for _, tx := range p.Block.Transactions() {
			held[tx.Hash()] = tx
		}
	}
	net := &fakeFetcher{held: held, release: make(chan struct{})}
	h := newFillHarness(t, mapPool{}, net)
	h.f.handle(later.compact.Encode())
	h.f.handle(earlier.compact.Encode())
	close(net.release)
	h.delivered(t, later)
	h.nothingDelivered(t)
	if n := len(net.fetches()); n != 1 || net.aborted != 0 {
		t.Fatalf("fetches %d (aborted %d), want 1 (0)", n, net.aborted)
	}
}

// TestFillReproposalFromRecentBlocks: a later round's re-proposal of a
// block this node filled before is filled again from that block, with no
// fetch, though the pool no longer holds its transactions.
func TestFillReproposalFromRecentBlocks(t *testing.T) {
	a := fillKey(t, "A")
	first := signedProposal(t, a, 0, 3, 0)
	held := mapPool{}
	for _, tx := range first.Block.Transactions() {
		held[tx.Hash()] = tx
	}
	net := &fakeFetcher{held: held}
	h := newFillHarness(t, mapPool{}, net)
	h.f.blocks = new(recentBlocks)
	h.f.handle(first.compact.Encode())
	h.delivered(t, first)

	// Round 1 re-proposes the same block (valid round 0).
	re := &pos.Proposal{Height: 1, Round: 1, ValidRound: 0, Block: first.Block}
	d := re.Digest(fillChainID)
	sig, err := crypto.Sign(d[:], a)
	if err != nil {
		t.Fatal(err)
	}
	copy(re.Signature[:], sig)
	c, err := re.Compact(fillChainID, a)
	if err != nil {
		t.Fatal(err)
	}
	h.f.handle(c.Encode())
	h.delivered(t, &signed{re, c})
	if n := len(net.fetches()); n != 1 {
		t.Fatalf("fetches: have %d, want 1 (the first fill only)", n)
	}
}
