package posval

import (
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/event"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/p2p"
	"github.com/arbiter-chain/arbiter/node/txpool"
)

// WALFile is the validator's consensus write-ahead log in the data directory.
const WALFile = "consensus.wal"

// Network is what a validator needs of the p2p layer: the consensus topic,
// and fetching the transactions that fill a compact proposal.
// *p2p.Node satisfies it.
type Network interface {
	SubscribeConsensus(ch chan<- p2p.ConsensusMessage) event.Subscription
	PublishConsensus(ctx context.Context, data []byte) error
	txFetcher
}

// Config wires a validator to its node.
type Config struct {
	Engine  *pos.Engine
	Chain   *chain.Chain
	Pool    *txpool.Pool
	Net     Network // nil: a validator alone (tests, a one-member network)
	Key     *ecdsa.PrivateKey
	DataDir string
	Clock   func() time.Time
	Logger  *slog.Logger
	// Slash submits detected equivocation to the staking contract.
	Slash bool
	// Driver, if set, receives the consensus driver once it runs, for
	// read-only status queries (arbiter_status, arbiter_rounds).
	Driver *atomic.Pointer[pos.Driver]
}

// Validator runs the BFT consensus driver of a proof-of-stake validator:
// consensus messages come from and go to the p2p consensus topic,
// proposals are built from the pool and judged by full validation, and
// decided blocks are imported with their commit.
type Validator struct {
	cfg      Config
	log      *slog.Logger
	evidence *evidenceSubmitter
	wg       sync.WaitGroup
}

// IsValidator reports whether key validates the block after c's head.
func IsValidator(eng *pos.Engine, c *chain.Chain, key *ecdsa.PrivateKey) bool {
	head := c.CurrentBlock()
	set, err := eng.Validators().ValidatorSet(head.NumberU64()+1, head.Hash())
	return err == nil && set.Has(crypto.PubkeyToAddress(key.PublicKey))
}

// Start starts the validator's goroutines; they stop when ctx ends (Wait
// waits for them).
func Start(ctx context.Context, cfg Config) (*Validator, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	v := &Validator{cfg: cfg, log: cfg.Logger}
	if cfg.Slash {
		sub, err := newEvidenceSubmitter(&v.cfg)
		if err != nil {
			return nil, err
		}
		v.evidence = sub
	}
	if err := v.start(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// Wait waits for the validator's goroutines after its context ended.
func (v *Validator) Wait() { v.wg.Wait() }

func (v *Validator) start(ctx context.Context) error {
	c := v.cfg.Chain
	inbound := make(chan []byte, 4096)
	filled := make(chan pos.FilledProposal, 64)
	recent := new(recentBlocks) // built or filled here: own proposals go out compact without a decode
	var transport pos.Transport = dropTransport{}
	if v.cfg.Net != nil {
		msgs := make(chan p2p.ConsensusMessage, 4096)
		sub := v.cfg.Net.SubscribeConsensus(msgs)
		toCore := func(raw []byte) {
			select {
			case inbound <- raw:
			case <-ctx.Done():
			}
		}
		toCoreFilled := func(f pos.FilledProposal) {
			select {
			case filled <- f:
			case <-ctx.Done():
			}
		}
		fill := newFiller(ctx, c.ChainID(), v.cfg.Pool, v.cfg.Net, toCoreFilled, v.log.With("module", "consensus"))
		fill.blocks = recent
		v.wg.Add(1)
		go func() {
			defer v.wg.Done()
			defer fill.wait()
			defer sub.Unsubscribe()
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-msgs:
					if len(m.Data) <= envelopeNonce {
						continue
					}
					if raw := m.Data[envelopeNonce:]; pos.IsCompactProposal(raw) {
						fill.handle(raw)
					} else {
						toCore(raw)
					}
				}
			}
		}()
		seq := new(atomic.Uint64)
		seq.Store(uint64(time.Now().UnixNano())) // distinct across restarts
		transport = p2pTransport{ctx: ctx, net: v.cfg.Net, log: v.log, seq: seq, compact: &compactor{net: v.cfg.Net, chainID: c.ChainID(), key: v.cfg.Key, blocks: recent}}
	}
	heads := make(chan pos.Decision, 64)
	headEvents := make(chan chain.HeadEvent, 64)
	hsub := c.SubscribeChainHead(headEvents)
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
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
					v.log.Error("head without a certificate not passed to consensus", "number", ev.Block.NumberU64(), "err", err)
					continue
				}
				select {
				case heads <- pos.Decision{Block: ev.Block, Commit: *commit}:
				default: // the driver only needs the newest head
				}
			}
		}
	}()
	head := c.CurrentBlock()
	var headCommit *pos.Commit
	if hc, err := pos.DecodeCommit(c.Certificate(head.Hash(), head.NumberU64())); err == nil {
		headCommit = hc
	}
	d, err := pos.NewDriver(v.cfg.Engine, pos.DriverConfig{
		Core:       consensusTimeouts(time.Duration(c.Genesis().BlockTime)),
		WALPath:    filepath.Join(v.cfg.DataDir, WALFile),
		BlockTime:  time.Duration(c.Genesis().BlockTime),
		BuildLead:  buildLead(time.Duration(c.Genesis().BlockTime)),
		Head:       head,
		HeadCommit: headCommit,
		Inbound:    inbound,
		Filled:     filled,
		Heads:      heads,
		Transport:  transport,
		Builder:    posBuilder{chain: c, pool: v.cfg.Pool, budget: buildBudget(time.Duration(c.Genesis().BlockTime)), built: recent},
		Validator:  c,
		Committer:  posCommitter{chain: c},
		Clock:      v.cfg.Clock,
		Logger:     v.log.With("module", "consensus"),
	})
	if err != nil {
		return fmt.Errorf("consensus driver: %w", err)
	}
	if v.cfg.Driver != nil {
		v.cfg.Driver.Store(d)
	}
	v.wg.Add(2)
	go func() {
		defer v.wg.Done()
		if err := d.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			v.log.Error("consensus stopped", "err", err)
		}
	}()
	go func() {
		defer v.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-d.Evidence():
				v.onEvidence(ev)
			}
		}
	}()
	return nil
}

// timeNow reads the wall clock for the build budget, which bounds work
// and never enters a block (the block's timestamp comes from the
// driver's clock).
var timeNow = time.Now

// consensusTimeouts scales the round timeouts to the block time: a
// proposal is awaited four block times (between 1 s and 3 s), votes two
// (between 0.5 s and 1 s), each growing by 0.5 s a round. A fast network
// thus recovers quickly from a missed proposal, for instance when a node
// learnt the previous block by sync and has no commit to propose on. A
// proposer that missed its last turn (one that is down) is awaited only a
// vote timeout, which is still enough for a live one to build and send a
// block.
func consensusTimeouts(blockTime time.Duration) pos.Config {
	ticks := func(d time.Duration) uint64 { return uint64(d / pos.DefaultTickInterval) }
	propose := min(max(4*blockTime, time.Second), 3*time.Second)
	vote := min(max(2*blockTime, 500*time.Millisecond), time.Second)
	delta := ticks(500 * time.Millisecond)
	var c pos.Config
	c.TimeoutPropose = pos.Timeout{Base: ticks(propose), Delta: delta}
	c.TimeoutProposeAbsent = pos.Timeout{Base: ticks(vote), Delta: delta}
	c.TimeoutPrevote = pos.Timeout{Base: ticks(vote), Delta: delta}
	c.TimeoutPrecommit = pos.Timeout{Base: ticks(vote), Delta: delta}
	return c
}

// onEvidence logs equivocation and, when the staking contract is enabled,
// submits the evidence for slashing.
func (v *Validator) onEvidence(ev *pos.Evidence) {
	if ev == nil {
		return
	}
	who, _ := ev.VoteA.Signer(v.cfg.Chain.ChainID())
	v.log.Warn("equivocation detected", "validator", who, "height", ev.VoteA.Height, "round", ev.VoteA.Round)
	if v.evidence != nil {
		v.evidence.submit(ev)
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
	ctx     context.Context
	net     Network
	log     *slog.Logger
	seq     *atomic.Uint64
	compact *compactor // proposals go out compact
}

func (t p2pTransport) Broadcast(msg []byte) {
	msg = t.compact.compact(msg)
	env := make([]byte, envelopeNonce+len(msg))
	binary.BigEndian.PutUint64(env, t.seq.Add(1))
	copy(env[envelopeNonce:], msg)
	if err := t.net.PublishConsensus(t.ctx, env); err != nil && t.ctx.Err() == nil {
		t.log.Debug("consensus publish failed", "err", err)
	}
}

// posBuilder builds proposals from the pool's pending transactions.
type posBuilder struct {
	chain *chain.Chain
	pool  *txpool.Pool
	// budget bounds the time spent executing a proposal's transactions
	// (buildBudget).
	budget time.Duration
	built  *recentBlocks // nil: not recorded
}

// buildBudget is how long a proposer may spend executing transactions
// into its block: half the block time, at least 100 ms. Every validator
// executes the block again to judge it, on machines as loaded as the
// proposer's, so a block built for longer than the round's timeouts allow
// makes the round fail and the next block larger still.
func buildBudget(blockTime time.Duration) time.Duration {
	return max(blockTime/2, 100*time.Millisecond)
}

// buildLead is how long before round 0 its proposer asks for the block:
// the build budget and a tick for the rest of the build (the pool's
// pending list, the state root, the seal). With a commit wait longer than
// that (1 s blocks) the block takes what reached the pool during the first
// part of the wait, not only what was there at the decision, which the
// decision had just emptied; at 250 ms blocks the build starts as the wait
// begins, as before (docs/decisions/0037-build-during-the-commit-wait.md).
func buildLead(blockTime time.Duration) time.Duration {
	return buildBudget(blockTime) + pos.DefaultTickInterval
}

func (b posBuilder) BuildBlock(parent *types.Block, time uint64) (*types.Block, error) {
	var done func() bool
	if b.budget > 0 {
		deadline := timeNow().Add(b.budget)
		done = func() bool { return timeNow().After(deadline) }
	}
	// The core asks for round 0's block as soon as the parent is
	// committed (pos.Core.buildEarly), possibly before the pool has seen
	// the new head: without Follow, Pending would still hold the parent's
	// transactions.
	b.pool.Follow(parent.Header())
	built, err := b.chain.BuildBlockUntil(parent, b.pool.Pending(), time, done)
	if err != nil {
		return nil, err
	}
	if b.built != nil {
		b.built.add(built.Block)
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
//
// A validator's validly signed messages are bounded too: at most
// maxRelayedPerHeight distinct ones for one height, of them at most
// maxRelayedProposals proposals; more are dropped quietly. Each is a
// correct message, so gossip would otherwise relay, and every node decode
// and recover, as many as a Byzantine validator cares to sign (votes for
// every round, proposals of megabytes for each round it leads), while the
// core tallies only a few per round. An honest validator sends a proposal
// in a round it leads and two votes in every round: the bounds are reached
// only after more than a hundred rounds at one height, hours of growing
// round timeouts.
//
// The core re-sends its own messages every second or so, each time in a
// fresh envelope (a new gossip message), and a height can wait for
// validators that are down for as long as they are down: a copy of a
// message already counted is therefore not counted again, and, while the
// head has not moved since it was checked, not checked again either (its
// bytes, and so its digest, are the ones whose signature was checked).
// Copies are bounded otherwise: one message is relayed at most once per
// minRepeat, and the copies one peer relays of one validator's messages
// at one height draw on that peer's budget of copyBurst, refilled at
// copyRate a second, enough for the few messages of its current round
// that the core re-sends. A copy over a peer's budget is dropped without
// any mark, so a member that wraps other validators' messages again and
// again spends only its own budget, never an honest relay's. A copy of a
// full proposal is not relayed at all: honest validators send proposals
// compact, so only a relay that rebuilt one sends it full. The envelope
// is not signed, so anyone could otherwise have every counted message
// relayed, megabyte proposals included, twice a second for as long as the
// height lasts.
//
// Commits (a decided block and its certificate) are counted and budgeted
// the same way, together per height under the zero signer
// (maxRelayedCommits).
type consensusFilter struct {
	now   func() time.Time
	head  func() *types.Header
	check func(msg []byte, head *types.Header) (pos.GossipSource, error)

	mu       sync.Mutex
	relayed  map[relayKey]*relayCount // by signer and height, heights above the head
	byDigest map[common.Hash]counted  // the messages counted in relayed, by digest
	pruned   uint64                   // the head number relayed was last pruned at
}

// Bounds of one validator's consensus messages relayed for one height.
const (
	maxRelayedPerHeight = 512
	maxRelayedProposals = 64
	// maxRelayedCommits bounds the commits (a decided block with its
	// certificate, sent to members that are behind) relayed for one
	// height, counted together under the zero signer: a commit's many
	// signers are no one validator, and any member can assemble another
	// valid commit from a decided height's precommits.
	maxRelayedCommits = 32
	// minRepeat is the least time between two relayed copies of one
	// message: half the core's default rebroadcast period.
	minRepeat = 500 * time.Millisecond
	// copyBurst and copyRate budget the copies one peer relays of one
	// validator's messages at one height. The core re-sends its proposal,
	// its prevote and its precommit of the current round, and the polka it
	// saw (other validators' prevotes, charged to them) once a second.
	copyBurst = 16
	copyRate  = 8
)

type relayKey struct {
	signer common.Address
	height uint64
}

// counted is what the filter keeps of a counted message: where it is
// counted, and the head number its signature was last checked at.
type counted struct {
	key  relayKey
	head uint64
}

type relayCount struct {
	msgs, proposals int
	last            map[common.Hash]time.Time  // when each counted message was last let through
	full            map[common.Hash]bool       // the counted full proposals, whose copies are never relayed
	copies          map[common.Address]*budget // each relaying peer's copy budget
}

// budget is a token bucket: left tokens at time at.
type budget struct {
	left float64
	at   time.Time
}

// take refills b to now at rate a second, up to burst, and takes one token
// if there is one.
func (b *budget) take(now time.Time, burst, rate float64) bool {
	if d := now.Sub(b.at); d > 0 {
		b.left = min(burst, b.left+d.Seconds()*rate)
	}
	b.at = now
	if b.left < 1 {
		return false
	}
	b.left--
	return true
}

// Filter returns the gossip validator of the consensus topic for a node
// running eng on c.
func Filter(eng *pos.Engine, c *chain.Chain) p2p.ConsensusValidator {
	return newConsensusFilter(eng, c)
}

func newConsensusFilter(eng *pos.Engine, c *chain.Chain) *consensusFilter {
	f := &consensusFilter{now: time.Now,
		relayed: make(map[relayKey]*relayCount), byDigest: make(map[common.Hash]counted)}
	if c != nil {
		f.head = c.CurrentHeader
	}
	if eng != nil {
		f.check = func(msg []byte, head *types.Header) (pos.GossipSource, error) {
			return eng.CheckGossipFrom(msg, pos.DefaultMaxMessageSize, head)
		}
	}
	return f
}

// MaxGossipMessage bounds a consensus gossip message: a maximal consensus
// message in its envelope.
const MaxGossipMessage = pos.DefaultMaxMessageSize + envelopeNonce

var (
	// errRelayBound: a validator sent more messages for a height than any
	// correct one does, or a peer relayed more copies (see consensusFilter).
	errRelayBound = errors.New("validator's messages for this height are over the relay bound")
	// errRepeat: a copy of a message relayed less than minRepeat ago.
	errRepeat = errors.New("copy of a consensus message relayed moments ago")
)

// ValidateConsensus decides on the consensus message data that the member
// from relayed.
func (f *consensusFilter) ValidateConsensus(from common.Address, data []byte) error {
	if len(data) <= envelopeNonce {
		return errShortEnvelope
	}
	msg := data[envelopeNonce:]
	digest := crypto.Keccak256Hash(msg)
	head := f.head()
	if known, err := f.copyOf(from, digest, head.Number.Uint64()); known {
		return err
	}
	src, err := f.check(msg, head)
	if errors.Is(err, pos.ErrStaleMessage) || errors.Is(err, pos.ErrFutureMessage) {
		return fmt.Errorf("%w: %w", p2p.ErrIgnore, err)
	}
	if err != nil {
		return err
	}
	return f.count(from, src, digest, head.Number.Uint64())
}

// copyOf decides, without checking it again, on a copy that from relayed
// of a message counted and checked at this head: known reports whether it
// did. A copy of a full proposal, or one less than minRepeat after the
// last let through, is dropped; others draw on from's budget.
func (f *consensusFilter) copyOf(from common.Address, digest common.Hash, head uint64) (known bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prune(head)
	m, ok := f.byDigest[digest]
	if !ok {
		return false, nil
	}
	c := f.relayed[m.key]
	if c.full[digest] || f.now().Sub(c.last[digest]) < minRepeat {
		return true, fmt.Errorf("%w: %w", p2p.ErrIgnore, errRepeat)
	}
	if m.head != head {
		// Checked at another head: the validator set or the proposer
		// may have changed since. Check it again.
		return false, nil
	}
	return true, f.spend(c, m.key, from, digest)
}

// spend lets a copy of a counted message through if from's copy budget
// for its signer and height has room. A copy over the budget leaves no
// mark: other peers' copies of the same message still go through.
func (f *consensusFilter) spend(c *relayCount, k relayKey, from common.Address, digest common.Hash) error {
	now := f.now()
	b := c.copies[from]
	if b == nil {
		b = &budget{left: copyBurst, at: now}
		c.copies[from] = b
	}
	if !b.take(now, copyBurst, copyRate) {
		return fmt.Errorf("%w: %w: copies of %s at height %d from %s", p2p.ErrIgnore, errRelayBound, k.signer, k.height, from)
	}
	c.last[digest] = now
	return nil
}

// prune drops the counts of heights the head has reached.
func (f *consensusFilter) prune(head uint64) {
	if head == f.pruned {
		return
	}
	for k, c := range f.relayed {
		if k.height <= head {
			for d := range c.last {
				delete(f.byDigest, d)
			}
			delete(f.relayed, k)
		}
	}
	f.pruned = head
}

// count charges a message with digest, checked at head and relayed by
// from, to its signer's bound at its height. A copy of a message counted
// already is let through uncounted, on from's copy budget.
func (f *consensusFilter) count(from common.Address, src pos.GossipSource, digest common.Hash, head uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prune(head)
	now := f.now()
	k := relayKey{src.Signer, src.Height}
	c := f.relayed[k]
	if c == nil {
		c = &relayCount{last: make(map[common.Hash]time.Time), full: make(map[common.Hash]bool),
			copies: make(map[common.Address]*budget)}
		f.relayed[k] = c
	}
	if at, ok := c.last[digest]; ok {
		f.byDigest[digest] = counted{key: k, head: head}
		if now.Sub(at) < minRepeat || src.Full {
			return fmt.Errorf("%w: %w", p2p.ErrIgnore, errRepeat)
		}
		return f.spend(c, k, from, digest)
	}
	bound := maxRelayedPerHeight
	if src.Signer == (common.Address{}) {
		bound = maxRelayedCommits
	}
	if c.msgs >= bound || src.Proposal && c.proposals >= maxRelayedProposals {
		return fmt.Errorf("%w: %w: %s at height %d", p2p.ErrIgnore, errRelayBound, src.Signer, src.Height)
	}
	c.msgs++
	if src.Proposal {
		c.proposals++
	}
	c.last[digest] = now
	if src.Full {
		c.full[digest] = true
	}
	f.byDigest[digest] = counted{key: k, head: head}
	return nil
}

var errShortEnvelope = errors.New("consensus message shorter than its envelope")
