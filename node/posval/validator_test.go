package posval

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/node/p2p"
)

// relayHarness drives a consensus filter's bookkeeping with digests it
// makes up and a clock it moves.
type relayHarness struct {
	t   *testing.T
	f   *consensusFilter
	at  time.Time
	seq uint64
}

func newRelayHarness(t *testing.T) *relayHarness {
	h := &relayHarness{t: t, at: time.Unix(1000, 0)}
	h.f = newConsensusFilter(nil, nil)
	h.f.now = func() time.Time { return h.at }
	return h
}

// fresh returns a digest not used before.
func (h *relayHarness) fresh() common.Hash {
	h.seq++
	return common.BigToHash(new(big.Int).SetUint64(h.seq))
}

func ignored(err error, why error) bool { return errors.Is(err, p2p.ErrIgnore) && errors.Is(err, why) }

// TestRelayBoundPerValidator: the consensus filter relays at most
// maxRelayedPerHeight distinct validly signed messages of one validator
// for one height, and at most maxRelayedProposals proposals among them;
// more are dropped quietly (ErrIgnore: they are correct messages, not a
// peer's fault). Other validators and later heights are not held back, and
// the counts of heights the head reached are dropped.
func TestRelayBoundPerValidator(t *testing.T) {
	h := newRelayHarness(t)
	f := h.f
	a, b := common.Address{0xa}, common.Address{0xb}
	vote := func(s common.Address, ht uint64) pos.GossipSource { return pos.GossipSource{Signer: s, Height: ht} }
	prop := func(s common.Address, ht uint64) pos.GossipSource {
		return pos.GossipSource{Signer: s, Height: ht, Proposal: true}
	}
	for i := range maxRelayedProposals {
		if err := f.count(prop(a, 5), h.fresh(), 4); err != nil {
			t.Fatalf("proposal %d of a at height 5: %v", i, err)
		}
	}
	if err := f.count(prop(a, 5), h.fresh(), 4); !ignored(err, errRelayBound) {
		t.Fatalf("proposal %d of a: have %v, want ignored over the relay bound", maxRelayedProposals+1, err)
	}
	for i := maxRelayedProposals; i < maxRelayedPerHeight; i++ {
		if err := f.count(vote(a, 5), h.fresh(), 4); err != nil {
			t.Fatalf("message %d of a at height 5: %v", i, err)
		}
	}
	if err := f.count(vote(a, 5), h.fresh(), 4); !ignored(err, errRelayBound) {
		t.Fatalf("message %d of a: have %v, want ignored over the relay bound", maxRelayedPerHeight+1, err)
	}
	if err := f.count(prop(b, 5), h.fresh(), 4); err != nil {
		t.Fatalf("another validator at the same height: %v", err)
	}
	if err := f.count(vote(a, 6), h.fresh(), 4); err != nil {
		t.Fatalf("a at the next height: %v", err)
	}
	// The head reaches 5: its counts go, the next height's stay.
	if err := f.count(vote(b, 6), h.fresh(), 5); err != nil {
		t.Fatal(err)
	}
	if len(f.relayed) != 2 || len(f.byDigest) != 2 {
		t.Fatalf("kept after the head moved to 5: %d counts and %d digests, want 2 and 2 (a and b at height 6)", len(f.relayed), len(f.byDigest))
	}
}

// TestRelayRebroadcasts: the core re-sends its messages about every
// second, each time as a new gossip message, for as long as a height
// waits (for validators that are down, say). A copy of a counted message
// does not count again, so a validator's votes keep going out however long
// the height lasts; a copy sooner than minRepeat after the last is dropped
// before its signature is checked.
func TestRelayRebroadcasts(t *testing.T) {
	h := newRelayHarness(t)
	f := h.f
	a := common.Address{0xa}
	prevote, proposal := h.fresh(), h.fresh()
	src := pos.GossipSource{Signer: a, Height: 5}
	prop := pos.GossipSource{Signer: a, Height: 5, Proposal: true}
	for i := range 4 * maxRelayedPerHeight { // over an hour of re-sends at one a second
		if f.repeat(prevote) || f.repeat(proposal) {
			t.Fatalf("re-send %d a second after the last taken for a copy of moments ago", i)
		}
		if err := f.count(src, prevote, 4); err != nil {
			t.Fatalf("re-send %d of the prevote: %v", i, err)
		}
		if err := f.count(prop, proposal, 4); err != nil {
			t.Fatalf("re-send %d of the proposal: %v", i, err)
		}
		h.at = h.at.Add(time.Second)
	}
	// A new message of the height still counts as the third.
	if err := f.count(src, h.fresh(), 4); err != nil {
		t.Fatalf("a new vote after the re-sends: %v", err)
	}
	if c := f.relayed[relayKey{a, 5}]; c.msgs != 3 || c.proposals != 1 {
		t.Fatalf("counted: %d messages, %d proposals; want 3, 1", c.msgs, c.proposals)
	}
	// A copy moments after the last one is dropped, before and after the check.
	h.at = h.at.Add(minRepeat / 2)
	if err := f.count(src, prevote, 4); err != nil {
		t.Fatal(err)
	}
	h.at = h.at.Add(minRepeat / 2)
	if !f.repeat(prevote) {
		t.Fatal("a copy less than minRepeat after the last is not dropped before its check")
	}
	if err := f.count(src, prevote, 4); !ignored(err, errRepeat) {
		t.Fatalf("a copy less than minRepeat after the last: have %v, want ignored as a repeat", err)
	}
}

// TestRelayCopyBudget: the gossip envelope is not signed, so anyone can
// wrap a counted message again; one validator's copies at one height draw
// on a budget (copyBurst, refilled at copyRate a second), which the few
// messages the core re-sends each second stay within.
func TestRelayCopyBudget(t *testing.T) {
	h := newRelayHarness(t)
	f := h.f
	src := pos.GossipSource{Signer: common.Address{0xa}, Height: 5}
	msgs := make([]common.Hash, copyBurst+4)
	for i := range msgs {
		msgs[i] = h.fresh()
		if err := f.count(src, msgs[i], 4); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	h.at = h.at.Add(minRepeat)
	copies := func() (passed int) {
		for _, d := range msgs {
			if err := f.count(src, d, 4); err == nil {
				passed++
			} else if !ignored(err, errRelayBound) {
				t.Fatalf("a copy over the budget: have %v, want ignored over the relay bound", err)
			}
		}
		return passed
	}
	if n := copies(); n != copyBurst {
		t.Fatalf("copies let through at once: have %d, want %d", n, copyBurst)
	}
	h.at = h.at.Add(time.Second)
	if n := copies(); n != copyRate {
		t.Fatalf("copies let through a second later: have %d, want %d", n, copyRate)
	}
	// What the core re-sends (its proposal and two votes, a second apart)
	// goes on for as long as the height lasts.
	own := msgs[:3]
	for i := range 600 {
		h.at = h.at.Add(time.Second)
		for _, d := range own {
			if err := f.count(src, d, 4); err != nil {
				t.Fatalf("re-send %d: %v", i, err)
			}
		}
	}
}

// TestRelayFullProposalsAndCommits: a copy of a full proposal is not
// relayed (honest validators send proposals compact; only a relay that
// rebuilt one sends it full, and could send it again and again), and
// commits, whose signers are no one validator, are bounded together per
// height.
func TestRelayFullProposalsAndCommits(t *testing.T) {
	h := newRelayHarness(t)
	f := h.f
	full := pos.GossipSource{Signer: common.Address{0xa}, Height: 5, Proposal: true, Full: true}
	d := h.fresh()
	if err := f.count(full, d, 4); err != nil {
		t.Fatalf("a full proposal: %v", err)
	}
	h.at = h.at.Add(time.Minute)
	if !f.repeat(d) {
		t.Fatal("a copy of a full proposal a minute later is not dropped before its check")
	}
	if err := f.count(full, d, 4); !ignored(err, errRepeat) {
		t.Fatalf("a copy of a full proposal a minute later: have %v, want ignored as a repeat", err)
	}
	commit := pos.GossipSource{Height: 5}
	for i := range maxRelayedCommits {
		if err := f.count(commit, h.fresh(), 4); err != nil {
			t.Fatalf("commit %d at height 5: %v", i, err)
		}
	}
	if err := f.count(commit, h.fresh(), 4); !ignored(err, errRelayBound) {
		t.Fatalf("commit %d at height 5: have %v, want ignored over the relay bound", maxRelayedCommits+1, err)
	}
	if err := f.count(pos.GossipSource{Height: 6}, h.fresh(), 4); err != nil {
		t.Fatalf("a commit of the next height: %v", err)
	}
}
