package pow

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"runtime"
	"sync"
	"testing"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// mineChild prepares and seals a child of parent dt seconds later with e.
func mineChild(t testing.TB, e *Engine, chain *testChain, parent *types.Header, dt uint64, edit func(*types.Header)) *types.Header {
	t.Helper()
	h := childOf(parent, dt)
	if edit != nil {
		edit(h)
	}
	if err := e.Prepare(chain, h, parent); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	b, err := e.Seal(context.Background(), chain, types.NewBlockWithHeader(h))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return b.Header()
}

func TestName(t *testing.T) {
	if got := New(testConfig, testBlockTime, nil).Name(); got != "pow" {
		t.Fatalf("Name() = %q, want pow", got)
	}
}

func TestSealVerifyRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		threads int
		edit    func(*types.Header)
		blocks  int
	}{
		{name: "legacy header, one thread", threads: 1, blocks: 5},
		{name: "legacy header, four threads", threads: 4, blocks: 5},
		{name: "all optional fields", threads: 2, edit: func(h *types.Header) { withAllOptional(h) }, blocks: 3},
		{name: "london header", threads: 1, edit: func(h *types.Header) { h.BaseFee = big.NewInt(7) }, blocks: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := newKey(t)
			e := newTestEngine(key, WithThreads(tt.threads))
			verifier := newTestEngine(nil) // a separate node that only verifies
			genesis := testGenesis(e)
			chain := newTestChain(genesis, e.Address())
			parent := genesis
			for i := range tt.blocks {
				h := mineChild(t, e, chain, parent, uint64(i%3)*testBlockTimeSeconds(), tt.edit)
				if err := verifier.VerifyHeader(chain, h, parent); err != nil {
					t.Fatalf("block %d: VerifyHeader: %v", i+1, err)
				}
				author, err := verifier.Author(h)
				if err != nil || author != e.Address() {
					t.Fatalf("block %d: Author = %v, %v; want %v", i+1, author, err, e.Address())
				}
				if h.Coinbase != e.Address() || len(h.Extra) != signatureLength || h.UncleHash != types.EmptyUncleHash {
					t.Fatalf("block %d: engine fields not set: coinbase %v extra %d uncle %x", i+1, h.Coinbase, len(h.Extra), h.UncleHash)
				}
				chain.insert(h)
				parent = h
			}
		})
	}
}

func testBlockTimeSeconds() uint64 { return uint64(testBlockTime.Seconds()) }

func TestVerifyHeaderRejects(t *testing.T) {
	minerKey, otherMemberKey, outsiderKey := newKey(t), newKey(t), newKey(t)
	e := newTestEngine(minerKey)
	genesis := testGenesis(e)
	chain := newTestChain(genesis, e.Address(), crypto.PubkeyToAddress(otherMemberKey.PublicKey))
	parent := mineChild(t, e, chain, genesis, 3, nil)
	chain.insert(parent)

	tests := []struct {
		name string
		// edit breaks a freshly mined child of parent.
		edit func(t *testing.T, h *types.Header)
		want []error
	}{
		{
			name: "tampered nonce",
			edit: func(t *testing.T, h *types.Header) {
				h.Nonce[7] ^= 1
			},
			want: []error{errInvalidMixDigest, consensus.ErrInvalidSeal},
		},
		{
			name: "tampered mix digest",
			edit: func(t *testing.T, h *types.Header) { h.MixDigest[0] ^= 0x80 },
			want: []error{errInvalidMixDigest, consensus.ErrInvalidSeal},
		},
		{
			name: "consistent mix digest that misses the target",
			edit: func(t *testing.T, h *types.Header) {
				sh, tgt := SealHash(h), newTarget(h.Difficulty)
				for n := uint64(0); ; n++ {
					h.Nonce = types.EncodeNonce(n)
					if h.MixDigest = mixDigest(sh, h.Nonce); !tgt.met(&h.MixDigest) {
						return
					}
				}
			},
			want: []error{errInsufficientWork, consensus.ErrInvalidSeal},
		},
		{
			name: "tampered extra (recovery id flipped)",
			edit: func(t *testing.T, h *types.Header) { h.Extra[64] ^= 1 },
			want: []error{errCoinbaseMismatch, consensus.ErrInvalidSeal},
		},
		{
			name: "extra signature with high S",
			edit: func(t *testing.T, h *types.Header) {
				n := crypto.S256().Params().N
				s := new(big.Int).SetBytes(h.Extra[32:64])
				new(big.Int).Sub(n, s).FillBytes(h.Extra[32:64])
				h.Extra[64] ^= 1
			},
			want: []error{errInvalidSignature, consensus.ErrInvalidSeal},
		},
		{
			name: "extra signature with V=27",
			edit: func(t *testing.T, h *types.Header) { h.Extra[64] += 27 },
			want: []error{errInvalidSignature, consensus.ErrInvalidSeal},
		},
		{
			name: "extra all zero (unsigned placeholder)",
			edit: func(t *testing.T, h *types.Header) { h.Extra = make([]byte, signatureLength) },
			want: []error{errInvalidSignature, consensus.ErrInvalidSeal},
		},
		{
			name: "extra too short",
			edit: func(t *testing.T, h *types.Header) { h.Extra = h.Extra[:64] },
			want: []error{errExtraLength, consensus.ErrInvalidSeal},
		},
		{
			name: "extra too long",
			edit: func(t *testing.T, h *types.Header) { h.Extra = append(h.Extra, 0) },
			want: []error{errExtraLength, consensus.ErrInvalidSeal},
		},
		{
			name: "extra empty",
			edit: func(t *testing.T, h *types.Header) { h.Extra = nil },
			want: []error{errExtraLength, consensus.ErrInvalidSeal},
		},
		{
			name: "sealed by a non-member",
			edit: func(t *testing.T, h *types.Header) {
				h.Coinbase = crypto.PubkeyToAddress(outsiderKey.PublicKey)
				reseal(t, e, h, parent, outsiderKey)
			},
			want: []error{consensus.ErrNotMember},
		},
		{
			name: "coinbase is another member than the signer",
			edit: func(t *testing.T, h *types.Header) {
				h.Coinbase = crypto.PubkeyToAddress(otherMemberKey.PublicKey)
				reseal(t, e, h, parent, minerKey)
			},
			want: []error{errCoinbaseMismatch, consensus.ErrInvalidSeal},
		},
		{
			name: "signature by another member over the same seal hash",
			edit: func(t *testing.T, h *types.Header) {
				sh := SealHash(h)
				sig, err := crypto.Sign(sh[:], otherMemberKey)
				if err != nil {
					t.Fatal(err)
				}
				h.Extra = sig
			},
			want: []error{errCoinbaseMismatch, consensus.ErrInvalidSeal},
		},
		{
			name: "wrong difficulty (properly sealed)",
			edit: func(t *testing.T, h *types.Header) {
				h.Difficulty = new(big.Int).Add(h.Difficulty, common.Big1)
				forgeSeal(t, h, minerKey)
			},
			want: []error{consensus.ErrInvalidDifficulty},
		},
		{
			name: "nil difficulty",
			edit: func(t *testing.T, h *types.Header) { h.Difficulty = nil },
			want: []error{consensus.ErrInvalidDifficulty},
		},
		{
			name: "number skips one (properly sealed)",
			edit: func(t *testing.T, h *types.Header) {
				h.Number = new(big.Int).Add(h.Number, common.Big1)
				reseal(t, e, h, parent, minerKey)
			},
			want: []error{consensus.ErrInvalidNumber},
		},
		{
			name: "number equals parent",
			edit: func(t *testing.T, h *types.Header) { h.Number = new(big.Int).Set(parent.Number) },
			want: []error{consensus.ErrInvalidNumber},
		},
		{
			name: "nil number",
			edit: func(t *testing.T, h *types.Header) { h.Number = nil },
			want: []error{consensus.ErrInvalidNumber},
		},
		{
			name: "parent hash is not the given parent",
			edit: func(t *testing.T, h *types.Header) {
				h.ParentHash = genesis.Hash()
				reseal(t, e, h, parent, minerKey)
			},
			want: []error{consensus.ErrUnknownAncestor},
		},
		{
			name: "timestamp before parent (properly sealed)",
			edit: func(t *testing.T, h *types.Header) {
				h.Time = parent.Time - 1
				reseal(t, e, h, parent, minerKey)
			},
			want: []error{consensus.ErrInvalidTimestamp},
		},
		{
			name: "timestamp 16s ahead of clock (properly sealed)",
			edit: func(t *testing.T, h *types.Header) {
				h.Time = uint64(testNow.Unix()) + 16
				reseal(t, e, h, parent, minerKey)
			},
			want: []error{consensus.ErrFutureBlock},
		},
		{
			name: "uncle hash set (properly sealed)",
			edit: func(t *testing.T, h *types.Header) {
				h.UncleHash = common.HexToHash("0x1234")
				reseal(t, e, h, parent, minerKey)
			},
			want: []error{errUnclesNotAllowed, consensus.ErrInvalidSeal},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := types.CopyHeader(mineChild(t, e, chain, parent, 2, nil))
			if err := e.VerifyHeader(chain, h, parent); err != nil {
				t.Fatalf("untouched header rejected: %v", err)
			}
			tt.edit(t, h)
			// A fresh verify-only engine, so no cached signer helps.
			err := newTestEngine(nil).VerifyHeader(chain, h, parent)
			if err == nil {
				t.Fatal("VerifyHeader accepted the broken header")
			}
			for _, want := range tt.want {
				if !errors.Is(err, want) {
					t.Errorf("VerifyHeader = %v; want errors.Is %v", err, want)
				}
			}
			t.Logf("error: %v", err)
		})
	}
}

// TestVerifyHeaderDistinctErrors checks that the rejection paths really are
// told apart: each private seal error matches only itself.
func TestVerifyHeaderDistinctErrors(t *testing.T) {
	errs := []error{errNoKey, errUnclesNotAllowed, errExtraLength, errInvalidSignature, errCoinbaseMismatch, errInvalidMixDigest, errInsufficientWork}
	for i, a := range errs {
		for j, b := range errs {
			if (i == j) != errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, errors.Is(a, b))
			}
		}
	}
}

func TestVerifyHeaderAccepts(t *testing.T) {
	key := newKey(t)
	e := newTestEngine(key)
	genesis := testGenesis(e)
	chain := newTestChain(genesis, e.Address())
	tests := []struct {
		name string
		time uint64
	}{
		{name: "same second as parent", time: genesis.Time},
		{name: "exactly on target", time: genesis.Time + testBlockTimeSeconds()},
		{name: "very late", time: genesis.Time + 90},
		{name: "15s ahead of clock", time: uint64(testNow.Unix()) + 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := childOf(genesis, 0)
			h.Time = tt.time
			if err := e.Prepare(chain, h, genesis); err != nil {
				t.Fatal(err)
			}
			b, err := e.Seal(context.Background(), chain, types.NewBlockWithHeader(h))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.VerifyHeader(chain, b.Header(), genesis); err != nil {
				t.Fatalf("VerifyHeader: %v", err)
			}
		})
	}
}

// TestTamperedFieldInvalidatesSeal changes one non-seal field of a valid
// header at a time and expects the proof of work to break.
func TestTamperedFieldInvalidatesSeal(t *testing.T) {
	key := newKey(t)
	e := newTestEngine(key)
	genesis := testGenesis(e)
	chain := newTestChain(genesis, e.Address())
	sealed := mineChild(t, e, chain, genesis, 4, func(h *types.Header) { withAllOptional(h) })
	if err := e.VerifyHeader(chain, sealed, genesis); err != nil {
		t.Fatal(err)
	}
	hash := func(s string) *common.Hash { h := common.HexToHash(s); return &h }
	u64 := func(v uint64) *uint64 { return &v }
	tests := []struct {
		name string
		edit func(h *types.Header)
	}{
		{"Root", func(h *types.Header) { h.Root[31] ^= 1 }},
		{"TxHash", func(h *types.Header) { h.TxHash[0] ^= 1 }},
		{"ReceiptHash", func(h *types.Header) { h.ReceiptHash[0] ^= 1 }},
		{"Bloom", func(h *types.Header) { h.Bloom[100] ^= 1 }},
		{"GasLimit", func(h *types.Header) { h.GasLimit++ }},
		{"GasUsed", func(h *types.Header) { h.GasUsed++ }},
		{"BaseFee changed", func(h *types.Header) { h.BaseFee = new(big.Int).Add(h.BaseFee, common.Big1) }},
		{"BaseFee removed", func(h *types.Header) { h.BaseFee = nil }},
		{"BaseFee zeroed", func(h *types.Header) { h.BaseFee = new(big.Int) }},
		{"WithdrawalsHash changed", func(h *types.Header) { h.WithdrawalsHash = hash("0xff") }},
		{"WithdrawalsHash removed", func(h *types.Header) { h.WithdrawalsHash = nil }},
		{"BlobGasUsed changed", func(h *types.Header) { h.BlobGasUsed = u64(*h.BlobGasUsed + 1) }},
		{"ExcessBlobGas removed (was zero)", func(h *types.Header) { h.ExcessBlobGas = nil }},
		{"ParentBeaconRoot changed", func(h *types.Header) { h.ParentBeaconRoot = hash("0xff") }},
		{"RequestsHash changed", func(h *types.Header) { h.RequestsHash = hash("0xff") }},
		{"BlockAccessListHash removed", func(h *types.Header) { h.BlockAccessListHash = nil }},
		{"SlotNumber changed", func(h *types.Header) { h.SlotNumber = u64(*h.SlotNumber + 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := types.CopyHeader(sealed)
			tt.edit(h)
			err := newTestEngine(nil).VerifyHeader(chain, h, genesis)
			if !errors.Is(err, errInvalidMixDigest) {
				t.Fatalf("VerifyHeader = %v; want %v", err, errInvalidMixDigest)
			}
		})
	}
}

func TestSealCancellation(t *testing.T) {
	tests := []struct {
		name    string
		threads int
		early   bool // cancel before Seal starts
	}{
		{name: "cancelled before start", threads: 1, early: true},
		{name: "cancelled while mining, one thread", threads: 1},
		{name: "cancelled while mining, four threads", threads: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine(newKey(t), WithThreads(tt.threads))
			genesis := testGenesis(e)
			chain := newTestChain(genesis, e.Address())
			h := childOf(genesis, 1)
			if err := e.Prepare(chain, h, genesis); err != nil {
				t.Fatal(err)
			}
			h.Difficulty = new(big.Int).Lsh(common.Big1, 200) // unsolvable in practice
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.early {
				cancel()
			} else {
				// Cancel once mining has demonstrably started.
				go func() {
					for e.hashes.Load() == 0 && ctx.Err() == nil {
						runtime.Gosched()
					}
					cancel()
				}()
			}
			b, err := e.Seal(ctx, chain, types.NewBlockWithHeader(h))
			if !errors.Is(err, context.Canceled) || b != nil {
				t.Fatalf("Seal = %v, %v; want nil, context.Canceled", b, err)
			}
		})
	}
}

func TestSealAndPrepareNeedKey(t *testing.T) {
	e := New(testConfig, testBlockTime, nil)
	genesis := testGenesis(e)
	chain := newTestChain(genesis)
	h := childOf(genesis, 1)
	if err := e.Prepare(chain, h, genesis); !errors.Is(err, errNoKey) {
		t.Errorf("Prepare = %v; want %v", err, errNoKey)
	}
	if _, err := e.Seal(context.Background(), chain, types.NewBlockWithHeader(h)); !errors.Is(err, errNoKey) {
		t.Errorf("Seal = %v; want %v", err, errNoKey)
	}
	if e.Address() != (common.Address{}) {
		t.Errorf("Address() = %v; want zero", e.Address())
	}
}

func TestSealRejectsUnpreparedHeader(t *testing.T) {
	e := newTestEngine(newKey(t))
	genesis := testGenesis(e)
	chain := newTestChain(genesis, e.Address())
	tests := []struct {
		name string
		edit func(h *types.Header)
		want error
	}{
		{"foreign coinbase", func(h *types.Header) { h.Coinbase = common.HexToAddress("0x1") }, errCoinbaseMismatch},
		{"nil difficulty", func(h *types.Header) { h.Difficulty = nil }, consensus.ErrInvalidDifficulty},
		{"zero difficulty", func(h *types.Header) { h.Difficulty = new(big.Int) }, consensus.ErrInvalidDifficulty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := childOf(genesis, 1)
			if err := e.Prepare(chain, h, genesis); err != nil {
				t.Fatal(err)
			}
			tt.edit(h)
			if _, err := e.Seal(context.Background(), chain, types.NewBlockWithHeader(h)); !errors.Is(err, tt.want) {
				t.Fatalf("Seal = %v; want %v", err, tt.want)
			}
		})
	}
}

func TestPrepare(t *testing.T) {
	e := newTestEngine(newKey(t))
	genesis := testGenesis(e)
	chain := newTestChain(genesis, e.Address())
	tests := []struct {
		name     string
		time     uint64
		wantTime uint64
	}{
		{name: "normal", time: genesis.Time + 7, wantTime: genesis.Time + 7},
		{name: "clock behind parent raises time", time: genesis.Time - 3, wantTime: genesis.Time},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := childOf(genesis, 0)
			h.Time = tt.time
			h.Extra = []byte("junk")
			h.UncleHash = common.HexToHash("0x1")
			h.Nonce = types.EncodeNonce(9)
			if err := e.Prepare(chain, h, genesis); err != nil {
				t.Fatal(err)
			}
			switch {
			case h.Time != tt.wantTime:
				t.Errorf("Time = %d, want %d", h.Time, tt.wantTime)
			case h.Difficulty.Cmp(e.CalcDifficulty(tt.wantTime, genesis)) != 0:
				t.Errorf("Difficulty = %v, want %v", h.Difficulty, e.CalcDifficulty(tt.wantTime, genesis))
			case h.Coinbase != e.Address():
				t.Errorf("Coinbase = %v, want %v", h.Coinbase, e.Address())
			case h.UncleHash != types.EmptyUncleHash:
				t.Errorf("UncleHash = %x", h.UncleHash)
			case !bytes.Equal(h.Extra, make([]byte, signatureLength)):
				t.Errorf("Extra = %x, want 65 zero bytes", h.Extra)
			case h.Nonce != (types.BlockNonce{}) || h.MixDigest != (common.Hash{}):
				t.Errorf("Nonce/MixDigest not cleared")
			}
		})
	}
	if err := e.Prepare(chain, childOf(genesis, 1), nil); !errors.Is(err, consensus.ErrUnknownAncestor) {
		t.Errorf("Prepare(nil parent) = %v; want %v", err, consensus.ErrUnknownAncestor)
	}
}

func TestFinalizeIsNoop(t *testing.T) {
	e := newTestEngine(nil)
	if err := e.Finalize(nil, testGenesis(e), nil, nil); err != nil {
		t.Fatalf("Finalize = %v", err)
	}
}

func TestAuthor(t *testing.T) {
	key := newKey(t)
	e := newTestEngine(key)
	genesis := testGenesis(e)
	chain := newTestChain(genesis, e.Address())
	h := mineChild(t, e, chain, genesis, 1, nil)

	v := newTestEngine(nil)
	for i := range 2 { // the second call is served from the cache
		got, err := v.Author(h)
		if err != nil || got != e.Address() {
			t.Fatalf("call %d: Author = %v, %v; want %v", i, got, err, e.Address())
		}
	}
	if v.signers.Len() != 1 {
		t.Errorf("signer cache holds %d entries, want 1", v.signers.Len())
	}
	bad := types.CopyHeader(h)
	bad.Extra = bad.Extra[:10]
	if _, err := v.Author(bad); !errors.Is(err, errExtraLength) {
		t.Errorf("Author(short extra) = %v; want %v", err, errExtraLength)
	}
}

// TestConcurrentVerify exercises the engine from many goroutines (run with
// -race).
func TestConcurrentVerify(t *testing.T) {
	e := newTestEngine(newKey(t))
	genesis := testGenesis(e)
	chain := newTestChain(genesis, e.Address())
	var headers []*types.Header
	parent := genesis
	for range 8 {
		h := mineChild(t, e, chain, parent, 5, nil)
		chain.insert(h)
		headers = append(headers, h)
		parent = h
	}
	v := newTestEngine(nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(headers))
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := genesis
			for _, h := range headers {
				errs <- v.VerifyHeader(chain, h, p)
				p = h
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
