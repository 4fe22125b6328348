package p2p

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/rlp"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/node/chain"
)

// Metric labels of the topics.
const (
	labelTxs       = "txs"
	labelBlocks    = "blocks"
	labelConsensus = "consensus"
	labelSenders   = "senders"
)

// blockSubBuffer is how many validated blocks may wait for import before
// pubsub drops deliveries to the importer.
const blockSubBuffer = 256

// Topics returns the gossip topic names of the network whose genesis block
// hash is g: "/arbiter/<first 8 bytes of g in hex>/{txs/3,blocks/2,consensus/1}".
// Networks with different genesis blocks never share a topic. A txs/3
// message is a batch: the RLP list [transactions, senders, signature] of
// binary transaction encodings, the senders its origin claims and the
// origin's signature of the claim (see decodeEnvelope). A blocks/2 message is the RLP list [block, certificate]
// (see gossipBlock).
func Topics(g common.Hash) (txs, blocks, cons string) {
	prefix := "/arbiter/" + hex.EncodeToString(g[:8])
	return prefix + "/txs/3", prefix + "/blocks/2", prefix + "/consensus/1"
}

// SendersTopic returns the gossip topic name of sender attestations of the
// network whose genesis block hash is g:
// "/arbiter/<first 8 bytes of g in hex>/senders/1". A message is the RLP
// list [statement, signature] (see senders.go).
func SendersTopic(g common.Hash) string {
	return "/arbiter/" + hex.EncodeToString(g[:8]) + "/senders/1"
}

// gossipBlock is a message of the blocks topic: a block and, under a
// certifying engine, the certificate that it was decided (empty otherwise).
// Only certified blocks are gossiped there: a proposal travels as a
// consensus message.
type gossipBlock struct {
	Block *types.Block
	Cert  []byte
}

// msgID identifies a gossip message by the SHA-256 of its payload, so the
// same transaction or block published twice, by anyone, is one message.
// Every copy of every message is hashed before anything else, so the hash
// is the one this machine's CPU computes fastest (SHA-256 has instructions
// of its own on current x86 and ARM; keccak256 runs in plain Go), and
// collision resistant: a peer that could make another payload's id would
// have the real one dropped as already seen.
func msgID(m *pb.Message) string {
	h := sha256.Sum256(m.Data)
	return string(h[:])
}

// scoreParams enable gossipsub peer scoring. Topic scores reward time in
// the mesh and first deliveries, and punish invalid messages (the square of
// their decaying count), so a peer that keeps relaying what validation
// rejects drops below the gossip, publish and then graylist thresholds.
// Mesh delivery-rate penalties stay off: a consortium's traffic is sparse
// and bursty. IP colocation is off: members may share hosts.
func scoreParams(topics ...string) (*pubsub.PeerScoreParams, *pubsub.PeerScoreThresholds) {
	ts := make(map[string]*pubsub.TopicScoreParams, len(topics))
	for _, t := range topics {
		ts[t] = &pubsub.TopicScoreParams{
			TopicWeight:                    1,
			TimeInMeshWeight:               0.01,
			TimeInMeshQuantum:              time.Second,
			TimeInMeshCap:                  300,
			FirstMessageDeliveriesWeight:   0.5,
			FirstMessageDeliveriesDecay:    pubsub.ScoreParameterDecay(10 * time.Minute),
			FirstMessageDeliveriesCap:      20,
			InvalidMessageDeliveriesWeight: -10,
			InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(time.Hour),
		}
	}
	params := &pubsub.PeerScoreParams{
		Topics:                    ts,
		TopicScoreCap:             30,
		AppSpecificScore:          func(peer.ID) float64 { return 0 },
		AppSpecificWeight:         1,
		BehaviourPenaltyWeight:    -10,
		BehaviourPenaltyThreshold: 6,
		BehaviourPenaltyDecay:     pubsub.ScoreParameterDecay(10 * time.Minute),
		DecayInterval:             pubsub.DefaultDecayInterval,
		DecayToZero:               pubsub.DefaultDecayToZero,
		RetainScore:               30 * time.Minute,
	}
	// Invalid messages cost 10 x (their count in a topic)^2: a peer is
	// graylisted after about five, spread over two topics.
	thresholds := &pubsub.PeerScoreThresholds{
		GossipThreshold:             -40,
		PublishThreshold:            -80,
		GraylistThreshold:           -150,
		AcceptPXThreshold:           100,
		OpportunisticGraftThreshold: 5,
	}
	return params, thresholds
}

// Queue sizes of the gossip router. The defaults (32) drop messages under
// a burst of transactions: outbound when a peer's queue is full, inbound
// when validation falls behind.
const (
	peerOutboundQueue = 1024
	validateQueue     = 1024
)

// newGossipSub creates the gossip router. Messages are neither signed nor
// carry an author (StrictNoSign, no author): the connection gater admits
// only members, so the peer a message arrives from is a member; blocks
// carry their seals and certificates, consensus messages their validator's
// signature, transactions their sender's. A per-message libp2p signature
// added nothing but the cost of signing and verifying every message.
func newGossipSub(ctx context.Context, h host.Host, log *slog.Logger, topics ...string) (*pubsub.PubSub, error) {
	params, thresholds := scoreParams(topics...)
	return pubsub.NewGossipSub(ctx, h,
		pubsub.WithLogger(log.With("module", "pubsub")),
		pubsub.WithMessageIdFn(msgID),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithPeerOutboundQueueSize(peerOutboundQueue),
		pubsub.WithValidateQueueSize(validateQueue),
		pubsub.WithPeerScore(params, thresholds),
		pubsub.WithMaxMessageSize(maxGossipMessage),
		pubsub.WithPeerExchange(false),
		// Flood publishing (off by default in this version) sends what this
		// node publishes to every topic peer, not only to its mesh, which
		// may still be empty right after a connection: in a consortium of a
		// handful of members it costs little.
		pubsub.WithFloodPublish(true),
	)
}

// joinTopics joins the gossip topics with their validators.
func (n *Node) joinTopics() error {
	txs, blocks, cons := Topics(n.cfg.GenesisHash)
	var err error
	if n.quorum != nil {
		// Before the transaction topic, whose checks may publish an
		// attestation as soon as it is joined.
		if n.sendersTopic, n.sendersSub, err = n.join(SendersTopic(n.cfg.GenesisHash), n.validator(labelSenders, n.checkSendersMsg), 0); err != nil {
			return err
		}
	}
	if n.txTopic, n.txSub, err = n.join(txs, n.validator(labelTxs, n.checkTxMsg), 0); err != nil {
		return err
	}
	if n.blockTopic, n.blockSub, err = n.join(blocks, n.validator(labelBlocks, n.checkBlockMsg), blockSubBuffer); err != nil {
		return err
	}
	if n.cfg.Consensus != nil {
		if n.consTopic, n.consSub, err = n.join(cons, n.validator(labelConsensus, n.checkConsensusMsg), 0); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) join(name string, v pubsub.ValidatorEx, buffer int) (*pubsub.Topic, *pubsub.Subscription, error) {
	if err := n.ps.RegisterTopicValidator(name, v); err != nil {
		return nil, nil, err
	}
	t, err := n.ps.Join(name)
	if err != nil {
		return nil, nil, err
	}
	var opts []pubsub.SubOpt
	if buffer > 0 {
		opts = append(opts, pubsub.WithBufferSize(buffer))
	}
	s, err := t.Subscribe(opts...)
	if err != nil {
		return nil, nil, err
	}
	return t, s, nil
}

// checkFunc decides on a payload relayed by a member; it returns what the
// delivery loop needs (the decoded value) as validator data.
type checkFunc func(data []byte, from common.Address) (pubsub.ValidationResult, any, error)

// validator wraps a topic's check: messages published by this node pass;
// others must come from a peer that is a member now (messages are
// unsigned: the peer that relayed one answers for it), then the topic's
// check decides.
func (n *Node) validator(topic string, check checkFunc) pubsub.ValidatorEx {
	return func(_ context.Context, src peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		if src == n.host.ID() {
			return accept
		}
		var (
			res  = reject
			data any
			err  error
		)
		if from, aerr := AddressOf(src); aerr != nil {
			err = aerr
		} else if !n.members.IsMember(from) {
			err = errNotMember
		} else {
			res, data, err = check(msg.Data, from)
		}
		switch res {
		case reject:
			n.metrics.reject(topic)
			n.log.Debug("gossip rejected", "topic", topic, "via", src, "err", err)
		case ignore:
			n.log.Debug("gossip ignored", "topic", topic, "via", src, "err", err)
			if errors.Is(err, errUnknownParent) {
				n.syncer.hint(src) // it holds the parent we lack
			}
		default:
			msg.ValidatorData = data
		}
		return res
	}
}

func (n *Node) checkTxMsg(data []byte, from common.Address) (pubsub.ValidationResult, any, error) {
	if n.cfg.dropTxGossip {
		return ignore, nil, errDropped
	}
	res, c, err := checkTxBatch(data, n.cfg.Rules, n.pool, n.relayed, n.claims, n.quorum, from)
	n.metrics.gossipTxs(c.took)
	n.metrics.recoveredTxs(c.recovered)
	n.metrics.trustedTxs(c.trusted)
	if c.attested {
		n.metrics.attested.Inc()
	}
	if res == accept {
		n.metrics.passedOn.Inc()
	}
	return res, nil, err
}

// errAttestRate: a member relayed attestations faster than its budget.
var errAttestRate = errors.New("attestations over the relaying member's budget")

// checkSendersMsg decides on a sender attestation relayed by from: within
// from's budget, well formed, signed by a validator deciding the next
// block. Anyone else's is dropped quietly (the validators may just have
// changed); a bad signature is the relaying peer's fault.
func (n *Node) checkSendersMsg(data []byte, from common.Address) (pubsub.ValidationResult, any, error) {
	if !n.quorum.allowRelay(from) {
		return ignore, nil, errAttestRate
	}
	s, signer, err := decodeAttestation(data)
	if err != nil {
		return reject, nil, err
	}
	vals, _, ok := n.cfg.Attesters.Powers()
	if !ok || !slices.ContainsFunc(vals, func(v Power) bool { return v.Address == signer }) {
		return ignore, nil, fmt.Errorf("%w: %s is not a validator", errAttestation, signer)
	}
	n.quorum.add(signer, s)
	return accept, nil, nil
}

func (n *Node) checkBlockMsg(data []byte, _ common.Address) (pubsub.ValidationResult, any, error) {
	res, b, err := n.blocks.check(data)
	return res, b, err
}

func (n *Node) checkConsensusMsg(data []byte, from common.Address) (pubsub.ValidationResult, any, error) {
	res, err := checkConsensus(data, from, n.cfg.Limits.MaxConsensusMsg, n.cfg.Consensus)
	return res, ConsensusMessage{From: from, Data: data}, err
}

// deliverBlocks imports gossiped blocks that passed validation. A block
// whose parent is unknown makes the syncer compare status with its
// publisher.
func (n *Node) deliverBlocks() {
	for {
		msg, nerr := n.blockSub.Next(n.ctx)
		if nerr != nil {
			return
		}
		gb, ok := msg.ValidatorData.(*gossipBlock)
		if msg.ReceivedFrom == n.host.ID() || !ok {
			continue
		}
		b := gb.Block
		n.markSeen(b.Hash())
		var err error
		if gb.Cert != nil {
			err = n.chain.InsertCertified(b, gb.Cert)
		} else {
			err = n.chain.InsertBlock(b)
		}
		switch {
		case err == nil:
			n.metrics.imported(1)
			n.log.Debug("imported gossiped block", "number", b.NumberU64(), "hash", b.Hash())
		case errors.Is(err, chain.ErrKnownBlock):
		case errors.Is(err, consensus.ErrUnknownAncestor):
			src := msg.ReceivedFrom
			n.log.Debug("gossiped block has an unknown parent; syncing", "number", b.NumberU64(), "peer", src)
			n.syncer.hint(src)
		default:
			n.log.Warn("gossiped block failed import", "number", b.NumberU64(), "hash", b.Hash(), "from", msg.GetFrom(), "err", err)
		}
	}
}

// drainTxs consumes the transaction subscription: this node's own batches
// and the peers' batches validation accepted, whose transactions are in the
// pool already.
func (n *Node) drainTxs() {
	for {
		if _, err := n.txSub.Next(n.ctx); err != nil {
			return
		}
	}
}

// txPeer reports whether the member addr is a direct peer on the
// transaction topic.
func (n *Node) txPeer(addr common.Address) bool {
	txs, _, _ := Topics(n.cfg.GenesisHash)
	for _, p := range n.ps.ListPeers(txs) {
		if a, err := AddressOf(p); err == nil && a == addr {
			return true
		}
	}
	return false
}

// drainSenders consumes the attestation subscription: validation recorded
// them already.
func (n *Node) drainSenders() {
	for {
		if _, err := n.sendersSub.Next(n.ctx); err != nil {
			return
		}
	}
}

// deliverConsensus hands validated consensus messages to subscribers.
func (n *Node) deliverConsensus() {
	for {
		msg, err := n.consSub.Next(n.ctx)
		if err != nil {
			return
		}
		if cm, ok := msg.ValidatorData.(ConsensusMessage); ok && msg.ReceivedFrom != n.host.ID() {
			n.consFeed.Send(cm)
		}
	}
}

// PublishBlock gossips a block with its certificate (nil under an engine
// without certificates).
func (n *Node) PublishBlock(b *types.Block, cert []byte) error {
	data, err := rlp.EncodeToBytes(&gossipBlock{Block: b, Cert: cert})
	if err != nil {
		return err
	}
	return n.blockTopic.Publish(n.ctx, data)
}

// PublishConsensus gossips a consensus message. It fails with
// ErrNoConsensus when no consensus validator was configured.
func (n *Node) PublishConsensus(ctx context.Context, data []byte) error {
	if n.consTopic == nil {
		return ErrNoConsensus
	}
	return n.consTopic.Publish(ctx, data)
}

// SubscribeConsensus delivers validated consensus messages from other
// members. Delivery is synchronous: keep ch drained.
func (n *Node) SubscribeConsensus(ch chan<- ConsensusMessage) event.Subscription {
	return n.consFeed.Subscribe(ch)
}
