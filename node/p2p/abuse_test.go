package p2p

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// rogue is a member's key on a bare libp2p host with a pubsub router that
// validates nothing: it sends whatever a test tells it to.
type rogue struct {
	host   host.Host
	topics map[string]*pubsub.Topic
}

func newRogue(t *testing.T, name string, genesis [32]byte) *rogue {
	t.Helper()
	hk, err := HostKey(testKey(t, name))
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(libp2p.Identity(hk), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport), libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithFloodPublish(true), pubsub.WithMaxMessageSize(maxGossipMessage),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign), pubsub.WithNoAuthor(), pubsub.WithMessageIdFn(msgID))
	if err != nil {
		t.Fatal(err)
	}
	r := &rogue{host: h, topics: make(map[string]*pubsub.Topic)}
	txs, blocks, _ := Topics(genesis)
	for _, name := range []string{txs, blocks} {
		tp, err := ps.Join(name)
		if err != nil {
			t.Fatal(err)
		}
		r.topics[name] = tp
	}
	return r
}

func (r *rogue) publish(t *testing.T, topic string, data []byte) {
	t.Helper()
	if err := r.topics[topic].Publish(context.Background(), data); err != nil {
		t.Fatalf("rogue publish: %v", err)
	}
}

// request sends raw bytes as a sync request and returns the decoded answer.
func (r *rogue) request(t *testing.T, to peer.ID, raw []byte) error {
	t.Helper()
	st, err := r.host.NewStream(context.Background(), to, SyncProtocol)
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	defer st.Close()
	if _, err := st.Write(raw); err != nil {
		return err
	}
	_ = st.CloseWrite()
	resp, err := readFrame(st, maxBlocksPayload)
	if err != nil {
		return err
	}
	_, err = decodeResponse(resp)
	return err
}

// TestMisbehavingPeer: a member relaying malformed, oversized, badly
// signed and replayed gossip and sending malformed and excessive sync
// requests is refused message by message; the node stays up, keeps its
// other peer and nothing bad reaches that peer.
func TestMisbehavingPeer(t *testing.T) {
	g := testGenesis(t)
	nodeChain := newTestChain(t, g, "B")
	nodeChain.extend(5, nil)
	node := startNode(t, "B", nodeChain, nil)
	good := startNode(t, "A", newTestChain(t, g, "A"), nil, withPeers(node))
	waitFor(t, "the good peer to sync", func() bool { return good.tc.head() == 5 })

	r := newRogue(t, "C", nodeChain.chain.GenesisHash())
	if err := r.host.Connect(context.Background(), peer.AddrInfo{ID: node.ID(), Addrs: node.host.Addrs()}); err != nil {
		t.Fatalf("rogue connect: %v", err)
	}
	txTopic, blockTopic, _ := Topics(nodeChain.chain.GenesisHash())
	waitFor(t, "the rogue in the node's topics", func() bool {
		return len(r.topics[txTopic].ListPeers()) == 1 && len(r.topics[blockTopic].ListPeers()) == 1
	})
	// The node forwards to its mesh, which gossipsub forms at heartbeats.
	waitFor(t, "the good peer in the node's transaction mesh", func() bool {
		return len(node.logs.lines("dd mesh link", good.ID().String(), txTopic)) > 0
	})

	// A valid transaction is taken and relayed; its replay in another
	// batch and the replay of an old block are dropped without penalty.
	valid := transfer(t, "C", 0, addrOf(t, "A"))
	known, _ := rlp.EncodeToBytes(&gossipBlock{Block: nodeChain.chain.GetBlockByNumber(3)})
	r.publish(t, txTopic, batchOf(t, valid))
	r.publish(t, txTopic, batchOf(t, valid, valid))
	r.publish(t, blockTopic, known)
	waitFor(t, "the valid transaction to reach the good peer", func() bool {
		return good.tc.pool.Has(valid.Hash())
	})
	waitFor(t, "the replayed block to be ignored", func() bool {
		return len(node.logs.lines("gossip ignored", "already known")) > 0
	})

	// Each bad payload is rejected. Invalid messages cost the sender
	// 10 x (count per topic)^2: the sixth takes the rogue below the graylist
	// threshold.
	head := nodeChain.chain.CurrentBlock()
	next := nodeChain.mine(head, nil, 1)
	tampered := next.WithBody(types.Body{Transactions: []*types.Transaction{valid}})
	tamperedRaw, _ := rlp.EncodeToBytes(tampered)
	hdr := next.Header()
	hdr.Extra = bytes.Repeat([]byte{7}, 65)
	forged, _ := rlp.EncodeToBytes(&gossipBlock{Block: types.NewBlockWithHeader(hdr)})
	// A batch with one transaction whose signature recovers no sender.
	v, _, sv := valid.RawSignatureValues()
	sig := append(append(make([]byte, 32), common.BigToHash(sv).Bytes()...), byte(v.Uint64()))
	badSig, err := transfer(t, "C", 1, addrOf(t, "A")).WithSignature(types.NewLondonSigner(big.NewInt(testChainID)), sig)
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		topic string
		data  []byte
	}{
		{txTopic, []byte("not a batch")},
		{txTopic, bytes.Repeat([]byte{0xab}, maxBatchGossip+1)},
		{txTopic, batchOf(t, transfer(t, "C", 2, addrOf(t, "A")), badSig)},
		{blockTopic, []byte{0xf9, 0xff, 0xff, 0x00}},
		{blockTopic, tamperedRaw},
		{blockTopic, forged}, // sealed by nobody
	}
	for _, m := range bad {
		r.publish(t, m.topic, m.data)
	}
	waitFor(t, "the node to reject the bad gossip", func() bool {
		return node.rejects(labelTxs) == 3 && node.rejects(labelBlocks) == 3
	})
	// The reject counter moves inside the validator; the penalty is
	// recorded after it returns, on pubsub's goroutine. Until the last one
	// is, the rogue is not yet graylisted (one failed CI run sent next1 in
	// that gap, and it was read). So probe first, one message at a time:
	// batches of the pooled valid transaction, ignored without penalty
	// while the rogue is heard, until one is dropped as graylisted. (A
	// batch of two copies was sent above: a message sent twice is a
	// duplicate and never reaches the validator, so probes start at three.)
	rogue := r.host.ID().String()
	graylisted := func() int { return len(node.logs.lines("graylisted peer", rogue)) }
	for k := 3; graylisted() == 0; k++ {
		ignored, gray := len(node.logs.lines("gossip ignored", rogue)), graylisted()
		r.publish(t, txTopic, batchOf(t, slices.Repeat([]*types.Transaction{valid}, k)...))
		waitFor(t, "the probe to be ignored or dropped", func() bool {
			return graylisted() > gray || len(node.logs.lines("gossip ignored", rogue)) > ignored
		})
	}
	// Graylisted, the rogue's next valid transaction is dropped unread.
	next1 := transfer(t, "C", 1, addrOf(t, "A"))
	seen := graylisted()
	r.publish(t, txTopic, batchOf(t, next1))
	waitForOr(t, "the rogue's transaction to be dropped as graylisted", func() bool {
		return graylisted() > seen
	}, func() string {
		// Seen once under a loaded CI run and not since: say whether the
		// message arrived, was read, or the rogue was disconnected.
		return fmt.Sprintf("rogue connected %v, its transaction pooled %v, rejects %v/%v; the node's log about the rogue:\n%s",
			node.host.Network().Connectedness(r.host.ID()) == network.Connected, node.tc.pool.Has(next1.Hash()),
			node.rejects(labelTxs), node.rejects(labelBlocks), strings.Join(node.logs.lines(r.host.ID().String()), "\n"))
	})
	if node.tc.pool.Has(next1.Hash()) {
		t.Fatal("the graylisted rogue's transaction was read")
	}

	// Sync: malformed and oversized requests get an error answer.
	req := func(v any) []byte {
		b, _ := rlp.EncodeToBytes(v)
		return frame(b)
	}
	sync := []struct {
		name string
		raw  []byte
		err  error
	}{
		{"oversized length", binary.AppendUvarint(nil, 1<<40), errRemote},
		{"over the request limit", frame(make([]byte, maxRequestFrame+1)), errRemote},
		{"not rlp", frame([]byte{0xff, 0xff}), errRemote},
		{"unknown kind", req(&request{Kind: 9}), errRemote},
		{"zero count", req(&request{Kind: kindBlocks, From: 1}), errRemote},
		{"truncated", []byte{0x05, 0x01}, errRemote},
		{"nothing", nil, errRemote},
		{"valid", req(&request{Kind: kindStatus}), nil},
		{"huge count is clamped", req(&request{Kind: kindBlocks, From: 1, Count: 1 << 50}), nil},
	}
	for _, s := range sync {
		if err := r.request(t, node.ID(), s.raw); !errors.Is(err, s.err) {
			t.Fatalf("%s: have %v, want %v", s.name, err, s.err)
		}
	}
	// A flood of requests runs into the rate limit.
	limited := false
	for i := 0; i < 2*DefaultRequestBurst && !limited; i++ {
		limited = errors.Is(r.request(t, node.ID(), req(&request{Kind: kindStatus})), errRateLimited)
	}
	if !limited {
		t.Fatalf("%d requests at once were never rate limited", 2*DefaultRequestBurst)
	}

	// The node is up, still has its good peer and serves it.
	if !node.hasPeer(good) || !good.hasPeer(node) {
		t.Fatalf("the good peer was dropped")
	}
	client := &streamClient{host: good.host, timeout: waitTimeout}
	if st, err := client.status(context.Background(), node.ID()); err != nil || st.Number != 5 {
		t.Fatalf("status for the good peer: have %+v %v, want number 5", st, err)
	}
	node.tc.extend(1, nil)
	waitFor(t, "a new block to reach the good peer", func() bool { return good.tc.head() == 6 })
	if n := good.rejects(labelTxs) + good.rejects(labelBlocks); n != 0 {
		t.Fatalf("bad gossip reached the good peer: %v rejects", n)
	}
	if n := node.rejects(labelTxs) + node.rejects(labelBlocks); n != 6 {
		t.Fatalf("rejects: have %v, want 6 (replays are not rejects)", n)
	}
	if node.host.Network().Connectedness(r.host.ID()) != network.Connected {
		t.Fatalf("the rogue was disconnected: scoring only stops listening to it")
	}
}

// batchOf encodes txs as one gossip batch.
func batchOf(t *testing.T, txs ...*types.Transaction) []byte {
	t.Helper()
	raw := make([][]byte, len(txs))
	for i, tx := range txs {
		b, err := tx.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		raw[i] = b
	}
	data, err := encodeBatch(raw)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
