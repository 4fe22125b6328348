package posval

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/node/p2p"
)

// TestRelayBoundPerValidator: the consensus filter relays at most
// maxRelayedPerHeight validly signed messages of one validator for one
// height, and at most maxRelayedProposals proposals among them; more are
// dropped quietly (ErrIgnore: they are correct messages, not a peer's
// fault). Other validators and later heights are not held back, and the
// counts of heights the head reached are dropped.
func TestRelayBoundPerValidator(t *testing.T) {
	f := &consensusFilter{relayed: make(map[relayKey]*relayCount)}
	a, b := common.Address{0xa}, common.Address{0xb}
	vote := func(s common.Address, h uint64) pos.GossipSource { return pos.GossipSource{Signer: s, Height: h} }
	prop := func(s common.Address, h uint64) pos.GossipSource {
		return pos.GossipSource{Signer: s, Height: h, Proposal: true}
	}
	ignored := func(err error) bool { return errors.Is(err, p2p.ErrIgnore) && errors.Is(err, errRelayBound) }

	for i := range maxRelayedProposals {
		if err := f.count(prop(a, 5), 4); err != nil {
			t.Fatalf("proposal %d of a at height 5: %v", i, err)
		}
	}
	if err := f.count(prop(a, 5), 4); !ignored(err) {
		t.Fatalf("proposal %d of a: have %v, want ignored over the relay bound", maxRelayedProposals+1, err)
	}
	for i := maxRelayedProposals; i < maxRelayedPerHeight; i++ {
		if err := f.count(vote(a, 5), 4); err != nil {
			t.Fatalf("message %d of a at height 5: %v", i, err)
		}
	}
	if err := f.count(vote(a, 5), 4); !ignored(err) {
		t.Fatalf("message %d of a: have %v, want ignored over the relay bound", maxRelayedPerHeight+1, err)
	}
	if err := f.count(prop(b, 5), 4); err != nil {
		t.Fatalf("another validator at the same height: %v", err)
	}
	if err := f.count(vote(a, 6), 4); err != nil {
		t.Fatalf("a at the next height: %v", err)
	}
	// The head reaches 5: its counts go, the next height's stay.
	if err := f.count(vote(b, 6), 5); err != nil {
		t.Fatal(err)
	}
	if len(f.relayed) != 2 {
		t.Fatalf("counts kept after the head moved to 5: have %d, want 2 (a and b at height 6)", len(f.relayed))
	}
}
