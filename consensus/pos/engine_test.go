package pos

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/consensus"
)

// engineFixture is a four-validator chain: genesis, block 1 and the pieces
// to build block 2.
type engineFixture struct {
	keys    []*ecdsa.PrivateKey
	byAddr  map[common.Address]*ecdsa.PrivateKey
	sets    *Schedule
	vals    *ValidatorSet
	genesis *types.Block
	b1      *types.Block
	verify  *Engine
}

func newEngineFixture(t *testing.T) *engineFixture {
	t.Helper()
	f := &engineFixture{byAddr: make(map[common.Address]*ecdsa.PrivateKey), genesis: testGenesis()}
	for _, n := range []string{"A", "B", "C", "D"} {
		k := testKey(t, "engine-"+n)
		f.keys = append(f.keys, k)
		f.byAddr[addrOf(k)] = k
	}
	f.vals = mustSet(t, 1, f.keys, nil)
	f.sets = mustSchedule(t, f.vals)
	f.verify = New(testChainID, f.sets, nil, WithClock(func() time.Time { return testNow }))
	f.b1 = buildBlock(t, f.engine(f.proposer(1, 0)), f.genesis, 0, Commit{}, 0)
	return f
}

func (f *engineFixture) proposer(h uint64, r uint32) *ecdsa.PrivateKey {
	return f.byAddr[f.vals.Proposer(h, r)]
}

// notProposer returns a validator that is not the proposer of (h, r).
func (f *engineFixture) notProposer(h uint64, r uint32) *ecdsa.PrivateKey {
	for _, k := range f.keys {
		if addrOf(k) != f.vals.Proposer(h, r) {
			return k
		}
	}
	return nil
}

func (f *engineFixture) engine(k *ecdsa.PrivateKey) *Engine {
	return New(testChainID, f.sets, k, WithClock(func() time.Time { return testNow }))
}

// reseal re-signs h (after a change) with key's engine.
func reseal(t *testing.T, e *Engine, h *types.Header) *types.Header {
	t.Helper()
	b, err := e.Seal(context.Background(), nil, types.NewBlockWithHeader(h))
	if err != nil {
		t.Fatal(err)
	}
	return b.Header()
}

// withExtra returns h with its Extra changed by f (seal left as is).
func withExtra(h *types.Header, f func(*Extra)) *types.Header {
	h = types.CopyHeader(h)
	ex, _ := DecodeExtra(h.Extra)
	f(ex)
	h.Extra = ex.Encode()
	return h
}

func TestVerifyHeader(t *testing.T) {
	f := newEngineFixture(t)
	outsider := testKey(t, "engine-X")
	k := f.keys
	good := func() Commit { return commitOf(t, k[:3], 1, 0, f.b1.Hash()) }
	block2 := func(round uint32, proposer *ecdsa.PrivateKey, lc Commit) *types.Header {
		return buildBlock(t, f.engine(proposer), f.b1, round, lc, 0).Header()
	}

	if err := f.verify.VerifyHeader(nil, f.b1.Header(), f.genesis.Header()); err != nil {
		t.Fatalf("block 1: %v", err)
	}
	if err := f.verify.VerifyHeader(nil, block2(0, f.proposer(2, 0), good()), f.b1.Header()); err != nil {
		t.Fatalf("block 2: %v", err)
	}
	if err := f.verify.VerifyHeader(nil, block2(3, f.proposer(2, 3), good()), f.b1.Header()); err != nil {
		t.Fatalf("block 2 in round 3: %v", err)
	}

	tests := []struct {
		name   string
		header func() *types.Header
		parent *types.Header
		want   []error
	}{
		{
			name:   "wrong proposer",
			header: func() *types.Header { return block2(0, f.notProposer(2, 0), good()) },
			want:   []error{errWrongProposer, consensus.ErrUnauthorized},
		},
		{
			name: "proposer of another round",
			header: func() *types.Header {
				h := withExtra(block2(0, f.proposer(2, 0), good()), func(e *Extra) { e.Round = 1 })
				return reseal(t, f.engine(f.proposer(2, 0)), h)
			},
			want: []error{errWrongProposer},
		},
		{
			name: "seal by another validator",
			header: func() *types.Header {
				h := block2(0, f.proposer(2, 0), good())
				other := f.notProposer(2, 0)
				return withExtra(h, func(e *Extra) {
					sig, _ := sign(sealDigest(testChainID, SealHash(h)), other)
					e.Seal = sig[:]
				})
			},
			want: []error{errBadProposerSeal, consensus.ErrInvalidSeal},
		},
		{
			name: "unsealed",
			header: func() *types.Header {
				return withExtra(block2(0, f.proposer(2, 0), good()), func(e *Extra) { e.Seal = nil })
			},
			want: []error{errBadProposerSeal},
		},
		{
			name: "seal over different contents",
			header: func() *types.Header {
				h := block2(0, f.proposer(2, 0), good())
				h.GasUsed = 1
				return h
			},
			want: []error{errBadProposerSeal},
		},
		{
			name:   "last commit below 2/3",
			header: func() *types.Header { return block2(0, f.proposer(2, 0), commitOf(t, k[:2], 1, 0, f.b1.Hash())) },
			want:   []error{errInsufficientPower, consensus.ErrInvalidSeal},
		},
		{
			name: "duplicate signer",
			header: func() *types.Header {
				return block2(0, f.proposer(2, 0), commitOf(t, []*ecdsa.PrivateKey{k[0], k[0], k[1]}, 1, 0, f.b1.Hash()))
			},
			want: []error{errDuplicateSigner},
		},
		{
			name: "non-validator signer",
			header: func() *types.Header {
				return block2(0, f.proposer(2, 0), commitOf(t, []*ecdsa.PrivateKey{k[0], k[1], outsider}, 1, 0, f.b1.Hash()))
			},
			want: []error{errNotValidator},
		},
		{
			name:   "signatures over another hash",
			header: func() *types.Header { return block2(0, f.proposer(2, 0), commitOf(t, k[:3], 1, 0, common.Hash{9})) },
			want:   []error{errNotValidator},
		},
		{
			name:   "signatures for another height",
			header: func() *types.Header { return block2(0, f.proposer(2, 0), commitOf(t, k[:3], 2, 0, f.b1.Hash())) },
			want:   []error{errNotValidator},
		},
		{
			name: "commit round differs from the signed round",
			header: func() *types.Header {
				c := commitOf(t, k[:3], 1, 0, f.b1.Hash())
				c.Round = 1
				return block2(0, f.proposer(2, 0), c)
			},
			want: []error{errNotValidator},
		},
		{
			name: "prevotes instead of precommits",
			header: func() *types.Header {
				c := Commit{}
				for _, key := range k[:3] {
					c.Signatures = append(c.Signatures, signVote(t, key, Prevote, 1, 0, f.b1.Hash()).Signature)
				}
				return block2(0, f.proposer(2, 0), c)
			},
			want: []error{errNotValidator},
		},
		{
			name: "more signatures than validators",
			header: func() *types.Header {
				return block2(0, f.proposer(2, 0), commitOf(t, append(k[:4:4], k[0]), 1, 0, f.b1.Hash()))
			},
			want: []error{errCommitTooLarge},
		},
		{
			name: "malformed signature",
			header: func() *types.Header {
				c := good()
				c.Signatures[1][64] = 7
				return block2(0, f.proposer(2, 0), c)
			},
			want: []error{errCommitSignature},
		},
		{
			name: "block 1 with a last commit",
			header: func() *types.Header {
				return buildBlock(t, f.engine(f.proposer(1, 0)), f.genesis, 0, commitOf(t, k[:3], 0, 0, f.genesis.Hash()), 0).Header()
			},
			parent: f.genesis.Header(),
			want:   []error{errUnexpectedCommit},
		},
		{
			name: "difficulty 2",
			header: func() *types.Header {
				h := block2(0, f.proposer(2, 0), good())
				h.Difficulty = big.NewInt(2)
				return reseal(t, f.engine(f.proposer(2, 0)), h)
			},
			want: []error{consensus.ErrInvalidDifficulty},
		},
		{
			name: "non-zero mix digest",
			header: func() *types.Header {
				h := block2(0, f.proposer(2, 0), good())
				h.MixDigest = common.Hash{1}
				return reseal(t, f.engine(f.proposer(2, 0)), h)
			},
			want: []error{errSealFields},
		},
		{
			name: "time before parent",
			header: func() *types.Header {
				h := block2(0, f.proposer(2, 0), good())
				h.Time = f.b1.Time() - 1
				return reseal(t, f.engine(f.proposer(2, 0)), h)
			},
			want: []error{consensus.ErrInvalidTimestamp},
		},
		{
			name: "time in the future",
			header: func() *types.Header {
				h := block2(0, f.proposer(2, 0), good())
				h.Time = uint64(testNow.Unix()) + 60
				return reseal(t, f.engine(f.proposer(2, 0)), h)
			},
			want: []error{consensus.ErrFutureBlock},
		},
		{
			name:   "wrong number",
			header: func() *types.Header { return block2(0, f.proposer(2, 0), good()) },
			parent: f.genesis.Header(),
			want:   []error{consensus.ErrInvalidNumber},
		},
		{
			name: "malformed extra",
			header: func() *types.Header {
				h := block2(0, f.proposer(2, 0), good())
				h.Extra = append(h.Extra, 0)
				return h
			},
			want: []error{errInvalidExtra, consensus.ErrInvalidSeal},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := tt.parent
			if parent == nil {
				parent = f.b1.Header()
			}
			err := f.verify.VerifyHeader(nil, tt.header(), parent)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Fatalf("have %v, want %v", err, w)
				}
			}
		})
	}
}

func TestEngineSealAndAuthor(t *testing.T) {
	f := newEngineFixture(t)
	key := f.proposer(1, 0)
	e := f.engine(key)

	h := &types.Header{ParentHash: f.genesis.Hash(), Number: big.NewInt(1), Time: f.genesis.Time() + 1}
	if err := e.Prepare(nil, h, f.genesis.Header()); !errors.Is(err, errNoProposal) {
		t.Fatalf("Prepare without SetProposal: have %v, want %v", err, errNoProposal)
	}
	e.SetProposal(1, 0, Commit{})
	if err := e.Prepare(nil, h, f.genesis.Header()); err != nil {
		t.Fatal(err)
	}
	if h.Difficulty.Cmp(common.Big1) != 0 || h.Coinbase != addrOf(key) {
		t.Fatalf("prepared: difficulty %v coinbase %v", h.Difficulty, h.Coinbase)
	}
	before := e.SealHash(h)
	sealed, err := e.Seal(context.Background(), nil, types.NewBlockWithHeader(h))
	if err != nil {
		t.Fatal(err)
	}
	if after := e.SealHash(sealed.Header()); after != before {
		t.Fatalf("seal hash changed by sealing: %x -> %x", before, after)
	}
	if sealed.Hash() == types.NewBlockWithHeader(h).Hash() {
		t.Fatal("block hash does not cover the seal")
	}
	if a, err := f.verify.Author(sealed.Header()); err != nil || a != addrOf(key) {
		t.Fatalf("Author: have %v, %v", a, err)
	}
	if _, err := f.verify.Seal(context.Background(), nil, sealed); !errors.Is(err, errNoKey) {
		t.Fatalf("verify-only Seal: have %v, want %v", err, errNoKey)
	}
	if _, err := f.engine(f.notProposer(1, 0)).Seal(context.Background(), nil, sealed); !errors.Is(err, errBadProposerSeal) {
		t.Fatalf("Seal of another's block: have %v", err)
	}
}

func TestEngineFinality(t *testing.T) {
	f := newEngineFixture(t)
	b2 := buildBlock(t, f.engine(f.proposer(2, 0)), f.b1, 0, commitOf(t, f.keys[:3], 1, 0, f.b1.Hash()), 0)
	tests := []struct {
		name   string
		header *types.Header
		want   bool
	}{
		{"block 1 proves genesis", f.b1.Header(), true},
		{"block 2 proves block 1", b2.Header(), true},
		{"malformed extra", &types.Header{Number: big.NewInt(2), Extra: []byte{1}}, false},
		{"no commit", &types.Header{Number: big.NewInt(2), Extra: (&Extra{}).Encode()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if have := f.verify.FinalizedParent(tt.header); have != tt.want {
				t.Fatalf("FinalizedParent: have %v, want %v", have, tt.want)
			}
		})
	}
}

func TestEngineFinalizeHook(t *testing.T) {
	f := newEngineFixture(t)
	called := false
	e := New(testChainID, f.sets, nil, WithFinalizeHook(func(consensus.ChainHeaderReader, *types.Header, *state.StateDB, []*types.Transaction) error {
		called = true
		return nil
	}))
	if err := e.Finalize(nil, f.b1.Header(), nil, nil); err != nil || !called {
		t.Fatalf("Finalize: hook called %v, err %v", called, err)
	}
	if err := f.verify.Finalize(nil, f.b1.Header(), nil, nil); err != nil {
		t.Fatal(err)
	}
}
