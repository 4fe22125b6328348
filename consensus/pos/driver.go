package pos

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// DefaultTickInterval is the real time of one core tick; Config's
// DefaultTimeouts assume it.
const DefaultTickInterval = 100 * time.Millisecond

// maxServedCommits bounds the catch-up commits sent for one Ready.Behind.
const maxServedCommits = 8

// Transport sends a consensus message to every connected validator (a p2p
// topic). Messages from peers arrive on DriverConfig.Inbound.
type Transport interface {
	Broadcast(msg []byte)
}

// Builder builds an unsealed block on parent with the given timestamp; the
// node wraps its chain's BuildBlock and its pool's pending transactions.
// The engine's Prepare fills the pos header fields.
type Builder interface {
	BuildBlock(parent *types.Block, time uint64) (*types.Block, error)
}

// BlockValidator checks a proposed block fully: header (the engine's
// VerifyHeader against the parent) and execution. It must not make the block
// canonical.
type BlockValidator interface {
	ValidateBlock(block *types.Block) error
}

// Committer stores a decided block with its commit and marks it final. A
// block already imported (by sync) is not an error.
type Committer interface {
	Commit(block *types.Block, commit Commit) error
}

// History is optionally implemented by a Committer: it returns a committed
// block and its commit, which the driver sends to peers that are behind.
type History interface {
	CommittedBlock(number uint64) (*types.Block, Commit, bool)
}

// DriverConfig wires a Driver to the node.
type DriverConfig struct {
	// Core holds timeouts and limits; ChainID and Key are set by NewDriver
	// from the engine. A timeout or RebroadcastTicks
	// left zero gets its DefaultTimeouts value, scaled to TickInterval so
	// that it keeps its real duration: a driver on a real network never
	// runs without rebroadcast, which is what recovers the messages sent
	// before its peers were connected.
	Core Config
	// WALPath is the write-ahead log file.
	WALPath string
	// TickInterval is the real duration of one tick (default
	// DefaultTickInterval).
	TickInterval time.Duration
	// BlockTime, if Core.CommitTicks is zero, sets it to BlockTime /
	// TickInterval: the pause between a decision and the next height's
	// round 0 (genesis blockTime). CommitTicks is at least 1 so that a
	// lone validator cannot decide heights without ever reading input.
	BlockTime time.Duration
	// BuildLead, if Core.BuildLeadTicks is zero, sets it to BuildLead /
	// TickInterval, rounded up: how long before round 0 its proposer asks
	// for the block.
	BuildLead time.Duration
	// Head is the chain's last committed block at start, and HeadCommit
	// its commit if the chain holds it (nil: the WAL's copy, if any, is
	// used; without either the validator cannot propose at Head+1).
	Head       *types.Block
	HeadCommit *Commit

	// Inbound delivers messages from peers.
	Inbound <-chan []byte
	// Filled optionally delivers proposals this node filled from compact
	// ones: stepped like Inbound's messages, without decoding their
	// blocks again.
	Filled <-chan FilledProposal
	// Heads optionally delivers decided blocks the chain learnt otherwise
	// (by sync or gossip), each with the commit that proves it; a head at
	// or above the height being decided moves the core past it. A block
	// without a verified commit must never be sent: the driver would
	// build the next height on it.
	Heads <-chan Decision

	Transport Transport
	Builder   Builder
	// Validator answers the core's validation requests (Ready.Validate),
	// one block at a time on a goroutine of its own, so the core keeps
	// reading messages while a proposal executes. nil accepts every block
	// that extends the parent.
	Validator BlockValidator
	Committer Committer

	// Clock gives block timestamps (default time.Now).
	Clock func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// builtBlock is a Builder result for the round it was requested for.
type builtBlock struct {
	height uint64
	round  uint32
	block  *types.Block
	err    error
}

// Driver runs a Core for the node: one goroutine (Run) owns the core and
// its WAL. Peer messages, ticks, built blocks and synced heads arrive on
// channels; each is written to the WAL before the core handles it, and the
// core's own votes are synced to the WAL before they are broadcast. On
// start the WAL is replayed so a restarted validator neither forgets its
// lock nor signs two different messages for one height, round and step.
type Driver struct {
	cfg      DriverConfig
	engine   *Engine
	rep      *replica
	initial  Ready
	log      *slog.Logger
	builds   chan BuildRequest
	built    chan builtBlock
	evidence chan *Evidence
	toCheck  *blockQueue
	checked  chan validation
	pending  *Decision // decided, not yet committed

	lastHeight uint64 // for logging round changes
	lastRound  uint32

	status statusTracker // for Status
}

// NewDriver opens the WAL, replays it and returns a driver ready to Run.
func NewDriver(engine *Engine, cfg DriverConfig) (*Driver, error) {
	switch {
	case cfg.Head == nil:
		return nil, errNoHead
	case cfg.Transport == nil || cfg.Builder == nil || cfg.Committer == nil:
		return nil, errDriverParts
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = DefaultTickInterval
	}
	defaultTimeouts(&cfg.Core, cfg.TickInterval)
	if cfg.Core.CommitTicks == 0 {
		cfg.Core.CommitTicks = uint64(max(cfg.BlockTime/cfg.TickInterval, 1))
	}
	if cfg.Core.BuildLeadTicks == 0 && cfg.BuildLead > 0 {
		cfg.Core.BuildLeadTicks = uint64((cfg.BuildLead + cfg.TickInterval - 1) / cfg.TickInterval)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Core.ChainID, cfg.Core.Key = engine.chainID, engine.key
	vals, err := engine.validators.ValidatorSet(cfg.Head.NumberU64()+1, cfg.Head.Hash())
	if err != nil {
		return nil, fmt.Errorf("pos: driver: %w", err)
	}
	rep, rd, err := openReplica(cfg.Core, cfg.WALPath, cfg.Head, cfg.HeadCommit, vals, false)
	if err != nil {
		return nil, err
	}
	return &Driver{
		cfg:      cfg,
		engine:   engine,
		rep:      rep,
		initial:  rd,
		log:      cfg.Logger.With("module", "pos"),
		builds:   make(chan BuildRequest, 1),
		built:    make(chan builtBlock, 1),
		evidence: make(chan *Evidence, 64),
		toCheck:  newBlockQueue(),
		checked:  make(chan validation, 16),
	}, nil
}

// validation is the answer to a validation request.
type validation struct {
	hash common.Hash
	err  error
}

// blockQueue hands validation requests to the validation goroutine without
// ever blocking the driver. The core asks for each block once a height and
// keeps at most a few proposals a round, so the queue stays short.
type blockQueue struct {
	mu     sync.Mutex
	blocks []*types.Block
	ready  chan struct{}
}

func newBlockQueue() *blockQueue { return &blockQueue{ready: make(chan struct{}, 1)} }

func (q *blockQueue) push(b *types.Block) {
	q.mu.Lock()
	q.blocks = append(q.blocks, b)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *blockQueue) pop() (*types.Block, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.blocks) == 0 {
		return nil, false
	}
	b := q.blocks[0]
	q.blocks = q.blocks[1:]
	return b, true
}

// validateLoop runs the Validator on queued blocks, oldest first, and
// returns each answer to Run.
func (d *Driver) validateLoop(ctx context.Context) {
	for {
		b, ok := d.toCheck.pop()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-d.toCheck.ready:
			}
			continue
		}
		v := validation{hash: b.Hash()}
		t0 := time.Now()
		if d.cfg.Validator != nil {
			v.err = d.cfg.Validator.ValidateBlock(b)
		}
		d.log.Debug("proposal validated", "number", b.NumberU64(), "txs", len(b.Transactions()), "took", time.Since(t0), "err", v.err)
		select {
		case d.checked <- v:
		case <-ctx.Done():
			return
		}
	}
}

// defaultTimeouts sets the timeouts and the rebroadcast period that cfg
// leaves zero to those of DefaultTimeouts, which are for
// DefaultTickInterval, converted to ticks of length tick (rounded up).
func defaultTimeouts(cfg *Config, tick time.Duration) {
	var def Config
	def.DefaultTimeouts()
	ticks := func(n uint64) uint64 {
		d := time.Duration(n) * DefaultTickInterval
		return uint64((d + tick - 1) / tick)
	}
	scale := func(t Timeout) Timeout { return Timeout{Base: ticks(t.Base), Delta: ticks(t.Delta)} }
	if cfg.TimeoutPropose == (Timeout{}) {
		cfg.TimeoutPropose = scale(def.TimeoutPropose)
	}
	if cfg.TimeoutPrevote == (Timeout{}) {
		cfg.TimeoutPrevote = scale(def.TimeoutPrevote)
	}
	if cfg.TimeoutPrecommit == (Timeout{}) {
		cfg.TimeoutPrecommit = scale(def.TimeoutPrecommit)
	}
	if cfg.RebroadcastTicks == 0 {
		cfg.RebroadcastTicks = ticks(def.RebroadcastTicks)
	}
}

// Evidence returns the channel on which equivocation evidence is reported.
// Evidence is dropped, with a warning, if nobody reads it.
func (d *Driver) Evidence() <-chan *Evidence { return d.evidence }

// Run drives the core until ctx ends or the WAL fails. It closes the WAL
// before returning.
func (d *Driver) Run(ctx context.Context) error {
	d.log.Debug("consensus driver running", "height", d.rep.core.Height())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer d.rep.wal.close()
	go d.buildLoop(ctx)
	go d.validateLoop(ctx)

	ticker := time.NewTicker(d.cfg.TickInterval)
	defer ticker.Stop()
	if err := d.handle(d.initial); err != nil {
		return err
	}
	d.status.observe(d.rep.core, time.Now())
	inbound, filled, heads := d.cfg.Inbound, d.cfg.Filled, d.cfg.Heads
	for {
		select {
		case <-ctx.Done():
			return nil
		case raw, ok := <-inbound:
			if !ok {
				inbound = nil
				continue
			}
			stepErr, err := d.rep.message(raw)
			if err != nil {
				return fmt.Errorf("pos: wal: %w", err)
			}
			if stepErr != nil {
				d.log.Debug("message refused", "err", stepErr)
			}
		case f, ok := <-filled:
			if !ok {
				filled = nil
				continue
			}
			stepErr, err := d.rep.filled(f)
			if err != nil {
				return fmt.Errorf("pos: wal: %w", err)
			}
			if stepErr != nil {
				d.log.Debug("filled proposal refused", "err", stepErr)
			}
		case <-ticker.C:
			if err := d.rep.tick(); err != nil {
				return fmt.Errorf("pos: wal: %w", err)
			}
			if d.pending != nil {
				if err := d.commit(); err != nil {
					return err
				}
			}
		case v := <-d.checked:
			stepErr, err := d.rep.validated(v.hash, v.err)
			if err != nil {
				return fmt.Errorf("pos: wal: %w", err)
			}
			if stepErr != nil {
				d.log.Debug("validation answer not needed", "err", stepErr)
			}
		case b := <-d.built:
			if b.err != nil {
				d.log.Warn("building proposal failed", "height", b.height, "round", b.round, "err", b.err)
				break
			}
			if b.height == d.rep.core.Height() && b.round == d.rep.core.Round() {
				if err := d.rep.core.Propose(b.block); err != nil {
					d.log.Debug("built block not proposed", "err", err)
				}
			}
		case head, ok := <-heads:
			if !ok {
				heads = nil
				continue
			}
			if head.Block != nil && head.Block.NumberU64() >= d.rep.core.Height() {
				d.pending = nil
				commit := head.Commit
				if err := d.startHeight(head.Block, &commit); err != nil {
					return err
				}
			}
		}
		if err := d.handle(d.rep.core.Ready()); err != nil {
			return err
		}
		d.status.observe(d.rep.core, time.Now())
		if h, r := d.rep.core.Height(), d.rep.core.Round(); h != d.lastHeight || r != d.lastRound {
			d.lastHeight, d.lastRound = h, r
			d.log.Debug("consensus round", "height", h, "round", r)
		}
	}
}

// handle performs a Ready, then any Ready that performing it produced.
func (d *Driver) handle(rd Ready) error {
	for {
		if err := d.rep.persist(&rd); err != nil {
			return fmt.Errorf("pos: wal: %w", err)
		}
		for _, m := range rd.Messages {
			d.cfg.Transport.Broadcast(m)
		}
		for _, ev := range rd.Evidence {
			select {
			case d.evidence <- ev:
			default:
				d.log.Warn("evidence dropped: nobody reads Evidence()", "height", ev.VoteA.Height)
			}
		}
		if rd.Build != nil {
			select { // keep only the latest request
			case <-d.builds:
			default:
			}
			d.builds <- *rd.Build
		}
		for _, b := range rd.Validate {
			d.toCheck.push(b)
		}
		for _, err := range rd.Refused {
			d.log.Warn("consensus refused", "err", err)
		}
		if rd.Behind != 0 {
			d.serve(rd.Behind)
		}
		if rd.Decided != nil {
			d.pending = rd.Decided
			if err := d.commit(); err != nil {
				return err
			}
		}
		if !d.rep.core.HasReady() {
			return nil
		}
		rd = d.rep.core.Ready()
	}
}

// commit hands the pending decision to the Committer and, once it is
// stored, starts the next height. A failed commit is retried every tick.
func (d *Driver) commit() error {
	dec := d.pending
	if err := d.cfg.Committer.Commit(dec.Block, dec.Commit); err != nil {
		d.log.Error("commit failed; retrying", "number", dec.Block.NumberU64(), "hash", dec.Block.Hash(), "err", err)
		return nil
	}
	d.pending = nil
	d.log.Info("block decided", "number", dec.Block.NumberU64(), "hash", dec.Block.Hash(), "round", dec.Commit.Round, "signatures", len(dec.Commit.Signatures))
	return d.startHeight(dec.Block, &dec.Commit)
}

// startHeight starts the core on the block after parent.
func (d *Driver) startHeight(parent *types.Block, lastCommit *Commit) error {
	vals, err := d.engine.validators.ValidatorSet(parent.NumberU64()+1, parent.Hash())
	if err != nil {
		return fmt.Errorf("pos: validators of height %d: %w", parent.NumberU64()+1, err)
	}
	if err := d.rep.startHeight(parent, vals, lastCommit); err != nil {
		return err
	}
	return nil
}

// serve sends peers at height from the commits of the blocks they miss,
// if the Committer keeps history.
func (d *Driver) serve(from uint64) {
	h, ok := d.cfg.Committer.(History)
	if !ok {
		return
	}
	// The core itself answers for its parent's height.
	for n := from; n+1 < d.rep.core.Height() && n < from+maxServedCommits; n++ {
		b, c, ok := h.CommittedBlock(n)
		if !ok {
			return
		}
		d.cfg.Transport.Broadcast((&CommitMessage{Block: b, Commit: c}).Encode())
	}
}

// buildLoop builds, seals and returns blocks for build requests, one at a
// time so that SetProposal and Prepare cannot interleave.
func (d *Driver) buildLoop(ctx context.Context) {
	for {
		var req BuildRequest
		select {
		case <-ctx.Done():
			return
		case req = <-d.builds:
		}
		res := builtBlock{height: req.Height, round: req.Round}
		d.engine.SetProposal(req.Height, req.Round, req.LastCommit)
		t0 := time.Now()
		b, err := d.cfg.Builder.BuildBlock(req.Parent, uint64(max(d.cfg.Clock().Unix(), 0)))
		if err == nil {
			b, err = d.engine.Seal(ctx, nil, b)
		}
		if err == nil {
			d.log.Debug("proposal built", "number", b.NumberU64(), "round", req.Round, "txs", len(b.Transactions()), "took", time.Since(t0))
		}
		res.block, res.err = b, err
		select {
		case <-ctx.Done():
			return
		case d.built <- res:
		}
	}
}
