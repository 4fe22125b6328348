package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/p2p"
	"github.com/arbiter-chain/arbiter/node/txpool"
)

// WALFile is the validator's consensus write-ahead log in the data directory.
const WALFile = "consensus.wal"

// startValidator runs the BFT consensus driver for a proof-of-stake
// validator: consensus messages come from and go to the p2p consensus
// topic, proposals are built from the pool, judged by full validation,
// and decided blocks are imported and marked final.
func (n *Node) startValidator(ctx context.Context, eng *pos.Engine) error {
	inbound := make(chan []byte, 4096)
	var transport pos.Transport = dropTransport{}
	if n.p2p != nil {
		msgs := make(chan p2p.ConsensusMessage, 4096)
		sub := n.p2p.SubscribeConsensus(msgs)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer sub.Unsubscribe()
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-msgs:
					if len(m.Data) <= envelopeNonce {
						continue
					}
					select {
					case inbound <- m.Data[envelopeNonce:]:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
		seq := new(atomic.Uint64)
		seq.Store(uint64(time.Now().UnixNano())) // distinct across restarts
		transport = p2pTransport{ctx: ctx, node: n.p2p, log: n, seq: seq}
	}
	heads := make(chan pos.Decision, 64)
	headEvents := make(chan chain.HeadEvent, 64)
	hsub := n.chain.SubscribeChainHead(headEvents)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer hsub.Unsubscribe()
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-headEvents:
				// Under pos the chain's head is always a certified block;
				// the driver gets it with its commit, so it can propose
				// on it.
				commit, err := pos.DecodeCommit(ev.Certificate)
				if err != nil {
					n.log.Error("head without a certificate not passed to consensus", "number", ev.Block.NumberU64(), "err", err)
					continue
				}
				select {
				case heads <- pos.Decision{Block: ev.Block, Commit: *commit}:
				default: // the driver only needs the newest head
				}
			}
		}
	}()
	head := n.chain.CurrentBlock()
	var headCommit *pos.Commit
	if c, err := pos.DecodeCommit(n.chain.Certificate(head.Hash(), head.NumberU64())); err == nil {
		headCommit = c
	}
	d, err := pos.NewDriver(eng, pos.DriverConfig{
		Core:       consensusTimeouts(time.Duration(n.chain.Genesis().BlockTime)),
		WALPath:    filepath.Join(n.cfg.DataDir, WALFile),
		BlockTime:  time.Duration(n.chain.Genesis().BlockTime),
		Head:       head,
		HeadCommit: headCommit,
		Inbound:    inbound,
		Heads:      heads,
		Transport:  transport,
		Builder:    posBuilder{chain: n.chain, pool: n.pool},
		Validator:  n.chain,
		Committer:  posCommitter{chain: n.chain},
		Clock:      n.cfg.Clock,
		Logger:     n.log.With("module", "consensus"),
	})
	if err != nil {
		return fmt.Errorf("consensus driver: %w", err)
	}
	n.driver.Store(d)
	n.wg.Add(2)
	go func() {
		defer n.wg.Done()
		if err := d.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			n.log.Error("consensus stopped", "err", err)
		}
	}()
	go func() {
		defer n.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-d.Evidence():
				n.onEvidence(ev)
			}
		}
	}()
	return nil
}

// consensusTimeouts scales the round timeouts to the block time: a
// proposal is awaited four block times (between 1 s and 3 s), votes two
// (between 0.5 s and 1 s), each growing by 0.5 s a round. A fast network
// thus recovers quickly from a missed proposal, for instance when a node
// learnt the previous block by sync and has no commit to propose on.
func consensusTimeouts(blockTime time.Duration) pos.Config {
	ticks := func(d time.Duration) uint64 { return uint64(d / pos.DefaultTickInterval) }
	propose := min(max(4*blockTime, time.Second), 3*time.Second)
	vote := min(max(2*blockTime, 500*time.Millisecond), time.Second)
	delta := ticks(500 * time.Millisecond)
	var c pos.Config
	c.TimeoutPropose = pos.Timeout{Base: ticks(propose), Delta: delta}
	c.TimeoutPrevote = pos.Timeout{Base: ticks(vote), Delta: delta}
	c.TimeoutPrecommit = pos.Timeout{Base: ticks(vote), Delta: delta}
	return c
}

// onEvidence logs equivocation and, when the staking contract is enabled,
// submits the evidence for slashing.
func (n *Node) onEvidence(ev *pos.Evidence) {
	if ev == nil {
		return
	}
	who, _ := ev.VoteA.Signer(n.chain.ChainID())
	n.log.Warn("equivocation detected", "validator", who, "height", ev.VoteA.Height, "round", ev.VoteA.Round)
	if n.evidence != nil {
		n.evidence(ev)
	}
}

type dropTransport struct{}

func (dropTransport) Broadcast([]byte) {}

// envelopeNonce is the size of the nonce before every consensus message on
// the wire. Gossip identifies a message by the hash of its bytes and drops
// any it has seen for two minutes, including the publisher's own: without
// the nonce, the core's rebroadcast of a vote that was first published
// before the mesh formed would never leave the node, and a network whose
// members start a second apart could sit stuck for those two minutes.
const envelopeNonce = 8

type p2pTransport struct {
	ctx  context.Context
	node *p2p.Node
	log  *Node
	seq  *atomic.Uint64
}

func (t p2pTransport) Broadcast(msg []byte) {
	env := make([]byte, envelopeNonce+len(msg))
	binary.BigEndian.PutUint64(env, t.seq.Add(1))
	copy(env[envelopeNonce:], msg)
	if err := t.node.PublishConsensus(t.ctx, env); err != nil && t.ctx.Err() == nil {
		t.log.log.Debug("consensus publish failed", "err", err)
	}
}

// posBuilder builds proposals from the pool's pending transactions.
type posBuilder struct {
	chain *chain.Chain
	pool  *txpool.Pool
}

func (b posBuilder) BuildBlock(parent *types.Block, time uint64) (*types.Block, error) {
	built, err := b.chain.BuildBlock(parent, b.pool.Pending(), time)
	if err != nil {
		return nil, err
	}
	return built.Block, nil
}

// posCommitter imports a decided block with its commit: the chain makes
// it head and final.
type posCommitter struct{ chain *chain.Chain }

func (c posCommitter) Commit(block *types.Block, commit pos.Commit) error {
	if err := c.chain.InsertCertified(block, commit.Encode()); err != nil && !errors.Is(err, chain.ErrKnownBlock) {
		return err
	}
	return nil
}

// CommittedBlock serves a lagging validator: canonical block n with the
// commit stored with it.
func (c posCommitter) CommittedBlock(number uint64) (*types.Block, pos.Commit, bool) {
	b := c.chain.GetBlockByNumber(number)
	if b == nil {
		return nil, pos.Commit{}, false
	}
	commit, err := pos.DecodeCommit(c.chain.Certificate(b.Hash(), number))
	if err != nil {
		return nil, pos.Commit{}, false
	}
	return b, *commit, true
}

// consensusFilter is the gossip validator of the consensus topic: it
// delivers and relays only messages a validator of the current or next
// height signed (pos.Engine.CheckGossip), so junk is dropped at the first
// hop and counted against the peer that relayed it; messages for decided
// or far-off heights are dropped quietly.
type consensusFilter struct {
	engine *pos.Engine
	chain  *chain.Chain
}

func (f consensusFilter) ValidateConsensus(_ common.Address, data []byte) error {
	if len(data) <= envelopeNonce {
		return errShortEnvelope
	}
	err := f.engine.CheckGossip(data[envelopeNonce:], pos.DefaultMaxMessageSize, f.chain.CurrentHeader())
	if errors.Is(err, pos.ErrStaleMessage) || errors.Is(err, pos.ErrFutureMessage) {
		return fmt.Errorf("%w: %w", p2p.ErrIgnore, err)
	}
	return err
}

var errShortEnvelope = errors.New("consensus message shorter than its envelope")
