package p2p

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// TestSyncBehind: a member 300 blocks behind connects to one at the head
// and syncs to it; then blocks the leader produces and transactions its
// pool takes in reach the follower by gossip.
func TestSyncBehind(t *testing.T) {
	g := testGenesis(t)
	leaderChain := newTestChain(t, g, "A")
	leaderChain.extend(300, nil)
	leader := startNode(t, "A", leaderChain, nil)

	followerChain := newTestChain(t, g, "B")
	follower := startNode(t, "B", followerChain, nil, withPeers(leader))

	waitFor(t, "the follower to sync 300 blocks", func() bool {
		return followerChain.chain.CurrentBlock().Hash() == leaderChain.chain.CurrentBlock().Hash() &&
			len(follower.logs.lines("sync finished", "blocks_per_sec")) > 0
	})
	if have := counterValue(follower.metrics.blocks); have != 300 {
		t.Fatalf("blocks imported: have %v, want 300", have)
	}
	waitFor(t, "the sync height metric", func() bool { return counterValue(follower.metrics.height) == 300 })
	if have, want := follower.Peers(), []string{addrOf(t, "A").Hex()}; len(have) != 1 || have[0].Hex() != want[0] {
		t.Fatalf("follower's peers: have %v, want %v", have, want)
	}
	waitFor(t, "both nodes in each other's gossip mesh", func() bool {
		return len(leader.blockTopic.ListPeers()) == 1 && len(follower.txTopic.ListPeers()) == 1
	})

	// A block the leader produces is announced and imported.
	leaderChain.extend(1, nil)
	waitFor(t, "the follower to import the gossiped block", func() bool {
		return followerChain.head() == 301
	})

	// A transaction the leader's pool takes in reaches the follower's pool.
	tx := transfer(t, "C", 0, addrOf(t, "A"))
	if err := leaderChain.pool.Add(tx); err != nil {
		t.Fatalf("pool: %v", err)
	}
	waitFor(t, "the transaction in the follower's pool", func() bool {
		return followerChain.pool.Has(tx.Hash())
	})
	if n := follower.rejects(labelTxs) + follower.rejects(labelBlocks); n != 0 {
		t.Fatalf("honest gossip rejected %v times", n)
	}
}

// TestNonMemberRefused: a node with a valid key that is not a member can
// neither be dialled by a member nor dial one; the member logs why.
func TestNonMemberRefused(t *testing.T) {
	g := testGenesis(t)
	member := startNode(t, "A", newTestChain(t, g, "A"), nil)
	outsider := startNode(t, "D", newTestChain(t, g, "D"), nil)
	ctx := context.Background()

	if err := member.Connect(ctx, outsider.Addrs()[0]); err == nil {
		t.Fatalf("member dialled a non-member")
	}
	if err := outsider.Connect(ctx, member.Addrs()[0]); err == nil {
		t.Fatalf("non-member connected to a member")
	}
	d := outsider.ID().String()
	for _, dir := range []string{"outbound", "inbound"} {
		waitFor(t, dir+" refusal in the member's log", func() bool {
			return len(member.logs.lines("p2p connection refused", d, addrOf(t, "D").Hex(), "direction="+dir, "not a member")) > 0
		})
	}
	waitFor(t, "no connection either side", func() bool {
		return member.PeerCount() == 0 && outsider.PeerCount() == 0
	})
	if have := counterValue(member.metrics.peers); have != 0 {
		t.Fatalf("member's peers gauge: have %v, want 0", have)
	}
}

// TestRedial: a peer dropped by the other side is redialled.
func TestRedial(t *testing.T) {
	g := testGenesis(t)
	a := startNode(t, "A", newTestChain(t, g, "A"), nil)
	b := startNode(t, "B", newTestChain(t, g, "B"), nil, withPeers(a))
	waitFor(t, "B to dial A", func() bool { return b.hasPeer(a) && a.hasPeer(b) })
	// The gauge is read from the host when scraped, with no event to lag.
	if have := counterValue(b.metrics.peers); have != 1 {
		t.Errorf("B's peers gauge: have %v, want 1", have)
	}
	if err := a.host.Network().ClosePeer(b.ID()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("B's log:\n%s", b.logs)
		}
	}()
	waitFor(t, "B to redial A", func() bool {
		return len(b.logs.lines("peer connected", a.ID().String())) >= 2 && b.hasPeer(a)
	})
}

// TestMembershipLoss: when a peer stops being a member, the head change
// closes its connection and its redials are refused.
func TestMembershipLoss(t *testing.T) {
	g := testGenesis(t)
	members := newSetMembers(addrOf(t, "A"), addrOf(t, "B"))
	aChain := newTestChain(t, g, "A")
	a := startNode(t, "A", aChain, members)
	b := startNode(t, "B", newTestChain(t, g, "B"), nil, withPeers(a))
	waitFor(t, "B to connect", func() bool { return a.hasPeer(b) })

	members.remove(addrOf(t, "B"))
	aChain.extend(1, nil)
	waitFor(t, "A to close the connection to B", func() bool {
		return len(a.logs.lines("no longer a member", b.ID().String())) > 0 && !a.hasPeer(b)
	})
	waitFor(t, "B's redial refused by A", func() bool {
		return len(a.logs.lines("p2p connection refused", b.ID().String(), "direction=inbound")) > 0
	})
	if a.hasPeer(b) {
		t.Fatalf("B reconnected after losing membership")
	}
}

// TestConsensusTopic: consensus messages pass the engine's validator to
// subscribers on other members; rejected ones go nowhere.
func TestConsensusTopic(t *testing.T) {
	g := testGenesis(t)
	errBad := errors.New("bad vote")
	v := consensusFunc(func(_ common.Address, d []byte) error {
		if string(d) == "bad" {
			return errBad
		}
		return nil
	})
	withConsensus := func(c *Config) { c.Consensus = v }
	a := startNode(t, "A", newTestChain(t, g, "A"), nil, withConsensus)
	b := startNode(t, "B", newTestChain(t, g, "B"), nil, withConsensus, withPeers(a))
	plain := startNode(t, "C", newTestChain(t, g, "C"), nil)
	if err := plain.PublishConsensus(context.Background(), []byte("x")); !errors.Is(err, ErrNoConsensus) {
		t.Fatalf("publish without a consensus topic: have %v, want %v", err, ErrNoConsensus)
	}

	ch := make(chan ConsensusMessage, 4)
	sub := b.SubscribeConsensus(ch)
	defer sub.Unsubscribe()
	waitFor(t, "A and B in the consensus mesh", func() bool { return len(a.consTopic.ListPeers()) == 1 })
	// A's own validator passes what it publishes; B's rejects "bad".
	for _, m := range []string{"bad", "good"} {
		if err := a.PublishConsensus(context.Background(), []byte(m)); err != nil {
			t.Fatalf("publish %s: %v", m, err)
		}
	}
	select {
	case msg := <-ch:
		if string(msg.Data) != "good" || msg.From != addrOf(t, "A") {
			t.Fatalf("delivered: have %s from %s, want good from %s", msg.Data, msg.From.Hex(), addrOf(t, "A").Hex())
		}
	case <-time.After(waitTimeout):
		t.Fatalf("no consensus message delivered")
	}
	waitFor(t, "B to count the rejected message", func() bool { return b.rejects(labelConsensus) == 1 })
}

func TestTopicsNameTheNetwork(t *testing.T) {
	g1, g2 := common.Hash{1}, common.Hash{2}
	tx1, b1, c1 := Topics(g1)
	tx2, _, _ := Topics(g2)
	if tx1 == tx2 {
		t.Fatalf("two genesis hashes share topic %s", tx1)
	}
	prefix := fmt.Sprintf("/arbiter/%x", g1[:8])
	if tx1 != prefix+"/txs/3" || b1 != prefix+"/blocks/2" || c1 != prefix+"/consensus/1" {
		t.Fatalf("topics: have %s %s %s, want %s/...", tx1, b1, c1, prefix)
	}
	if s1 := SendersTopic(g1); s1 != prefix+"/senders/1" || s1 == SendersTopic(g2) {
		t.Fatalf("senders topic: have %s, want %s/senders/1", s1, prefix)
	}
}

// TestUnknownParentTriggersSync: a gossiped block whose parent is unknown
// makes the receiver sync from its publisher at once, without waiting for
// the periodic status round.
func TestUnknownParentTriggersSync(t *testing.T) {
	g := testGenesis(t)
	aChain := newTestChain(t, g, "A")
	noPolling := func(c *Config) { c.Limits.SyncInterval = time.Hour }
	a := startNode(t, "A", aChain, nil, noPolling)
	bChain := newTestChain(t, g, "B")
	b := startNode(t, "B", bChain, nil, noPolling, withPeers(a))
	waitFor(t, "A and B in each other's block topic", func() bool {
		return len(a.blockTopic.ListPeers()) == 1 && len(b.blockTopic.ListPeers()) == 1
	})
	// Blocks A takes in quietly (as if from a third member), then one it
	// produces and announces.
	quiet := aChain.mine(aChain.chain.CurrentBlock(), nil, 1)
	for i := 0; i < 20; i++ {
		a.markSeen(quiet.Hash())
		if err := aChain.chain.InsertBlock(quiet); err != nil {
			t.Fatal(err)
		}
		quiet = aChain.mine(quiet, nil, 1)
	}
	if bChain.head() != 0 {
		t.Fatalf("B moved before the announcement: %d", bChain.head())
	}
	aChain.extend(1, nil)
	waitFor(t, "B to sync after the unknown-parent block", func() bool {
		return bChain.chain.CurrentBlock().Hash() == aChain.chain.CurrentBlock().Hash()
	})
	if len(b.logs.lines("unknown parent")) == 0 {
		t.Fatalf("sync not triggered by the gossiped block")
	}
}
