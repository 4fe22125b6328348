package posval

import (
	"encoding/binary"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/node/p2p"
)

// relayHarness drives a consensus filter with messages it makes up, a
// check that knows their sources and counts its calls, a head it sets and
// a clock it moves.
type relayHarness struct {
	t      *testing.T
	f      *consensusFilter
	at     time.Time
	head   uint64
	seq    uint64
	srcs   map[string]pos.GossipSource
	checks int // calls of the signature check
}

// The relaying peers of the tests.
var (
	honest = common.Address{0x01}
	rogue  = common.Address{0x02}
)

func newRelayHarness(t *testing.T) *relayHarness {
	h := &relayHarness{t: t, at: time.Unix(1000, 0), head: 4, srcs: make(map[string]pos.GossipSource)}
	h.f = newConsensusFilter(nil, nil)
	h.f.now = func() time.Time { return h.at }
	h.f.head = func() *types.Header { return &types.Header{Number: new(big.Int).SetUint64(h.head)} }
	h.f.check = func(msg []byte, head *types.Header) (pos.GossipSource, error) {
		h.checks++
		src, ok := h.srcs[string(msg)]
		switch {
		case !ok:
			return src, errors.New("not a message of the test")
		case src.Height <= head.Number.Uint64():
			return src, pos.ErrStaleMessage
		}
		return src, nil
	}
	return h
}

// fresh makes a message of src not made before.
func (h *relayHarness) fresh(src pos.GossipSource) []byte {
	h.seq++
	msg := binary.BigEndian.AppendUint64([]byte("msg"), h.seq)
	h.srcs[string(msg)] = src
	return msg
}

// send has from relay msg in a new envelope.
func (h *relayHarness) send(from common.Address, msg []byte) error {
	h.seq++
	data := binary.BigEndian.AppendUint64(make([]byte, 0, envelopeNonce+len(msg)), h.seq)
	return h.f.ValidateConsensus(from, append(data, msg...))
}

func ignored(err error, why error) bool { return errors.Is(err, p2p.ErrIgnore) && errors.Is(err, why) }

func vote(s common.Address, ht uint64) pos.GossipSource {
	return pos.GossipSource{Signer: s, Height: ht}
}

func proposal(s common.Address, ht uint64) pos.GossipSource {
	return pos.GossipSource{Signer: s, Height: ht, Proposal: true}
}

// TestRelayBoundPerValidator: the consensus filter relays at most
// maxRelayedPerHeight distinct validly signed messages of one validator
// for one height, and at most maxRelayedProposals proposals among them;
// more are dropped quietly (ErrIgnore: they are correct messages, not a
// peer's fault). Other validators and later heights are not held back, and
// the counts of heights the head reached are dropped.
func TestRelayBoundPerValidator(t *testing.T) {
	h := newRelayHarness(t)
	a, b := common.Address{0xa}, common.Address{0xb}
	for i := range maxRelayedProposals {
		if err := h.send(honest, h.fresh(proposal(a, 5))); err != nil {
			t.Fatalf("proposal %d of a at height 5: %v", i, err)
		}
	}
	if err := h.send(honest, h.fresh(proposal(a, 5))); !ignored(err, errRelayBound) {
		t.Fatalf("proposal %d of a: have %v, want ignored over the relay bound", maxRelayedProposals+1, err)
	}
	for i := maxRelayedProposals; i < maxRelayedPerHeight; i++ {
		if err := h.send(honest, h.fresh(vote(a, 5))); err != nil {
			t.Fatalf("message %d of a at height 5: %v", i, err)
		}
	}
	if err := h.send(honest, h.fresh(vote(a, 5))); !ignored(err, errRelayBound) {
		t.Fatalf("message %d of a: have %v, want ignored over the relay bound", maxRelayedPerHeight+1, err)
	}
	if err := h.send(honest, h.fresh(proposal(b, 5))); err != nil {
		t.Fatalf("another validator at the same height: %v", err)
	}
	if err := h.send(honest, h.fresh(vote(a, 6))); err != nil {
		t.Fatalf("a at the next height: %v", err)
	}
	// The head reaches 5: its counts go, the next height's stay.
	h.head = 5
	if err := h.send(honest, h.fresh(vote(b, 6))); err != nil {
		t.Fatal(err)
	}
	if len(h.f.relayed) != 2 || len(h.f.byDigest) != 2 {
		t.Fatalf("kept after the head moved to 5: %d counts and %d digests, want 2 and 2 (a and b at height 6)", len(h.f.relayed), len(h.f.byDigest))
	}
}

// TestRelayRebroadcasts: the core re-sends its messages about every
// second, each time as a new gossip message, for as long as a height
// waits (for validators that are down, say). A copy of a counted message
// does not count again, so a validator's votes keep going out however long
// the height lasts; a copy sooner than minRepeat after the last is dropped.
func TestRelayRebroadcasts(t *testing.T) {
	h := newRelayHarness(t)
	a := common.Address{0xa}
	prevote, prop := h.fresh(vote(a, 5)), h.fresh(proposal(a, 5))
	for i := range 4 * maxRelayedPerHeight { // over an hour of re-sends at one a second
		if err := h.send(honest, prevote); err != nil {
			t.Fatalf("re-send %d of the prevote: %v", i, err)
		}
		if err := h.send(honest, prop); err != nil {
			t.Fatalf("re-send %d of the proposal: %v", i, err)
		}
		h.at = h.at.Add(time.Second)
	}
	// A new message of the height still counts as the third.
	if err := h.send(honest, h.fresh(vote(a, 5))); err != nil {
		t.Fatalf("a new vote after the re-sends: %v", err)
	}
	if c := h.f.relayed[relayKey{a, 5}]; c.msgs != 3 || c.proposals != 1 {
		t.Fatalf("counted: %d messages, %d proposals; want 3, 1", c.msgs, c.proposals)
	}
	// A copy moments after the last one is dropped.
	h.at = h.at.Add(minRepeat / 2)
	if err := h.send(honest, prevote); err != nil {
		t.Fatal(err)
	}
	h.at = h.at.Add(minRepeat / 2)
	if err := h.send(rogue, prevote); !ignored(err, errRepeat) {
		t.Fatalf("a copy less than minRepeat after the last: have %v, want ignored as a repeat", err)
	}
}

// TestRelayCopiesNotCheckedAgain: a copy has the bytes, and so the digest,
// of a message whose signature was checked; while the head stays, it is
// decided on without checking it again. Once the head moves (the validator
// set or the proposer may change), the next copy is checked once more.
func TestRelayCopiesNotCheckedAgain(t *testing.T) {
	h := newRelayHarness(t)
	a := common.Address{0xa}
	msg := h.fresh(vote(a, 6))
	if err := h.send(honest, msg); err != nil {
		t.Fatal(err)
	}
	for range 3 * copyBurst {
		h.at = h.at.Add(minRepeat)
		h.send(rogue, msg)
	}
	if h.checks != 1 {
		t.Fatalf("signature checks for a message and its copies at one head: have %d, want 1", h.checks)
	}
	h.head = 5
	for range 3 {
		h.at = h.at.Add(minRepeat)
		if err := h.send(honest, msg); err != nil {
			t.Fatalf("a copy after the head moved: %v", err)
		}
	}
	if h.checks != 2 {
		t.Fatalf("signature checks after the head moved: have %d, want 2", h.checks)
	}
	// Once the head reaches the message's height, it is stale: dropped
	// quietly, and forgotten.
	h.head = 6
	h.at = h.at.Add(minRepeat)
	if err := h.send(honest, msg); !errors.Is(err, p2p.ErrIgnore) || !errors.Is(err, pos.ErrStaleMessage) {
		t.Fatalf("a copy at a decided height: have %v, want ignored as stale", err)
	}
	if len(h.f.byDigest) != 0 {
		t.Fatalf("digests kept after their height was decided: %d", len(h.f.byDigest))
	}
}

// TestRelayCopyBudget: the gossip envelope is not signed, so anyone can
// wrap a counted message again; the copies one peer relays of one
// validator's messages at one height draw on that peer's budget
// (copyBurst, refilled at copyRate a second), which the few messages the
// core re-sends each second stay within.
func TestRelayCopyBudget(t *testing.T) {
	h := newRelayHarness(t)
	src := vote(common.Address{0xa}, 5)
	msgs := make([][]byte, copyBurst+4)
	for i := range msgs {
		msgs[i] = h.fresh(src)
		if err := h.send(honest, msgs[i]); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	h.at = h.at.Add(minRepeat)
	copies := func(from common.Address) (passed int) {
		for _, m := range msgs {
			if err := h.send(from, m); err == nil {
				passed++
			} else if !ignored(err, errRelayBound) {
				t.Fatalf("a copy over the budget: have %v, want ignored over the relay bound", err)
			}
		}
		return passed
	}
	if n := copies(honest); n != copyBurst {
		t.Fatalf("copies let through at once: have %d, want %d", n, copyBurst)
	}
	h.at = h.at.Add(time.Second)
	if n := copies(honest); n != copyRate {
		t.Fatalf("copies let through a second later: have %d, want %d", n, copyRate)
	}
	// What the core re-sends (its proposal and two votes, a second apart)
	// goes on for as long as the height lasts.
	own := msgs[:3]
	for i := range 600 {
		h.at = h.at.Add(time.Second)
		for _, m := range own {
			if err := h.send(honest, m); err != nil {
				t.Fatalf("re-send %d: %v", i, err)
			}
		}
	}
}

// TestRelayCopyBudgetPerPeer: a member that wraps a validator's messages
// again and again spends its own copy budget, not an honest relay's: the
// honest relay's re-sends still go through, and a rogue copy refused over
// its budget does not hold back the honest copy that follows it.
func TestRelayCopyBudgetPerPeer(t *testing.T) {
	h := newRelayHarness(t)
	a := common.Address{0xa}
	msgs := [][]byte{h.fresh(proposal(a, 5))}
	for len(msgs) < 3*copyRate {
		msgs = append(msgs, h.fresh(vote(a, 5)))
	}
	for _, m := range msgs {
		if err := h.send(honest, m); err != nil {
			t.Fatal(err)
		}
	}
	own := msgs[:3] // what the core re-sends: its proposal and two votes
	passed := 0
	for i := range 120 {
		// The rogue member sends copies of every message of the height
		// four times a second, three times what its budget refills.
		for range 4 {
			h.at = h.at.Add(time.Second / 4)
			for _, m := range msgs {
				h.send(rogue, m)
			}
		}
		// The honest relay's re-sends, once a second, are not held back.
		for j, m := range own {
			err := h.send(honest, m)
			switch {
			case err == nil:
				passed++
			case !ignored(err, errRepeat):
				t.Fatalf("second %d: the honest re-send of message %d: %v", i, j, err)
			}
		}
	}
	if passed == 0 {
		t.Fatal("no honest re-send went through in two minutes")
	}
	// A rogue copy refused over the rogue's budget leaves no mark: an
	// honest copy of the same message right after it goes through.
	h.at = h.at.Add(minRepeat)
	for _, m := range msgs {
		err := h.send(rogue, m)
		if err == nil {
			continue
		}
		if !ignored(err, errRelayBound) {
			t.Fatalf("a rogue copy: have %v, want ignored over the relay bound", err)
		}
		if err := h.send(honest, m); err != nil {
			t.Fatalf("an honest copy after a refused rogue copy: %v", err)
		}
		return
	}
	t.Fatal("the rogue's copies were never refused over its budget")
}

// TestRelayFullProposalsAndCommits: a copy of a full proposal is not
// relayed (honest validators send proposals compact; only a relay that
// rebuilt one sends it full, and could send it again and again), and
// commits, whose signers are no one validator, are bounded together per
// height.
func TestRelayFullProposalsAndCommits(t *testing.T) {
	h := newRelayHarness(t)
	full := pos.GossipSource{Signer: common.Address{0xa}, Height: 5, Proposal: true, Full: true}
	m := h.fresh(full)
	if err := h.send(honest, m); err != nil {
		t.Fatalf("a full proposal: %v", err)
	}
	h.at = h.at.Add(time.Minute)
	if err := h.send(honest, m); !ignored(err, errRepeat) {
		t.Fatalf("a copy of a full proposal a minute later: have %v, want ignored as a repeat", err)
	}
	h.at = h.at.Add(time.Minute)
	if err := h.send(rogue, m); !ignored(err, errRepeat) || h.checks != 1 {
		t.Fatalf("a copy of a full proposal: have %v after %d checks, want ignored as a repeat after 1", err, h.checks)
	}
	commit := pos.GossipSource{Height: 5}
	for i := range maxRelayedCommits {
		if err := h.send(honest, h.fresh(commit)); err != nil {
			t.Fatalf("commit %d at height 5: %v", i, err)
		}
	}
	if err := h.send(honest, h.fresh(commit)); !ignored(err, errRelayBound) {
		t.Fatalf("commit %d at height 5: have %v, want ignored over the relay bound", maxRelayedCommits+1, err)
	}
	if err := h.send(honest, h.fresh(pos.GossipSource{Height: 6})); err != nil {
		t.Fatalf("a commit of the next height: %v", err)
	}
}
