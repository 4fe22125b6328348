package p2p

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/arbiter-chain/arbiter/node/chain"
)

// noTD is a chain that lost its head's total difficulty.
type noTD struct{ *fakeChain }

func (noTD) GetTD(common.Hash, uint64) *big.Int { return nil }

func TestServe(t *testing.T) {
	c := newFakeChain().extend(t, 300, "a")
	blockSize := len(mustRLP(t, c.GetBlockByNumber(1)))
	genesis := fakeGenesis().Hash()
	tests := []struct {
		name     string
		src      blockSource
		req      request
		limits   Limits
		code     uint64
		from     uint64
		want     int // headers or blocks in the answer
		checkLen bool
	}{
		{"headers", c, request{kindHeaders, 1, 10}, Limits{}, codeOK, 1, 10, true},
		{"headers from genesis", c, request{kindHeaders, 0, 1}, Limits{}, codeOK, 0, 1, true},
		{"headers clamped by the head", c, request{kindHeaders, 290, 5000}, Limits{}, codeOK, 290, 11, true},
		{"headers clamped by the limit", c, request{kindHeaders, 1, 5000}, Limits{MaxHeadersPerResponse: 100}, codeOK, 1, 100, true},
		{"headers past the head", c, request{kindHeaders, 301, 10}, Limits{}, codeOK, 301, 0, true},
		{"headers at the top of uint64", c, request{kindHeaders, ^uint64(0) - 1, 10}, Limits{}, codeOK, ^uint64(0) - 1, 0, true},
		{"blocks", c, request{kindBlocks, 1, 10}, Limits{}, codeOK, 1, 10, true},
		{"blocks clamped by count", c, request{kindBlocks, 1, 1000}, Limits{}, codeOK, 1, DefaultMaxBlocksPerResponse, true},
		{"blocks clamped by bytes", c, request{kindBlocks, 1, 100}, Limits{MaxResponseBytes: 3*blockSize + 1}, codeOK, 1, 3, true},
		{"one block even over the byte limit", c, request{kindBlocks, 1, 100}, Limits{MaxResponseBytes: 1}, codeOK, 1, 1, true},
		{"blocks past the head", c, request{kindBlocks, 500, 10}, Limits{}, codeOK, 500, 0, true},
		{"unknown kind", c, request{Kind: 7}, Limits{}, codeBadRequest, 0, 0, false},
		{"status without total difficulty", noTD{c}, request{Kind: kindStatus}, Limits{}, codeUnavailable, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.limits.withDefaults()
			if tt.limits.MaxResponseBytes > 0 {
				// The server's logic at byte limits far below the floor
				// (minResponseBytes), with the test's small blocks.
				l.MaxResponseBytes = tt.limits.MaxResponseBytes
			}
			code, msg, payload := serve(tt.src, genesis, tt.req, l)
			if code != tt.code {
				t.Fatalf("code: have %d (%s), want %d", code, msg, tt.code)
			}
			if !tt.checkLen {
				return
			}
			var n int
			if tt.req.Kind == kindHeaders {
				hs, err := decodeHeaders(payload, tt.from, tt.req.Count)
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				n = len(hs)
			} else {
				bs, _, err := decodeBlocks(payload, tt.from, tt.req.Count)
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				n = len(bs)
			}
			if n != tt.want {
				t.Fatalf("items: have %d, want %d", n, tt.want)
			}
		})
	}
}

func TestServeStatus(t *testing.T) {
	c := newFakeChain().extend(t, 42, "a")
	code, _, payload := serve(c, fakeGenesis().Hash(), request{Kind: kindStatus}, Limits{}.withDefaults())
	if code != codeOK {
		t.Fatalf("code: have %d, want %d", code, codeOK)
	}
	st, err := decodeStatus(payload)
	if err != nil {
		t.Fatal(err)
	}
	want := statusMsg{Number: 42, Hash: c.CurrentBlock().Hash(), TD: big.NewInt(43), Genesis: fakeGenesis().Hash()}
	if st.Number != want.Number || st.Hash != want.Hash || st.TD.Cmp(want.TD) != 0 || st.Genesis != want.Genesis {
		t.Fatalf("status: have %+v, want %+v", st, want)
	}
}

// TestResponseLimits checks that the largest answers a server can give fit
// the frames clients accept.
func TestResponseLimits(t *testing.T) {
	l := Limits{MaxBlocksPerResponse: 1 << 20, MaxHeadersPerResponse: 1 << 20, MaxResponseBytes: 1 << 30}.withDefaults()
	if l.MaxBlocksPerResponse > maxBlocksPerResponse || l.MaxHeadersPerResponse > maxHeadersPerResponse {
		t.Fatalf("limits not capped: %+v", l)
	}
	if l.MaxResponseBytes > maxResponseBytes || chain.MaxBlockSize > maxResponseBytes {
		t.Fatalf("MaxResponseBytes %d or one block %d above the payload a client reads, %d", l.MaxResponseBytes, chain.MaxBlockSize, maxResponseBytes)
	}
	h := &types.Header{Number: big.NewInt(1), Difficulty: big.NewInt(1), Extra: make([]byte, 4096), BaseFee: big.NewInt(1)}
	if size := len(mustRLP(t, h)); size > maxHeaderSize {
		t.Fatalf("header with the largest extra: have %d bytes, want at most %d", size, maxHeaderSize)
	}
	hs := make([]*types.Header, maxHeadersPerResponse)
	for i := range hs {
		hs[i] = h
	}
	resp, err := encodeResponse(codeOK, "", mustRLP(t, hs))
	if err != nil {
		t.Fatal(err)
	}
	if limit := maxResponseFrame(request{Kind: kindHeaders, Count: maxHeadersPerResponse}); len(resp) > limit {
		t.Fatalf("largest headers response: have %d bytes, want at most %d", len(resp), limit)
	}
	st, _ := rlp.EncodeToBytes(&statusMsg{Number: ^uint64(0), TD: new(big.Int).Lsh(big.NewInt(1), 256)})
	if resp, _ := encodeResponse(codeOK, "", st); len(resp) > maxStatusFrame {
		t.Fatalf("largest status response: have %d bytes, want at most %d", len(resp), maxStatusFrame)
	}
}

func TestBucket(t *testing.T) {
	t0 := time.Unix(0, 0)
	b := &bucket{tokens: 3, last: t0}
	steps := []struct {
		at   time.Duration
		want bool
	}{
		{0, true}, {0, true}, {0, true}, // the burst
		{0, false},                      // empty
		{100 * time.Millisecond, false}, // 0.5 token back at 5/s
		{200 * time.Millisecond, true},  // one token back
		{200 * time.Millisecond, false},
		{time.Hour, true}, // refilled, but never past the burst
		{time.Hour, true},
		{time.Hour, true},
		{time.Hour, false},
	}
	for i, s := range steps {
		if have := b.take(t0.Add(s.at), 5, 3); have != s.want {
			t.Fatalf("step %d at %v: have %v, want %v", i, s.at, have, s.want)
		}
	}
}

func TestLimiterPerPeer(t *testing.T) {
	l := newLimiter(1, 2)
	now := time.Unix(0, 0)
	a, b := peer.ID("a"), peer.ID("b")
	for i, want := range []bool{true, true, false} {
		if have := l.allow(a, now); have != want {
			t.Fatalf("a request %d: have %v, want %v", i, have, want)
		}
	}
	if !l.allow(b, now) {
		t.Fatalf("b limited by a's requests")
	}
	l.forget(a)
	if !l.allow(a, now) {
		t.Fatalf("a still limited after forget")
	}
}

// TestHonestAnswersNotShort: a server configured with the smallest limits
// it takes still gives answers that no client counts as short (isShort),
// whatever the size of its blocks: otherwise a client would take an honest
// server for one that starves it.
func TestHonestAnswersNotShort(t *testing.T) {
	l := Limits{MaxResponseBytes: 64 << 10, MaxBlocksPerResponse: 2}.withDefaults()
	if l.MaxResponseBytes < minResponseBytes || l.MaxBlocksPerResponse < shortAnswerBlocks {
		t.Fatalf("limits below the floors: %d bytes, %d blocks", l.MaxResponseBytes, l.MaxBlocksPerResponse)
	}
	genesis := fakeGenesis()
	for _, tt := range []struct{ size, count int }{
		{100, 64}, {100 << 10, 40}, {300 << 10, 40}, {700 << 10, 40}, {1100 << 10, 40},
	} {
		c := newFakeChainFrom(genesis)
		bs := make([]*types.Block, tt.count)
		parent := genesis
		for i := range bs {
			bs[i] = types.NewBlockWithHeader(&types.Header{ParentHash: parent.Hash(),
				Number: big.NewInt(int64(i + 1)), Difficulty: big.NewInt(1), Extra: make([]byte, tt.size)})
			parent = bs[i]
		}
		if _, err := c.InsertChain(bs, nil); err != nil {
			t.Fatal(err)
		}
		code, msg, payload := serve(c, genesis.Hash(), request{kindBlocks, 1, uint64(tt.count)}, l)
		if code != codeOK {
			t.Fatalf("blocks of %d bytes: code %d (%s)", tt.size, code, msg)
		}
		got, _, err := decodeBlocks(payload, 1, uint64(tt.count))
		if err != nil {
			t.Fatal(err)
		}
		if isShort(got, uint64(tt.count)) {
			t.Fatalf("blocks of %d bytes: an answer of %d of %d blocks is short", tt.size, len(got), tt.count)
		}
	}
}
