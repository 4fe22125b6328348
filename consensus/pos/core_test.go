package pos

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// coreHarness drives one core ("the validator") by hand, playing the other
// validators with their keys. There are five equal validators, so 2f+1 is 4
// votes and f+1 is 2; the validator under test is the proposer of round 4
// at height 1 and so proposes in none of rounds 0-3.
type coreHarness struct {
	t       *testing.T
	core    *Core
	self    *ecdsa.PrivateKey
	others  []*ecdsa.PrivateKey
	byAddr  map[common.Address]*ecdsa.PrivateKey
	vals    *ValidatorSet
	genesis *types.Block
	sent    []any // decoded own messages, in order
	ready   []Ready
	// validate answers the core's validation requests at once; with
	// deferValidation the requests are left for the test to answer.
	validate        func(*types.Block) error
	deferValidation bool
}

func newCoreHarness(t *testing.T, adjust ...func(*Config)) *coreHarness {
	t.Helper()
	keys := make([]*ecdsa.PrivateKey, 5)
	byAddr := make(map[common.Address]*ecdsa.PrivateKey)
	for i := range keys {
		keys[i] = testKey(t, "core-"+string(rune('A'+i)))
		byAddr[addrOf(keys[i])] = keys[i]
	}
	vals := mustSet(t, 1, keys, nil)
	h := &coreHarness{t: t, byAddr: byAddr, vals: vals, genesis: testGenesis()}
	h.self = byAddr[vals.Proposer(1, 4)]
	for _, k := range keys {
		if k != h.self {
			h.others = append(h.others, k)
		}
	}
	verifier := New(testChainID, mustSchedule(t, vals), nil, WithClock(func() time.Time { return testNow }))
	cfg := Config{
		ChainID:          testChainID,
		Key:              h.self,
		TimeoutPropose:   Timeout{Base: 10, Delta: 5},
		TimeoutPrevote:   Timeout{Base: 4, Delta: 3},
		TimeoutPrecommit: Timeout{Base: 6, Delta: 1},
	}
	h.validate = func(b *types.Block) error {
		return verifier.VerifyHeader(nil, b.Header(), h.genesis.Header())
	}
	for _, f := range adjust {
		f(&cfg)
	}
	core, err := NewCore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.core = core
	if err := core.StartHeight(h.genesis, vals, &Commit{}); err != nil {
		t.Fatal(err)
	}
	h.collect()
	return h
}

// collect drains the core's Ready into sent.
func (h *coreHarness) collect() {
	var rd Ready
	if h.deferValidation {
		rd = h.core.Ready()
	} else {
		rd = settle(h.core, h.validate, nil)
	}
	h.ready = append(h.ready, rd)
	for _, raw := range rd.Signed {
		h.sent = append(h.sent, decodeOwn(h.t, raw))
	}
}

// proposerKey returns the key of round r's proposer.
func (h *coreHarness) proposerKey(r uint32) *ecdsa.PrivateKey {
	return h.byAddr[h.vals.Proposer(1, r)]
}

// block returns a block first proposed in round r; distinct offsets give
// distinct blocks.
func (h *coreHarness) block(r uint32, offset uint64) *types.Block {
	e := New(testChainID, mustSchedule(h.t, h.vals), h.proposerKey(r))
	return buildBlock(h.t, e, h.genesis, r, Commit{}, offset)
}

// step feeds raw to the core.
func (h *coreHarness) step(raw []byte) error {
	err := h.core.Step(raw)
	h.collect()
	return err
}

// propose delivers round r's proposal of b with valid round vr.
func (h *coreHarness) propose(r uint32, vr int32, b *types.Block) {
	h.t.Helper()
	if err := h.step(signProposal(h.t, h.proposerKey(r), r, vr, b).Encode()); err != nil {
		h.t.Fatalf("proposal round %d: %v", r, err)
	}
}

// votes delivers votes of type vt for hash in round r from the other
// validators with indices idx.
func (h *coreHarness) votes(vt VoteType, r uint32, hash common.Hash, idx ...int) {
	h.t.Helper()
	for _, i := range idx {
		if err := h.step(signVote(h.t, h.others[i], vt, 1, r, hash).Encode()); err != nil {
			h.t.Fatalf("%v from %d in round %d: %v", vt, i, r, err)
		}
	}
}

// tick advances n ticks.
func (h *coreHarness) tick(n int) {
	for range n {
		h.core.Tick()
		h.collect()
	}
}

// ticksUntil ticks until cond holds, up to limit, and returns the count.
func (h *coreHarness) ticksUntil(limit int, cond func() bool) int {
	h.t.Helper()
	for n := 0; n <= limit; n++ {
		if cond() {
			return n
		}
		h.tick(1)
	}
	h.t.Fatalf("condition not met within %d ticks", limit)
	return 0
}

// vote returns the validator's own vote of type vt in round r.
func (h *coreHarness) vote(vt VoteType, r uint32) (*Vote, bool) {
	for _, m := range h.sent {
		if v, ok := m.(*Vote); ok && v.Type == vt && v.Round == r {
			return v, true
		}
	}
	return nil, false
}

// toRound moves the validator from its current round to round+1 by 2f+1
// precommits for nil from the others and the precommit timeout.
func (h *coreHarness) nextRoundByPrecommits() {
	h.t.Helper()
	r := h.core.Round()
	h.votes(Precommit, r, common.Hash{}, 0, 1, 2)
	h.ticksUntil(100, func() bool { return h.core.Round() == r+1 })
}

// lockOnRound0 makes the validator lock v in round 0: it gets round 0's
// proposal of v and 2f+1 prevotes for it.
func (h *coreHarness) lockOnRound0(v *types.Block) {
	h.t.Helper()
	h.propose(0, -1, v)
	h.votes(Prevote, 0, v.Hash(), 0, 1, 2)
	if pc, ok := h.vote(Precommit, 0); !ok || pc.BlockHash != v.Hash() {
		h.t.Fatalf("setup: validator did not precommit v in round 0")
	}
}

func TestCoreLocking(t *testing.T) {
	nilHash := common.Hash{}
	tests := []struct {
		name string
		// run plays the scenario and returns the vote to check and the
		// hash it must be for (zero: nil).
		run func(h *coreHarness, v, w *types.Block) (VoteType, uint32, common.Hash)
		// lock is the expected (lockedRound, locked block) afterwards;
		// w means the other value.
		lockRound int32
		lockOnW   bool
	}{
		{
			name: "locked on v, fresh proposal of w: prevote nil (line 26)",
			run: func(h *coreHarness, v, w *types.Block) (VoteType, uint32, common.Hash) {
				h.lockOnRound0(v)
				h.nextRoundByPrecommits()
				h.propose(1, -1, w)
				return Prevote, 1, nilHash
			},
			lockRound: 0,
		},
		{
			name: "locked on v, polka for nil: precommit nil (line 45)",
			run: func(h *coreHarness, v, w *types.Block) (VoteType, uint32, common.Hash) {
				h.lockOnRound0(v)
				h.nextRoundByPrecommits()
				h.propose(1, -1, w)
				h.votes(Prevote, 1, nilHash, 0, 1, 2)
				return Precommit, 1, nilHash
			},
			lockRound: 0,
		},
		{
			name: "locked on v, v re-proposed with valid round 0: prevote v (line 30)",
			run: func(h *coreHarness, v, w *types.Block) (VoteType, uint32, common.Hash) {
				h.lockOnRound0(v)
				h.nextRoundByPrecommits()
				h.propose(1, 0, v)
				return Prevote, 1, v.Hash()
			},
			lockRound: 0,
		},
		{
			name: "locked on v, polka for w in the current round: precommit w and relock (lines 36-43)",
			run: func(h *coreHarness, v, w *types.Block) (VoteType, uint32, common.Hash) {
				h.lockOnRound0(v)
				h.nextRoundByPrecommits()
				h.propose(1, -1, w)
				h.votes(Prevote, 1, w.Hash(), 0, 1, 2, 3)
				return Precommit, 1, w.Hash()
			},
			lockRound: 1, lockOnW: true,
		},
		{
			name: "locked on v in round 0, w proposed with later valid round 1: prevote w (line 29)",
			run: func(h *coreHarness, v, w *types.Block) (VoteType, uint32, common.Hash) {
				h.lockOnRound0(v)
				h.nextRoundByPrecommits()
				// Round 1: a polka for w the validator sees without w's
				// proposal; it prevotes nil on timeout.
				h.votes(Prevote, 1, w.Hash(), 0, 1, 2, 3)
				h.ticksUntil(100, func() bool { _, ok := h.vote(Prevote, 1); return ok })
				if pc, ok := h.vote(Precommit, 1); ok && pc.BlockHash != nilHash {
					h.t.Fatalf("precommitted %x in round 1 without w's proposal", pc.BlockHash)
				}
				h.nextRoundByPrecommits()
				h.propose(2, 1, w)
				return Prevote, 2, w.Hash()
			},
			lockRound: 0,
		},
		{
			name: "locked on v in round 1, w proposed with older valid round 0: prevote nil (line 32)",
			run: func(h *coreHarness, v, w *types.Block) (VoteType, uint32, common.Hash) {
				// Round 0: a polka for w, whose proposal the validator
				// never gets.
				h.votes(Prevote, 0, w.Hash(), 0, 1, 2, 3)
				h.ticksUntil(100, func() bool { _, ok := h.vote(Prevote, 0); return ok })
				h.nextRoundByPrecommits()
				// Round 1: lock on v.
				h.propose(1, -1, v)
				h.votes(Prevote, 1, v.Hash(), 0, 1, 2)
				if pc, ok := h.vote(Precommit, 1); !ok || pc.BlockHash != v.Hash() {
					h.t.Fatal("setup: no lock on v in round 1")
				}
				h.nextRoundByPrecommits()
				h.propose(2, 0, w)
				return Prevote, 2, nilHash
			},
			lockRound: 1,
		},
		{
			name: "locked on v, w proposed with a valid round that had no polka for it: prevote nil on timeout",
			run: func(h *coreHarness, v, w *types.Block) (VoteType, uint32, common.Hash) {
				h.lockOnRound0(v)
				h.nextRoundByPrecommits()
				h.propose(1, 0, w)
				if _, ok := h.vote(Prevote, 1); ok {
					h.t.Fatal("prevoted before the propose timeout without a polka for w")
				}
				h.ticksUntil(100, func() bool { _, ok := h.vote(Prevote, 1); return ok })
				return Prevote, 1, nilHash
			},
			lockRound: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newCoreHarness(t)
			// v is round 0's proposer's block; w is first proposed in
			// round 1 (by round 1's proposer).
			v, w := h.block(0, 0), h.block(1, 7)
			vt, r, want := tt.run(h, v, w)
			got, ok := h.vote(vt, r)
			if !ok {
				t.Fatalf("no %v in round %d", vt, r)
			}
			if got.BlockHash != want {
				t.Fatalf("%v in round %d: have %x, want %x", vt, r, got.BlockHash, want)
			}
			wantLock := v.Hash()
			if tt.lockOnW {
				wantLock = w.Hash()
			}
			if h.core.lockedRound != tt.lockRound || h.core.lockedValue == nil || h.core.lockedValue.Hash() != wantLock {
				t.Fatalf("lock: have round %d, want round %d on %x", h.core.lockedRound, tt.lockRound, wantLock)
			}
			// A locked validator precommits only its locked value or nil,
			// except in the round where it saw a polka for another value.
			for _, m := range h.sent {
				pc, ok := m.(*Vote)
				if !ok || pc.Type != Precommit || pc.BlockHash == nilHash || pc.BlockHash == v.Hash() {
					continue
				}
				if !tt.lockOnW || int32(pc.Round) != tt.lockRound {
					t.Fatalf("precommitted %x in round %d", pc.BlockHash, pc.Round)
				}
			}
		})
	}
}

func TestCoreDecides(t *testing.T) {
	h := newCoreHarness(t)
	v := h.block(0, 0)
	h.lockOnRound0(v)
	h.votes(Precommit, 0, v.Hash(), 0, 1, 2)
	var d *Decision
	for _, rd := range h.ready {
		if rd.Decided != nil {
			d = rd.Decided
		}
	}
	if d == nil || d.Block.Hash() != v.Hash() {
		t.Fatalf("decision: have %v, want block %x", d, v.Hash())
	}
	if signers, err := VerifyCommit(testChainID, h.vals, 1, v.Hash(), &d.Commit); err != nil || len(signers) != 4 {
		t.Fatalf("decision commit: %d signers, %v", len(signers), err)
	}
}

// TestCoreDecidesWhileWaiting: a core waiting out CommitTicks before round
// 0 applied no rule at all, so a validator whose clock ran slower than the
// others' could not decide a height they had decided until its own wait
// ended, fell further behind every height and failed its proposer turns.
// Line 49 holds in every step: the waiting core decides at once, and still
// signs nothing before round 0.
func TestCoreDecidesWhileWaiting(t *testing.T) {
	h := newCoreHarness(t, func(c *Config) { c.CommitTicks = 50 })
	v := h.block(0, 0)
	h.propose(0, -1, v)
	h.votes(Precommit, 0, v.Hash(), 0, 1, 2, 3)
	var d *Decision
	for _, rd := range h.ready {
		if rd.Decided != nil {
			d = rd.Decided
		}
	}
	if d == nil || d.Block.Hash() != v.Hash() {
		t.Fatalf("decision while waiting: have %v, want block %x", d, v.Hash())
	}
	if len(h.sent) != 0 {
		t.Fatalf("signed %d messages while waiting, want none", len(h.sent))
	}
}

func TestCoreTimeoutsGrowWithRound(t *testing.T) {
	tm := Timeout{Base: 3, Delta: 2}
	for r := uint32(0); r < 5; r++ {
		if have, want := tm.Ticks(r), 3+2*uint64(r); have != want {
			t.Fatalf("Ticks(%d): have %d, want %d", r, have, want)
		}
	}
	other := common.Hash{0xaa}
	var prev [3]int
	for r := uint32(0); r < 4; r++ {
		h := newCoreHarness(t)
		// f+1 prevotes of round r move the validator there (line 55).
		if r > 0 {
			h.votes(Prevote, r, common.Hash{}, 0, 1)
			if h.core.Round() != r {
				t.Fatalf("round skip: at round %d, want %d", h.core.Round(), r)
			}
		}
		propose := h.ticksUntil(100, func() bool { _, ok := h.vote(Prevote, r); return ok })
		// 2f+1 prevotes, no polka: the prevote timeout runs (line 34).
		if r == 0 {
			h.votes(Prevote, r, common.Hash{}, 0, 1)
		}
		h.votes(Prevote, r, other, 2, 3)
		prevote := h.ticksUntil(100, func() bool { _, ok := h.vote(Precommit, r); return ok })
		// 2f+1 precommits, no decision: the precommit timeout runs (line 47).
		h.votes(Precommit, r, common.Hash{}, 0)
		h.votes(Precommit, r, other, 2, 3)
		precommit := h.ticksUntil(100, func() bool { return h.core.Round() == r+1 })

		cfg := h.core.cfg
		got := [3]int{propose, prevote, precommit}
		want := [3]int{int(cfg.TimeoutPropose.Ticks(r)), int(cfg.TimeoutPrevote.Ticks(r)), int(cfg.TimeoutPrecommit.Ticks(r))}
		if got != want {
			t.Fatalf("round %d: ticks (propose, prevote, precommit) have %v, want %v", r, got, want)
		}
		if r > 0 {
			for i := range got {
				if got[i] <= prev[i] {
					t.Fatalf("round %d: timeout %d did not grow: %d after %d", r, i, got[i], prev[i])
				}
			}
		}
		prev = got
	}
}

func TestCoreRejectsMessages(t *testing.T) {
	h := newCoreHarness(t)
	v := h.block(0, 0)
	good := signVote(t, h.others[0], Prevote, 1, 0, v.Hash())
	outsider := testKey(t, "outsider")

	highS := *good
	{
		n := crypto.S256().Params().N
		s := new(big.Int).SetBytes(highS.Signature[32:64])
		s.Sub(n, s)
		s.FillBytes(highS.Signature[32:64])
		highS.Signature[64] ^= 1
	}
	badType := *good
	badType.Type = 7
	otherChain := func() *Vote {
		v := &Vote{Type: Prevote, Height: 1, BlockHash: v.Hash()}
		sig, _ := sign(voteDigest(big.NewInt(1), Prevote, 1, 0, v.BlockHash), h.others[0])
		v.Signature = sig
		return v
	}()
	notProposer := signProposal(t, h.others[0], 0, -1, v)
	if addrOf(h.others[0]) == h.vals.Proposer(1, 0) {
		notProposer = signProposal(t, h.others[1], 0, -1, v)
	}
	badValidRound := signProposal(t, h.proposerKey(1), 1, 1, v)
	wrongHeight := signProposal(t, h.proposerKey(0), 0, -1, v)
	wrongHeight.Height = 2
	sig, _ := sign(wrongHeight.Digest(testChainID), h.proposerKey(0))
	wrongHeight.Signature = sig

	// A far round is recorded once; the same or a lower one again records
	// nothing and is refused.
	if err := h.core.Step(signVote(t, h.others[0], Prevote, 1, maxRoundsAhead+5, v.Hash()).Encode()); err != nil {
		t.Fatalf("first far round: %v", err)
	}
	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{"empty", nil, errMalformed},
		{"unknown type", append([]byte{9}, good.Encode()[1:]...), errUnknownType},
		{"oversized", append(good.Encode(), make([]byte, DefaultMaxMessageSize)...), errOversized},
		{"trailing bytes", append(good.Encode(), 0x80), errMalformed},
		{"truncated", good.Encode()[:20], errMalformed},
		{"not rlp", []byte{msgVote, 0xff, 0x01}, errMalformed},
		{"bad vote type", badType.Encode(), errMalformed},
		{"high-S signature", highS.Encode(), errBadSignature},
		{"zero signature", (&Vote{Type: Prevote, Height: 1, BlockHash: v.Hash()}).Encode(), errBadSignature},
		{"signed for another chain", otherChain.Encode(), errNotValidator},
		{"non-validator", signVote(t, outsider, Prevote, 1, 0, v.Hash()).Encode(), errNotValidator},
		{"proposal not from the proposer", notProposer.Encode(), errNotProposer},
		{"valid round not below round", badValidRound.Encode(), errMalformed},
		{"proposal height differs from block", wrongHeight.Encode(), errBlockMismatch},
		{"past height", signVote(t, h.others[0], Prevote, 0, 0, v.Hash()).Encode(), errStaleHeight},
		{"far future height", signVote(t, h.others[0], Prevote, 3, 0, v.Hash()).Encode(), errFutureHeight},
		{"far future round", signVote(t, h.others[0], Prevote, 1, maxRoundsAhead+1, v.Hash()).Encode(), errFutureRound},
		{"round above MaxRound", signVote(t, h.others[0], Prevote, 1, MaxRound+1, v.Hash()).Encode(), errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := h.core.Step(tt.raw); !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
		})
	}
	// None of the refused messages counted.
	if rs := h.core.rounds[0]; rs != nil && rs.prevotes.total != 0 {
		t.Fatalf("refused prevotes were counted: power %d", rs.prevotes.total)
	}
	if err := h.core.Step(good.Encode()); err != nil {
		t.Fatalf("good vote refused: %v", err)
	}
}

func TestCoreSmallMessageLimit(t *testing.T) {
	h := newCoreHarness(t, func(c *Config) { c.MaxMessageSize = 64 })
	p := signProposal(t, h.proposerKey(0), 0, -1, h.block(0, 0))
	if err := h.core.Step(p.Encode()); !errors.Is(err, errOversized) {
		t.Fatalf("have %v, want %v", err, errOversized)
	}
}

func TestCoreEquivocationEvidence(t *testing.T) {
	h := newCoreHarness(t)
	a := signVote(t, h.others[0], Prevote, 1, 0, common.Hash{1})
	b := signVote(t, h.others[0], Prevote, 1, 0, common.Hash{2})
	h.step(a.Encode())
	h.step(b.Encode())
	h.step(b.Encode()) // reported once
	var evs []*Evidence
	for _, rd := range h.ready {
		evs = append(evs, rd.Evidence...)
	}
	if len(evs) != 1 {
		t.Fatalf("evidence: have %d, want 1", len(evs))
	}
	if !bytes.Equal(evs[0].Encode(), NewEvidence(b, a).Encode()) {
		t.Fatal("evidence is not the canonical pair")
	}
	if off, err := VerifyEvidence(testChainID, evs[0], h.vals); err != nil || off != addrOf(h.others[0]) {
		t.Fatalf("VerifyEvidence: %v, %v", off, err)
	}
	// The second vote did not count.
	if p := h.core.rounds[0].prevotes.total; p != 1 {
		t.Fatalf("prevote power: have %d, want 1", p)
	}
}

func TestCoreGuardRefusesConflictingSignature(t *testing.T) {
	h := newCoreHarness(t)
	v, w := h.block(0, 0), h.block(0, 1)
	// The guard says we already prevoted w in round 0 (e.g. before a
	// crash that lost the WAL's inputs but not the guard).
	h2 := newCoreHarness(t, func(c *Config) {
		c.LastSigned = LastSigned{Height: 1, Round: 0, Step: uint8(Prevote), Digest: voteDigest(testChainID, Prevote, 1, 0, w.Hash())}
	})
	h2.propose(0, -1, v)
	if pv, ok := h2.vote(Prevote, 0); ok {
		t.Fatalf("signed a conflicting prevote for %x", pv.BlockHash)
	}
	// Without the guard the same input yields a prevote for v: the test
	// above can fail.
	h.propose(0, -1, v)
	if pv, ok := h.vote(Prevote, 0); !ok || pv.BlockHash != v.Hash() {
		t.Fatal("control: no prevote for v")
	}
}

// TestCoreBuildsDuringCommitWait checks that the proposer of round 0 asks
// for its block as the CommitTicks wait begins, signs nothing during the
// wait, and proposes the block as round 0 starts, or at once if the build
// answers after that.
func TestCoreBuildsDuringCommitWait(t *testing.T) {
	const wait = 5
	setup := func(t *testing.T) (*Core, *types.Block, Ready) {
		keys := make([]*ecdsa.PrivateKey, 4)
		for i := range keys {
			keys[i] = testKey(t, "early-"+string(rune('A'+i)))
		}
		vals := mustSet(t, 1, keys, nil)
		var self *ecdsa.PrivateKey
		for _, k := range keys {
			if addrOf(k) == vals.Proposer(1, 0) {
				self = k
			}
		}
		core, err := NewCore(Config{ChainID: testChainID, Key: self, CommitTicks: wait,
			TimeoutPropose: Timeout{Base: 10}, TimeoutPrevote: Timeout{Base: 4}, TimeoutPrecommit: Timeout{Base: 4}})
		if err != nil {
			t.Fatal(err)
		}
		genesis := testGenesis()
		if err := core.StartHeight(genesis, vals, &Commit{}); err != nil {
			t.Fatal(err)
		}
		rd := core.Ready()
		b := buildBlock(t, New(testChainID, mustSchedule(t, vals), self), genesis, 0, Commit{}, 0)
		return core, b, rd
	}
	proposed := func(t *testing.T, rd Ready, want common.Hash) bool {
		t.Helper()
		for _, raw := range rd.Signed {
			if p, ok := decodeOwn(t, raw).(*Proposal); ok {
				if p.Block.Hash() != want || p.Round != 0 {
					t.Fatalf("proposed %x in round %d, want %x in round 0", p.Block.Hash(), p.Round, want)
				}
				return true
			}
		}
		return false
	}
	t.Run("built before round 0", func(t *testing.T) {
		core, b, rd := setup(t)
		if rd.Build == nil || rd.Build.Height != 1 || rd.Build.Round != 0 {
			t.Fatalf("build request at the start of the wait: have %+v, want height 1 round 0", rd.Build)
		}
		if err := core.Propose(b); err != nil {
			t.Fatalf("block built during the wait: %v", err)
		}
		for i := 1; i <= wait; i++ {
			core.Tick()
			rd := core.Ready()
			if rd.Build != nil {
				t.Fatalf("tick %d: a second build request", i)
			}
			if got := proposed(t, rd, b.Hash()); got != (i == wait) {
				t.Fatalf("tick %d: proposal sent %v, want only when round 0 starts (tick %d)", i, got, wait)
			}
		}
	})
	t.Run("built after round 0 started", func(t *testing.T) {
		core, b, _ := setup(t)
		for i := 1; i <= wait; i++ {
			core.Tick()
			if rd := core.Ready(); rd.Build != nil || len(rd.Signed) != 0 {
				t.Fatalf("tick %d: build request %v, %d signed; want neither", i, rd.Build, len(rd.Signed))
			}
		}
		if err := core.Propose(b); err != nil {
			t.Fatal(err)
		}
		if !proposed(t, core.Ready(), b.Hash()) {
			t.Fatal("a block built after round 0 started was not proposed at once")
		}
	})
}

// TestCoreBuildLead checks that with BuildLeadTicks shorter than the
// CommitTicks wait the proposer of round 0 asks for its block that many
// ticks before round 0, not as the wait begins, and once; and that with a
// lead as long as the wait it asks at once.
func TestCoreBuildLead(t *testing.T) {
	const wait = 10
	for _, tc := range []struct {
		lead    uint64
		askedAt int // tick of the build request; 0: at StartHeight
	}{{lead: 4, askedAt: 6}, {lead: wait, askedAt: 0}, {lead: 0, askedAt: 0}} {
		t.Run(fmt.Sprintf("lead %d", tc.lead), func(t *testing.T) {
			keys := make([]*ecdsa.PrivateKey, 4)
			for i := range keys {
				keys[i] = testKey(t, "lead-"+string(rune('A'+i)))
			}
			vals := mustSet(t, 1, keys, nil)
			var self *ecdsa.PrivateKey
			for _, k := range keys {
				if addrOf(k) == vals.Proposer(1, 0) {
					self = k
				}
			}
			core, err := NewCore(Config{ChainID: testChainID, Key: self, CommitTicks: wait, BuildLeadTicks: tc.lead,
				TimeoutPropose: Timeout{Base: 10}, TimeoutPrevote: Timeout{Base: 4}, TimeoutPrecommit: Timeout{Base: 4}})
			if err != nil {
				t.Fatal(err)
			}
			genesis := testGenesis()
			if err := core.StartHeight(genesis, vals, &Commit{}); err != nil {
				t.Fatal(err)
			}
			var asked []int
			if core.Ready().Build != nil {
				asked = append(asked, 0)
			}
			b := buildBlock(t, New(testChainID, mustSchedule(t, vals), self), genesis, 0, Commit{}, 0)
			for i := 1; i <= wait; i++ {
				core.Tick()
				rd := core.Ready()
				if rd.Build != nil {
					asked = append(asked, i)
					if err := core.Propose(b); err != nil {
						t.Fatalf("tick %d: %v", i, err)
					}
				}
				if i < wait && len(rd.Signed) != 0 {
					t.Fatalf("tick %d: signed during the wait", i)
				}
			}
			if len(asked) != 1 || asked[0] != tc.askedAt {
				t.Fatalf("build requested at ticks %v, want once at %d", asked, tc.askedAt)
			}
		})
	}
}

// TestCoreCatchUpNotForTheSlowestVote: a vote for the height just decided
// that arrives within a rebroadcast period of the new height is the
// slowest validator's and gets no catch-up commit (every validator used to
// answer it with a whole block); one that still arrives a period later is
// from a validator that is stuck, and gets the commit.
func TestCoreCatchUpNotForTheSlowestVote(t *testing.T) {
	h := newCoreHarness(t, func(c *Config) { c.RebroadcastTicks = 10 })
	b := h.block(0, 0)
	if err := h.core.StartHeight(b, h.vals, &Commit{}); err != nil {
		t.Fatal(err)
	}
	commit := commitOf(t, h.others[:4], 1, 0, b.Hash())
	// Height 2 on b, then height 3 on a child of b: catch-up needs a
	// height above 1.
	e := New(testChainID, mustSchedule(t, h.vals), h.proposerKey(0))
	b2 := buildBlock(t, e, b, 0, commit, 0)
	commit2 := commitOf(t, h.others[:4], 2, 0, b2.Hash())
	if err := h.core.StartHeight(b2, h.vals, &commit2); err != nil {
		t.Fatal(err)
	}
	h.collect()
	catchUps := func() int {
		n := 0
		for _, raw := range h.ready[len(h.ready)-1].Messages {
			if m, err := DecodeMessage(raw, DefaultMaxMessageSize); err == nil {
				if cm, ok := m.(*CommitMessage); ok && cm.Block.Hash() == b2.Hash() {
					n++
				}
			}
		}
		return n
	}
	late := signVote(t, h.others[3], Precommit, 2, 0, b2.Hash())
	if err := h.step(late.Encode()); !errors.Is(err, errStaleHeight) {
		t.Fatalf("late precommit: have %v, want %v", err, errStaleHeight)
	}
	if n := catchUps(); n != 0 {
		t.Fatalf("catch-up commits for the slowest vote: have %d, want 0", n)
	}
	h.tick(10)
	stuck := signVote(t, h.others[3], Prevote, 2, 0, b2.Hash())
	if err := h.step(stuck.Encode()); !errors.Is(err, errStaleHeight) {
		t.Fatalf("stuck validator's vote: have %v, want %v", err, errStaleHeight)
	}
	if n := catchUps(); n != 1 {
		t.Fatalf("catch-up commits a period later: have %d, want 1", n)
	}
}

// TestCoreStepFilled: a proposal this node filled from a compact one is
// stepped without decoding its block, under the same checks as Step's:
// size, rounds, height and body; one that passes is judged like any other.
func TestCoreStepFilled(t *testing.T) {
	h := newCoreHarness(t)
	v := h.block(0, 0)
	p := signProposal(t, h.proposerKey(0), 0, -1, v)
	wrongRound := signProposal(t, h.proposerKey(0), 0, 0, v)
	wrongHeight := signProposal(t, h.proposerKey(0), 0, -1, v)
	wrongHeight.Height = 2
	for _, tt := range []struct {
		name string
		f    FilledProposal
		want error
	}{
		{"oversized", FilledProposal{Raw: make([]byte, DefaultMaxMessageSize+1), Proposal: p}, errOversized},
		{"no proposal", FilledProposal{Raw: p.Encode()}, errMalformed},
		{"valid round not below round", FilledProposal{Raw: wrongRound.Encode(), Proposal: wrongRound}, errMalformed},
		{"block at another height", FilledProposal{Raw: wrongHeight.Encode(), Proposal: wrongHeight}, errBlockMismatch},
	} {
		if err := h.core.StepFilled(tt.f); !errors.Is(err, tt.want) {
			t.Errorf("%s: have %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := h.core.StepFilled(FilledProposal{Raw: p.Encode(), Proposal: p}); err != nil {
		t.Fatalf("filled proposal: %v", err)
	}
	h.collect()
	for _, m := range h.sent {
		if vote, ok := m.(*Vote); ok && vote.Type == Prevote && vote.Round == 0 && vote.BlockHash == v.Hash() {
			return
		}
	}
	t.Fatal("no prevote for the filled proposal's block")
}
