package p2p

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestFetchTxs: a node fills a compact proposal from its peers: the
// proposer's pool first, then whatever another peer kept of a proposal,
// and it says which transactions no peer holds.
func TestFetchTxs(t *testing.T) {
	g := testGenesis(t)
	a := startNode(t, "A", newTestChain(t, g, "A"), nil, dropGossip)
	b := startNode(t, "B", newTestChain(t, g, "B"), nil, dropGossip, withPeers(a))
	c := startNode(t, "C", newTestChain(t, g, "C"), nil, dropGossip, withPeers(a, b))
	waitFor(t, "a full mesh of connections", func() bool { return a.PeerCount() == 2 && b.PeerCount() == 2 })

	d := addrOf(t, "D")
	inPool := []*types.Transaction{transfer(t, "A", 0, d), transfer(t, "A", 1, d), transfer(t, "C", 0, d)}
	for _, tx := range inPool {
		if err := a.tc.pool.Add(tx); err != nil {
			t.Fatalf("add to A: %v", err)
		}
	}
	// Kept by C only: transactions of a proposal C filled, no longer pooled.
	kept := []*types.Transaction{transfer(t, "B", 7, d), transfer(t, "B", 8, d)}
	c.KeepTxs(kept)
	nowhere := transfer(t, "B", 9, d)

	var want []common.Hash
	for _, tx := range append(append([]*types.Transaction{}, inPool...), kept...) {
		want = append(want, tx.Hash())
	}
	ctx := context.Background()
	got, err := b.FetchTxs(ctx, addrOf(t, "A"), want)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	for _, h := range want {
		if tx := got[h]; tx == nil || tx.Hash() != h {
			t.Fatalf("transaction %x: have %v", h, tx)
		}
	}

	got, err = b.FetchTxs(ctx, addrOf(t, "A"), append(want, nowhere.Hash()))
	if !errors.Is(err, ErrTxsMissing) {
		t.Fatalf("with one held nowhere: have %v, want %v", err, ErrTxsMissing)
	}
	if len(got) != len(want) || got[nowhere.Hash()] != nil {
		t.Fatalf("with one held nowhere: have %d transactions, want the %d held", len(got), len(want))
	}
	if n := counterValue(b.metrics.fetched); n != float64(2*len(want)) {
		t.Fatalf("fetched counter: have %v, want %d", n, 2*len(want))
	}
}

// TestFetchRequestBounds: a request above maxFetchHashes, or empty, is
// refused without an answer; the server then answers a valid request.
func TestFetchRequestBounds(t *testing.T) {
	g := testGenesis(t)
	a := startNode(t, "A", newTestChain(t, g, "A"), nil)
	b := startNode(t, "B", newTestChain(t, g, "B"), nil, withPeers(a))
	waitFor(t, "a connection", func() bool { return b.PeerCount() == 1 })
	tx := transfer(t, "A", 0, addrOf(t, "D"))
	if err := a.tc.pool.Add(tx); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, hashes := range map[string][]common.Hash{
		"too many": make([]common.Hash, maxFetchHashes+1),
		"none":     {},
	} {
		if _, err := roundTrip(ctx, b.host, a.host.ID(), BlockTxProtocol, testLimits().RequestTimeout, hashes, maxFetchResponse); !errors.Is(err, errRemote) {
			t.Errorf("%s: have %v, want %v", name, err, errRemote)
		}
	}
	payload, err := roundTrip(ctx, b.host, a.host.ID(), BlockTxProtocol, testLimits().RequestTimeout, []common.Hash{tx.Hash()}, maxFetchResponse)
	if err != nil {
		t.Fatal(err)
	}
	txs, err := decodeBlockTxs(payload, map[common.Hash]bool{tx.Hash(): true})
	if err != nil || len(txs) != 1 || txs[0].Hash() != tx.Hash() {
		t.Fatalf("answer: %v, %v", txs, err)
	}
}

// fixedPool answers GetMany from a map.
type fixedPool map[common.Hash]*types.Transaction

func (p fixedPool) GetMany(hashes []common.Hash) []*types.Transaction {
	out := make([]*types.Transaction, len(hashes))
	for i, h := range hashes {
		out[i] = p[h]
	}
	return out
}

// TestServeBlockTxsBounds: an answer stops at maxFetchBytes (with at least
// one transaction), keeps the order asked, and skips what is not held.
func TestServeBlockTxsBounds(t *testing.T) {
	d := addrOf(t, "D")
	pool := fixedPool{}
	var hashes []common.Hash
	data := []byte(strings.Repeat("x", 100<<10))
	signer := types.NewLondonSigner(big.NewInt(testChainID))
	for n := uint64(0); n < 40; n++ {
		tx, err := types.SignNewTx(testKey(t, "A"), signer, &types.DynamicFeeTx{
			ChainID: big.NewInt(testChainID), Nonce: n, To: &d, Gas: 3_000_000, GasFeeCap: big.NewInt(1), Data: data,
		})
		if err != nil {
			t.Fatal(err)
		}
		pool[tx.Hash()] = tx
		hashes = append(hashes, tx.Hash(), common.Hash{byte(n)}) // every other one unknown
	}
	code, msg, payload := serveBlockTxs(pool, newKeptTxStore(), hashes)
	if code != codeOK {
		t.Fatalf("code %d: %s", code, msg)
	}
	var raws [][]byte
	if err := rlp.DecodeBytes(payload, &raws); err != nil {
		t.Fatal(err)
	}
	size := 0
	for i, raw := range raws {
		size += len(raw)
		var tx types.Transaction
		if err := tx.UnmarshalBinary(raw); err != nil || tx.Hash() != hashes[2*i] {
			t.Fatalf("answer %d: %x, %v; want %x", i, tx.Hash(), err, hashes[2*i])
		}
	}
	if size > maxFetchBytes || len(raws) == 0 || len(raws) == 40 {
		t.Fatalf("answer of %d transactions, %d bytes; limit %d bytes", len(raws), size, maxFetchBytes)
	}
}

// TestDecodeBlockTxs: an answer may hold only transactions asked for, at
// most as many as asked, each of bounded size.
func TestDecodeBlockTxs(t *testing.T) {
	d := addrOf(t, "D")
	asked, other := transfer(t, "A", 0, d), transfer(t, "A", 1, d)
	enc := func(raws ...[]byte) []byte {
		b, err := rlp.EncodeToBytes(raws)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bin := func(tx *types.Transaction) []byte {
		b, err := tx.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ask := func() map[common.Hash]bool { return map[common.Hash]bool{asked.Hash(): true, other.Hash(): true} }
	tests := []struct {
		name    string
		payload []byte
		want    error
	}{
		{"the one asked", enc(bin(asked)), nil},
		{"none", enc(), nil},
		{"both asked", enc(bin(other), bin(asked)), nil},
		{"one not asked", enc(bin(transfer(t, "A", 2, d))), errNotAsked},
		{"one twice", enc(bin(asked), bin(asked)), errNotAsked},
		{"more than asked", enc(bin(asked), bin(other), bin(asked)), errBadResponse},
		{"oversized", enc(make([]byte, maxTxGossip+1)), errOversized},
		{"not a transaction", enc([]byte{0x02, 0xc0}), errMalformed},
		{"not a list", []byte{0x80}, errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeBlockTxs(tt.payload, ask())
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
		})
	}
}

// TestFetchPastByzantinePeers: a peer that never answers is given up
// after fetchPeerTimeout and the next peer asked; a peer that answers one
// transaction per request is asked once per transaction, no more.
func TestFetchPastByzantinePeers(t *testing.T) {
	g := testGenesis(t)
	a := startNode(t, "A", newTestChain(t, g, "A"), nil)
	b := startNode(t, "B", newTestChain(t, g, "B"), nil, withPeers(a))
	c := startNode(t, "C", newTestChain(t, g, "C"), nil, withPeers(a, b))
	waitFor(t, "a full mesh of connections", func() bool { return a.PeerCount() == 2 && b.PeerCount() == 2 })
	d := addrOf(t, "D")
	var txs []*types.Transaction
	var hashes []common.Hash
	for n := uint64(0); n < 5; n++ {
		tx := transfer(t, "C", n, d)
		txs, hashes = append(txs, tx), append(hashes, tx.Hash())
	}
	c.KeepTxs(txs)

	// A holds the stream open and never answers.
	a.host.SetStreamHandler(BlockTxProtocol, func(st network.Stream) {
		<-a.ctx.Done()
		_ = st.Reset()
	})
	ctx, cancel := context.WithTimeout(context.Background(), fetchPeerTimeout+3*time.Second)
	defer cancel()
	got, err := b.FetchTxs(ctx, addrOf(t, "A"), hashes)
	if err != nil || len(got) != len(hashes) {
		t.Fatalf("past a silent proposer: %d of %d, %v", len(got), len(hashes), err)
	}

	// A answers each request with one transaction it was asked for.
	var requests atomic.Int32
	a.host.SetStreamHandler(BlockTxProtocol, func(st network.Stream) {
		serveRequest(st, time.Now().Add(time.Second), func(st network.Stream, _ peer.ID) (uint64, string, rlp.RawValue) {
			requests.Add(1)
			raw, err := readFrame(st, maxFetchRequest)
			if err != nil {
				return codeBadRequest, err.Error(), nil
			}
			var asked []common.Hash
			if err := rlp.DecodeBytes(raw, &asked); err != nil || len(asked) == 0 {
				return codeBadRequest, "bad request", nil
			}
			for _, tx := range txs {
				if tx.Hash() == asked[0] {
					return serveBlockTxs(fixedPool{tx.Hash(): tx}, newKeptTxStore(), asked[:1])
				}
			}
			return codeOK, "", []byte{0xc0}
		}, a.log, "trickle")
	})
	got, err = b.FetchTxs(context.Background(), addrOf(t, "A"), hashes)
	if err != nil || len(got) != len(hashes) {
		t.Fatalf("from a trickling proposer: %d of %d, %v", len(got), len(hashes), err)
	}
	// One request per transaction it delivers; fewer only if a request
	// failed under load and the rest came from C.
	if n := requests.Load(); n < 1 || n > int32(len(hashes)) {
		t.Fatalf("requests to the trickling peer: have %d, want 1 to %d", n, len(hashes))
	}
}
