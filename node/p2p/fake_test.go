package p2p

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/arbiter-chain/arbiter/consensus"
)

// fakeChain is an in-memory chain of empty header-only blocks with fork
// choice by total difficulty. It serves the sync protocol and imports
// like the real chain, without execution.
type fakeChain struct {
	mu     sync.Mutex
	byHash map[common.Hash]*types.Block
	td     map[common.Hash]*big.Int
	canon  []*types.Block
}

func fakeGenesis() *types.Block {
	return types.NewBlockWithHeader(&types.Header{Number: new(big.Int), Difficulty: big.NewInt(1), Extra: []byte("fake genesis")})
}

func newFakeChain() *fakeChain { return newFakeChainFrom(fakeGenesis()) }

func newFakeChainFrom(g *types.Block) *fakeChain {
	return &fakeChain{
		byHash: map[common.Hash]*types.Block{g.Hash(): g},
		td:     map[common.Hash]*big.Int{g.Hash(): big.NewInt(1)},
		canon:  []*types.Block{g},
	}
}

// build returns n blocks on parent, each of difficulty diff, tagged so that
// different branches differ.
func (c *fakeChain) build(parent *types.Block, n int, tag string, diff int64) []*types.Block {
	out := make([]*types.Block, n)
	for i := range out {
		h := &types.Header{
			ParentHash: parent.Hash(),
			Number:     new(big.Int).Add(parent.Number(), common.Big1),
			Difficulty: big.NewInt(diff),
			Extra:      []byte(tag),
		}
		out[i] = types.NewBlockWithHeader(h)
		parent = out[i]
	}
	return out
}

// extend builds n blocks on the head and imports them.
func (c *fakeChain) extend(t testing.TB, n int, tag string) *fakeChain {
	t.Helper()
	if _, err := c.InsertChain(c.build(c.CurrentBlock(), n, tag, 1), nil); err != nil {
		t.Fatalf("extend fake chain: %v", err)
	}
	return c
}

func (c *fakeChain) CurrentBlock() *types.Block {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.canon[len(c.canon)-1]
}

func (c *fakeChain) GetBlockByNumber(n uint64) *types.Block {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n >= uint64(len(c.canon)) {
		return nil
	}
	return c.canon[n]
}

func (c *fakeChain) GetHeaderByNumber(n uint64) *types.Header {
	if b := c.GetBlockByNumber(n); b != nil {
		return b.Header()
	}
	return nil
}

func (c *fakeChain) GetTD(hash common.Hash, _ uint64) *big.Int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.td[hash]
}

// Certificate returns nil: the fake chain's engine certifies nothing.
func (c *fakeChain) Certificate(common.Hash, uint64) []byte { return nil }

// PrefetchSignatures does nothing: the fake chain's blocks carry no
// signatures.
func (c *fakeChain) PrefetchSignatures([]*types.Block, <-chan struct{}) {}

func (c *fakeChain) InsertChain(bs []*types.Block, _ []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, b := range bs {
		parent := c.byHash[b.ParentHash()]
		if parent == nil || parent.NumberU64()+1 != b.NumberU64() {
			return i, fmt.Errorf("%w: block %d", consensus.ErrUnknownAncestor, b.NumberU64())
		}
		td := new(big.Int).Add(c.td[parent.Hash()], b.Difficulty())
		c.byHash[b.Hash()], c.td[b.Hash()] = b, td
		head := c.canon[len(c.canon)-1]
		if td.Cmp(c.td[head.Hash()]) <= 0 {
			continue
		}
		// Walk the new branch back to the canonical chain, then rewrite
		// the canonical index from there.
		var branch []*types.Block
		x := b
		for n := x.NumberU64(); n >= uint64(len(c.canon)) || c.canon[n].Hash() != x.Hash(); n = x.NumberU64() {
			branch = append(branch, x)
			x = c.byHash[x.ParentHash()]
		}
		canon := c.canon[:x.NumberU64()+1]
		for j := len(branch) - 1; j >= 0; j-- {
			canon = append(canon, branch[j])
		}
		c.canon = canon
	}
	return len(bs), nil
}

// memFetcher answers sync requests from in-memory chains through the same
// encoding and decoding as the stream protocol.
type memFetcher struct {
	genesis common.Hash
	limits  Limits
	peers   map[peer.ID]blockSource

	mu       sync.Mutex
	requests map[uint64]int // by kind
	// tamper, if set, rewrites a response payload before it is decoded.
	tamper func(req request, payload []byte) []byte
}

func newMemFetcher(genesis common.Hash, peers map[peer.ID]blockSource) *memFetcher {
	return &memFetcher{genesis: genesis, limits: Limits{}.withDefaults(), peers: peers, requests: make(map[uint64]int)}
}

func (f *memFetcher) roundTrip(p peer.ID, req request) ([]byte, error) {
	f.mu.Lock()
	f.requests[req.Kind]++
	f.mu.Unlock()
	src := f.peers[p]
	if src == nil {
		return nil, fmt.Errorf("no peer %s", p)
	}
	raw, err := rlp.EncodeToBytes(&req)
	if err != nil {
		return nil, err
	}
	if req, err = decodeRequest(raw); err != nil {
		return nil, err
	}
	code, msg, payload := serve(src, f.genesis, req, f.limits)
	if f.tamper != nil && code == codeOK {
		payload = f.tamper(req, payload)
	}
	resp, err := encodeResponse(code, msg, payload)
	if err != nil {
		return nil, err
	}
	return decodeResponse(resp)
}

func (f *memFetcher) count(kind uint64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[kind]
}

func (f *memFetcher) status(_ context.Context, p peer.ID) (*statusMsg, error) {
	b, err := f.roundTrip(p, request{Kind: kindStatus})
	if err != nil {
		return nil, err
	}
	return decodeStatus(b)
}

func (f *memFetcher) headers(_ context.Context, p peer.ID, from, count uint64) ([]*types.Header, error) {
	b, err := f.roundTrip(p, request{Kind: kindHeaders, From: from, Count: count})
	if err != nil {
		return nil, err
	}
	return decodeHeaders(b, from, count)
}

func (f *memFetcher) blocks(_ context.Context, p peer.ID, from, count uint64) ([]*types.Block, []byte, error) {
	b, err := f.roundTrip(p, request{Kind: kindBlocks, From: from, Count: count})
	if err != nil {
		return nil, nil, err
	}
	return decodeBlocks(b, from, count)
}
