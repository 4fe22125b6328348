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
		// signed marks a failure in a signature, the seal or the parent's
		// commit: VerifyHeaderCovered leaves those to a later
		// certificate and accepts the header.
		signed bool
	}{
		{
			name:   "wrong proposer",
			header: func() *types.Header { return block2(0, f.notProposer(2, 0), good()) },
			want:   []error{errWrongProposer, consensus.ErrUnauthorized},
		},
		{
			name: "proposer of another round",
			header: func() *types.Header {
				key := f.proposer(2, 0)
				return reseal(t, f.engine(key), withExtra(block2(0, key, good()), func(e *Extra) { e.Round = 1 }))
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
			want:   []error{errBadProposerSeal, consensus.ErrInvalidSeal},
			signed: true,
		},
		{
			name: "unsealed",
			header: func() *types.Header {
				return withExtra(block2(0, f.proposer(2, 0), good()), func(e *Extra) { e.Seal = nil })
			},
			want:   []error{errBadProposerSeal},
			signed: true,
		},
		{
			name: "seal over different contents",
			header: func() *types.Header {
				h := block2(0, f.proposer(2, 0), good())
				h.GasUsed = 1
				return h
			},
			want:   []error{errBadProposerSeal},
			signed: true,
		},
		{
			name:   "last commit below 2/3",
			header: func() *types.Header { return block2(0, f.proposer(2, 0), commitOf(t, k[:2], 1, 0, f.b1.Hash())) },
			want:   []error{errInsufficientPower, consensus.ErrInvalidSeal},
			signed: true,
		},
		{
			name: "duplicate signer",
			header: func() *types.Header {
				return block2(0, f.proposer(2, 0), commitOf(t, []*ecdsa.PrivateKey{k[0], k[0], k[1]}, 1, 0, f.b1.Hash()))
			},
			want:   []error{errDuplicateSigner},
			signed: true,
		},
		{
			name: "non-validator signer",
			header: func() *types.Header {
				return block2(0, f.proposer(2, 0), commitOf(t, []*ecdsa.PrivateKey{k[0], k[1], outsider}, 1, 0, f.b1.Hash()))
			},
			want:   []error{errNotValidator},
			signed: true,
		},
		{
			name:   "signatures over another hash",
			header: func() *types.Header { return block2(0, f.proposer(2, 0), commitOf(t, k[:3], 1, 0, common.Hash{9})) },
			want:   []error{errNotValidator},
			signed: true,
		},
		{
			name:   "signatures for another height",
			header: func() *types.Header { return block2(0, f.proposer(2, 0), commitOf(t, k[:3], 2, 0, f.b1.Hash())) },
			want:   []error{errNotValidator},
			signed: true,
		},
		{
			name: "commit round differs from the signed round",
			header: func() *types.Header {
				c := commitOf(t, k[:3], 1, 0, f.b1.Hash())
				c.Round = 1
				return block2(0, f.proposer(2, 0), c)
			},
			want:   []error{errNotValidator},
			signed: true,
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
			want:   []error{errNotValidator},
			signed: true,
		},
		{
			name: "more signatures than validators",
			header: func() *types.Header {
				return block2(0, f.proposer(2, 0), commitOf(t, append(k[:4:4], k[0]), 1, 0, f.b1.Hash()))
			},
			want:   []error{errCommitTooLarge},
			signed: true,
		},
		{
			name: "malformed signature",
			header: func() *types.Header {
				c := good()
				c.Signatures[1][64] = 7
				return block2(0, f.proposer(2, 0), c)
			},
			want:   []error{errCommitSignature},
			signed: true,
		},
		{
			name: "block 1 with a last commit",
			header: func() *types.Header {
				return buildBlock(t, f.engine(f.proposer(1, 0)), f.genesis, 0, commitOf(t, k[:3], 0, 0, f.genesis.Hash()), 0).Header()
			},
			parent: f.genesis.Header(),
			want:   []error{errUnexpectedCommit},
			signed: true,
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
			h := tt.header()
			err := f.verify.VerifyHeader(nil, h, parent)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Fatalf("have %v, want %v", err, w)
				}
			}
			covered := f.verify.VerifyHeaderCovered(nil, h, parent)
			switch {
			case tt.signed && covered != nil:
				t.Fatalf("VerifyHeaderCovered: have %v, want nil (left to a certificate)", covered)
			case !tt.signed && (covered == nil || covered.Error() != err.Error()):
				t.Fatalf("VerifyHeaderCovered: have %v, want %v", covered, err)
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

func TestEngineCertificates(t *testing.T) {
	f := newEngineFixture(t)
	c1 := commitOf(t, f.keys[:3], 1, 0, f.b1.Hash())
	b2 := buildBlock(t, f.engine(f.proposer(2, 0)), f.b1, 0, c1, 0)
	t.Run("parent certificate", func(t *testing.T) {
		if have := f.verify.ParentCertificate(f.b1.Header()); have != nil {
			t.Fatalf("block 1 carries %x for genesis, want none", have)
		}
		if have, want := f.verify.ParentCertificate(b2.Header()), c1.Encode(); string(have) != string(want) {
			t.Fatalf("block 2's certificate for block 1: have %x, want %x", have, want)
		}
		if have := f.verify.ParentCertificate(&types.Header{Number: big.NewInt(2), Extra: []byte{1}}); have != nil {
			t.Fatalf("malformed extra: have %x, want none", have)
		}
	})
	tests := []struct {
		name   string
		header *types.Header
		cert   []byte
		want   error
	}{
		{"quorum of precommits", f.b1.Header(), c1.Encode(), nil},
		{"two of four", f.b1.Header(), commitOf(t, f.keys[:2], 1, 0, f.b1.Hash()).Encode(), errInsufficientPower},
		{"for another block", f.b1.Header(), commitOf(t, f.keys[:3], 1, 0, b2.Hash()).Encode(), errNotValidator},
		{"empty", f.b1.Header(), nil, errMalformed},
		{"oversized", f.b1.Header(), make([]byte, MaxCommitSize+1), errMalformed},
		{"garbage", f.b1.Header(), []byte{0xc1, 0x80}, errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.verify.VerifyCertificate(nil, tt.header, tt.cert)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("have %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, consensus.ErrNoCertificate) {
				t.Fatalf("have %v, want %v", err, consensus.ErrNoCertificate)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
		})
	}
}

// TestVerifyHeaderHugeRound is finding 2 of the Byzantine review: the
// proposer of a header's round was found by a loop over rounds, before
// the seal was checked, so a header at round 2^31-1 cost seconds of CPU.
// Rounds above MaxRound are now malformed, and the proposer of any round
// costs one rotation lookup.
func TestVerifyHeaderHugeRound(t *testing.T) {
	f := newEngineFixture(t)
	for _, round := range []uint32{MaxRound, MaxRound - 1, MaxRound + 1, 1<<31 - 1} {
		h := withExtra(f.b1.Header(), func(ex *Extra) { ex.Round = round })
		if round <= MaxRound {
			key := f.proposer(1, round)
			h.Coinbase = addrOf(key)
			h = reseal(t, f.engine(key), h)
		}
		err := f.verify.VerifyHeader(nil, h, f.genesis.Header())
		switch {
		case round > MaxRound && !errors.Is(err, errInvalidExtra):
			t.Fatalf("round %d: have %v, want %v", round, err, errInvalidExtra)
		case round <= MaxRound && err != nil:
			t.Fatalf("round %d: have %v, want nil", round, err)
		}
	}
}

func BenchmarkProposerHugeRound(b *testing.B) {
	keys := make([]*ecdsa.PrivateKey, MaxValidators)
	for i := range keys {
		keys[i] = testKey(b, string(rune('a'+i%26))+string(rune('A'+i/26)))
	}
	set := mustSet(b, 1, keys, nil)
	for i := 0; b.Loop(); i++ {
		_ = set.Proposer(uint64(i%64)+1, MaxRound)
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
