package pos

import (
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

const (
	// maxRoundsAhead is how many rounds above the current one are tallied
	// in full. A message further ahead only records that its signer has
	// reached that round (see line55).
	maxRoundsAhead = 16

	// maxBufferedBytes bounds the messages kept for the next height; each
	// validator of the current set may use its share, 1/Len() of it, so a
	// flooding validator cannot crowd out the others.
	maxBufferedBytes = 64 << 20

	// maxBufferedPerSigner bounds the next-height messages kept per
	// validator: a correct one sends a proposal and two votes a round.
	maxBufferedPerSigner = 64
)

// Timeout is a timeout in ticks growing linearly with the round:
// Base + round*Delta.
type Timeout struct {
	Base, Delta uint64
}

// Ticks returns the timeout of round.
func (t Timeout) Ticks(round uint32) uint64 { return t.Base + uint64(round)*t.Delta }

// Config parameterises a Core. Durations are in ticks, the core's only
// notion of time.
type Config struct {
	// ChainID binds every signature to the chain.
	ChainID *big.Int
	// Key is this validator's key; nil for a node that only follows.
	Key *ecdsa.PrivateKey
	// TimeoutPropose, TimeoutPrevote and TimeoutPrecommit are the
	// paper's timeoutPropose(r), timeoutPrevote(r), timeoutPrecommit(r).
	TimeoutPropose, TimeoutPrevote, TimeoutPrecommit Timeout
	// TimeoutProposeAbsent replaces TimeoutPropose in a round whose
	// proposer missed its last turn as this node saw it (absent.go);
	// zero: a quarter of TimeoutPropose's base.
	TimeoutProposeAbsent Timeout
	// CommitTicks is how long a new height waits before round 0 starts
	// (Tendermint's timeoutCommit), which paces blocks to the block time.
	CommitTicks uint64
	// BuildLeadTicks is how many ticks before round 0 starts its proposer
	// asks for the block (buildEarly): enough for the build, so that the
	// block takes what reached the pool during most of the wait. 0, or
	// CommitTicks or more: as the wait begins.
	BuildLeadTicks uint64
	// RebroadcastTicks is the period at which the core re-sends its own
	// messages of the current round, so that lost messages do not stall
	// it; 0 disables rebroadcast (a Driver replaces 0 by the default).
	RebroadcastTicks uint64
	// MaxMessageSize bounds an encoded message (default
	// DefaultMaxMessageSize).
	MaxMessageSize int
	// LastSigned restores the double-sign guard (from the WAL).
	LastSigned LastSigned
}

// DefaultTimeouts sets the timeouts for a 100ms tick: propose 3s + 0.5s per
// round, prevote and precommit 1s + 0.5s per round, rebroadcast every 1s.
func (c *Config) DefaultTimeouts() {
	c.TimeoutPropose = Timeout{Base: 30, Delta: 5}
	c.TimeoutPrevote = Timeout{Base: 10, Delta: 5}
	c.TimeoutPrecommit = Timeout{Base: 10, Delta: 5}
	c.RebroadcastTicks = 10
}

// step is step_p of Algorithm 1.
type step uint8

const (
	stepPropose   step = 1
	stepPrevote   step = 2
	stepPrecommit step = 3
)

// LastSigned is the double-sign guard: the highest (height, round, step)
// this validator signed and the digest it signed there. The core signs only
// above it, or exactly at it the same digest again.
type LastSigned struct {
	Height uint64
	Round  uint32
	Step   uint8 // 1 proposal, 2 prevote, 3 precommit
	Digest common.Hash
}

// cmp orders l against (h, r, s).
func (l LastSigned) cmp(h uint64, r uint32, s uint8) int {
	switch {
	case l.Height != h:
		return cmpUint(l.Height, h)
	case l.Round != r:
		return cmpUint(uint64(l.Round), uint64(r))
	default:
		return cmpUint(uint64(l.Step), uint64(s))
	}
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// BuildRequest asks the driver for a block to propose: getValue() of line
// 17. The driver answers with Core.Propose.
type BuildRequest struct {
	Height     uint64
	Round      uint32
	Parent     *types.Block
	LastCommit Commit
}

// Decision is a decided block and the commit that proves it.
type Decision struct {
	Block  *types.Block
	Commit Commit
}

// Ready is what the core asks its driver to do, in this order: persist
// Signed (write to the WAL and sync) before broadcasting Messages, which
// include Signed; report Evidence; build a block for Build; commit Decided
// and then call StartHeight for the next height; serve catch-up commits for
// peers at height Behind.
type Ready struct {
	Signed   [][]byte
	Messages [][]byte
	Build    *BuildRequest
	Decided  *Decision
	Evidence []*Evidence
	Behind   uint64
	// Validate lists blocks whose validity (valid(v) beyond the core's own
	// checks: header rules, execution) the core needs; the driver answers
	// each with Validated, in any order, later.
	Validate []*types.Block
	// Refused lists what the core declined to do and why (a signature
	// the double-sign guard refused, a block found invalid), for the
	// driver to log.
	Refused []error
}

// empty reports whether rd asks for nothing.
func (rd *Ready) empty() bool {
	return len(rd.Messages) == 0 && rd.Build == nil && rd.Decided == nil && len(rd.Evidence) == 0 && rd.Behind == 0 &&
		len(rd.Validate) == 0 && len(rd.Refused) == 0
}

// timeoutKind names the three timeouts of Algorithm 1.
type timeoutKind uint8

const (
	timeoutPropose timeoutKind = iota
	timeoutPrevote
	timeoutPrecommit
)

// timeout is a scheduled OnTimeout* call.
type timeout struct {
	at     uint64
	kind   timeoutKind
	height uint64
	round  uint32
}

// Core is one validator's Tendermint state machine (Algorithm 1 of "The
// latest gossip on BFT consensus"). It does no I/O and reads no clock:
// inputs are Step (a received message), Tick (logical time), Propose (a
// built block) and StartHeight; outputs are collected in Ready. It is not
// safe for concurrent use: one goroutine owns it.
type Core struct {
	cfg         Config
	self        common.Address
	isValidator bool

	// Height context, set by StartHeight.
	height     uint64 // h_p
	parent     *types.Block
	lastCommit *Commit // parent's commit; nil if unknown
	vals       *ValidatorSet

	// Round state of Algorithm 1.
	round       uint32 // round_p
	step        step   // step_p
	decision    *Decision
	lockedValue *types.Block
	lockedRound int32
	validValue  *types.Block
	validRound  int32

	rounds        map[uint32]*roundState
	validity      map[common.Hash]validity
	waitingCommit *CommitMessage            // a catch-up commit whose block awaits validation
	latestRound   map[common.Address]uint32 // highest round seen per validator
	building      int64                     // round awaiting Propose, or -1
	prebuilt      *types.Block              // round 0's block, built during the CommitTicks wait
	absent        absentProposers           // who missed their last turn to propose

	waiting bool   // between StartHeight and round 0 (CommitTicks)
	startAt uint64 // tick at which round 0 starts
	buildAt uint64 // tick at which round 0's proposer asks for its block during the wait; 0: asked, or not to ask

	now       uint64
	timeouts  []timeout
	catchupAt uint64 // next tick a catch-up commit may be sent
	behindAt  uint64 // next tick Behind may be reported

	buffer     [][]byte // messages for height+1, arrival order
	bufferUse  map[common.Address]*quota
	bufferSeen map[common.Hash]bool
	nextCommit bool                      // a commit for the next height is in buffer
	farTick    map[common.Address]uint64 // last tick a far round was recorded, per validator
	far        farNote                   // the far round the last Step recorded (takeFar)

	guard LastSigned
	out   Ready
}

// NewCore returns a core that waits for StartHeight.
func NewCore(cfg Config) (*Core, error) {
	if cfg.ChainID == nil {
		return nil, errNoChainID
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	c := &Core{cfg: cfg, guard: cfg.LastSigned, building: -1}
	if cfg.Key != nil {
		c.self = crypto.PubkeyToAddress(cfg.Key.PublicKey)
	}
	return c, nil
}

// Address returns the validator address of the core's key.
func (c *Core) Address() common.Address { return c.self }

// Height returns the height being decided (0 before StartHeight).
func (c *Core) Height() uint64 { return c.height }

// Round returns the current round.
func (c *Core) Round() uint32 { return c.round }

// LastSigned returns the double-sign guard.
func (c *Core) LastSigned() LastSigned { return c.guard }

// HasReady reports whether Ready has anything to do.
func (c *Core) HasReady() bool { return !c.out.empty() }

// Ready returns what the driver must do and clears it. Validation
// requests answered meanwhile (by a replayed log) are left out.
func (c *Core) Ready() Ready {
	rd := c.out
	c.out = Ready{}
	if len(rd.Validate) > 0 {
		rd.Validate = slices.DeleteFunc(rd.Validate, func(b *types.Block) bool {
			return c.validity[b.Hash()] != validityPending
		})
	}
	return rd
}

// StartHeight starts deciding the block after parent with validator set
// vals; lastCommit proves parent decided (nil if this node does not hold
// it, in which case it cannot propose at this height; empty for genesis).
// It carries out lines 52-54 of Algorithm 1 (new height, reset, empty log)
// and, after CommitTicks, line 10 (StartRound(0)). Messages buffered for the
// new height are then stepped.
func (c *Core) StartHeight(parent *types.Block, vals *ValidatorSet, lastCommit *Commit) error {
	if parent == nil || vals == nil {
		return errStartArgs
	}
	number := parent.NumberU64() + 1
	if c.vals != nil && number <= c.height {
		return fmt.Errorf("%w: %d, already at %d", errStartBehind, number, c.height)
	}
	if lastCommit != nil {
		lc := *lastCommit
		lc.Signatures = slices.Clone(lc.Signatures)
		lastCommit = &lc
	}
	c.height, c.parent, c.vals, c.lastCommit = number, parent, vals, lastCommit
	c.isValidator = c.cfg.Key != nil && vals.Has(c.self)
	c.absent.keep(vals)
	// Line 53: reset locked and valid values and the message log.
	c.round, c.step, c.decision = 0, stepPropose, nil
	c.lockedValue, c.lockedRound = nil, -1
	c.validValue, c.validRound = nil, -1
	c.rounds = make(map[uint32]*roundState)
	c.validity = make(map[common.Hash]validity)
	c.waitingCommit = nil
	c.latestRound = make(map[common.Address]uint32)
	c.timeouts, c.building, c.prebuilt = nil, -1, nil
	// A vote for the height just decided that arrives in the first
	// rebroadcast period is the slowest validator's, not a sign that it
	// is stuck: it holds the block and gets the other precommits by
	// gossip (and the block with its certificate on the blocks topic).
	// Answering it with a catch-up commit sent every such validator a
	// whole block per height. A validator that is stuck re-sends its
	// messages every period, so it gets the commit one period later.
	c.catchupAt, c.behindAt = c.now+max(c.cfg.RebroadcastTicks, 1), c.now

	buffered := c.buffer
	c.buffer, c.bufferUse, c.bufferSeen, c.nextCommit = nil, nil, nil, false
	c.farTick = make(map[common.Address]uint64)
	if c.cfg.CommitTicks > 0 {
		c.waiting, c.startAt, c.buildAt = true, c.now+c.cfg.CommitTicks, 0
		if lead := c.cfg.BuildLeadTicks; lead > 0 && lead < c.cfg.CommitTicks {
			c.buildAt = c.startAt - lead
		} else {
			c.buildEarly()
		}
	} else {
		c.waiting = false
		c.startRound(0) // line 10
	}
	for _, raw := range buffered {
		_ = c.Step(raw) // refused messages were never checked; drop them
	}
	c.evaluate()
	return nil
}

// Step handles a message received from the network (or replayed from the
// WAL, own messages included). It returns why a message was refused; a
// refused message changes nothing, so a driver need not log it (a copy of a
// message already counted is refused with errDuplicate). Checks run
// cheapest first: size and decoding, height, then one signature recovery,
// then the signer's membership in the height's set.
func (c *Core) Step(raw []byte) error {
	c.far = farNote{}
	if c.vals == nil {
		return errNotStarted
	}
	m, err := DecodeMessage(raw, c.cfg.MaxMessageSize)
	if err != nil {
		return err
	}
	return c.apply(raw, m)
}

// StepFilled is Step for a proposal this node filled from a compact one:
// the same checks but the decoding, which filling made needless (the block
// is built from transactions this node holds, each matched to its hash).
// f.Raw must be f.Proposal's wire form; the core buffers and logs it.
func (c *Core) StepFilled(f FilledProposal) error {
	c.far = farNote{}
	if c.vals == nil {
		return errNotStarted
	}
	if len(f.Raw) > c.cfg.MaxMessageSize {
		return fmt.Errorf("%w: %d bytes, limit %d", errOversized, len(f.Raw), c.cfg.MaxMessageSize)
	}
	if f.Proposal == nil {
		return fmt.Errorf("%w: no proposal", errMalformed)
	}
	if err := f.Proposal.checkShape(); err != nil {
		return err
	}
	return c.apply(f.Raw, f.Proposal)
}

// apply applies a decoded message m whose wire form is raw.
func (c *Core) apply(raw []byte, m any) error {
	var err error
	var height uint64
	switch m := m.(type) {
	case *CompactProposal:
		return ErrCompactUnfilled
	case *Proposal:
		height = m.Height
	case *Vote:
		height = m.Height
	case *CommitMessage:
		height = m.Block.NumberU64()
	}
	switch {
	case height < c.height:
		c.peerBehind(height)
		return fmt.Errorf("%w: %d, at %d", errStaleHeight, height, c.height)
	case height == c.height+1:
		return c.bufferNext(raw, m)
	case height > c.height+1:
		return fmt.Errorf("%w: %d, at %d", errFutureHeight, height, c.height)
	}
	if c.decision != nil {
		return errDecided // the driver is committing
	}
	switch m := m.(type) {
	case *Proposal:
		err = c.onProposal(m)
	case *Vote:
		err = c.onVote(m)
	case *CommitMessage:
		err = c.onCommit(m)
	}
	if err != nil {
		return err
	}
	c.evaluate()
	return nil
}

// quota is what one validator holds in the next-height buffer.
type quota struct {
	count, bytes int
}

// bufferNext keeps a proposal, a vote or a commit for the next height, to
// be stepped when StartHeight reaches it. The next height's set is not known before
// this height is decided, so the current set stands in for it (a bounded
// look-ahead): the signer must be one of its validators, may hold at most
// maxBufferedPerSigner messages and its 1/Len() share of maxBufferedBytes,
// and a message already held is not kept twice. Of catch-up commits for
// the next height the first is kept (see below).
func (c *Core) bufferNext(raw []byte, m any) error {
	var signer common.Address
	var err error
	switch m := m.(type) {
	case *Proposal:
		signer, err = m.Signer(c.cfg.ChainID)
	case *Vote:
		signer, err = m.Signer(c.cfg.ChainID)
	case *CommitMessage:
		// One commit for the next height is kept, stepped (and verified
		// against that height's set) when StartHeight reaches it. It
		// comes when the chain's head moved past this height before the
		// core decided it (a block by gossip or sync): the driver starts
		// the next height at once, and the commit that decides it need
		// not wait for a member to send it again. Any valid commit
		// decides the same block, so the first is enough.
		if c.nextCommit {
			return fmt.Errorf("%w: a commit for height %d is kept already", errDuplicate, c.height+1)
		}
		// The slot is the first commit's: let only one that can decide
		// take it (the gossip filter checked the same, but the core does
		// not rely on its callers).
		if c.decision != nil && m.Block.ParentHash() != c.decision.Block.Hash() {
			return fmt.Errorf("%w: commit for height %d builds on %x", errBlockMismatch, c.height+1, m.Block.ParentHash())
		}
		if _, err := VerifyCommit(c.cfg.ChainID, c.vals, c.height+1, m.Block.Hash(), &m.Commit); err != nil {
			return err
		}
		c.nextCommit = true
		c.buffer = append(c.buffer, raw)
		return nil
	default:
		return fmt.Errorf("%w: message for height %d, at %d", errFutureHeight, c.height+1, c.height)
	}
	if err != nil {
		return err
	}
	if !c.vals.Has(signer) {
		return fmt.Errorf("%w: %v", errNotValidator, signer)
	}
	key := crypto.Keccak256Hash(raw)
	if c.bufferSeen[key] {
		return errDuplicate
	}
	if c.bufferUse == nil {
		c.bufferUse, c.bufferSeen = make(map[common.Address]*quota), make(map[common.Hash]bool)
	}
	q := c.bufferUse[signer]
	if q == nil {
		q = new(quota)
		c.bufferUse[signer] = q
	}
	if q.count >= maxBufferedPerSigner || q.bytes+len(raw) > maxBufferedBytes/c.vals.Len() {
		return fmt.Errorf("%w: %v holds %d messages, %d bytes", errBufferFull, signer, q.count, q.bytes)
	}
	q.count++
	q.bytes += len(raw)
	c.bufferSeen[key] = true
	c.buffer = append(c.buffer, raw)
	return nil
}

// Tick advances logical time by one tick: round 0 starts once CommitTicks
// have passed, due timeouts fire (lines 57-67) and own messages are
// rebroadcast every RebroadcastTicks.
func (c *Core) Tick() {
	c.now++
	if c.vals == nil || c.decision != nil {
		return
	}
	if c.waiting && c.buildAt != 0 && c.now >= c.buildAt {
		c.buildAt = 0
		c.buildEarly()
	}
	if c.waiting && c.now >= c.startAt {
		c.waiting = false
		c.startRound(0) // line 10
	}
	var due []timeout
	c.timeouts = slices.DeleteFunc(c.timeouts, func(t timeout) bool {
		if t.at <= c.now {
			due = append(due, t)
			return true
		}
		return false
	})
	for _, t := range due {
		switch t.kind {
		case timeoutPropose:
			c.onTimeoutPropose(t.height, t.round)
		case timeoutPrevote:
			c.onTimeoutPrevote(t.height, t.round)
		case timeoutPrecommit:
			c.onTimeoutPrecommit(t.height, t.round)
		}
	}
	if n := c.cfg.RebroadcastTicks; n > 0 && c.now%n == 0 && !c.waiting {
		c.out.Messages = append(c.out.Messages, c.roundState(c.round).own...)
	}
	c.evaluate()
}

// Propose answers a BuildRequest with a sealed block built on the parent
// for the requested round. It is ignored (with an error) if the core has
// left that round's propose step meanwhile.
//
// During the CommitTicks wait a block built for round 0 (buildEarly) is
// kept and proposed when round 0 starts.
func (c *Core) Propose(b *types.Block) error {
	if c.vals == nil || c.decision != nil || c.building != int64(c.round) || c.step != stepPropose {
		return errNoProposalPending
	}
	if b.NumberU64() != c.height || b.ParentHash() != c.parent.Hash() {
		return fmt.Errorf("%w: built block %d", errBlockMismatch, b.NumberU64())
	}
	if ex, err := DecodeExtra(b.Extra()); err != nil || ex.Round != c.round {
		return fmt.Errorf("%w: built block is not for round %d", errBlockMismatch, c.round)
	}
	c.building = -1
	if c.waiting {
		c.prebuilt = b
		return nil
	}
	c.validity[b.Hash()] = validityValid // our own block: valid(v) holds
	c.sendProposal(b, -1)                // line 18
	c.evaluate()
	return nil
}

// roundState returns the state of round r, creating it.
func (c *Core) roundState(r uint32) *roundState {
	rs, ok := c.rounds[r]
	if !ok {
		rs = newRoundState(c.vals.Proposer(c.height, r))
		c.rounds[r] = rs
	}
	return rs
}

// onProposal records a proposal from the proposer of its round.
func (c *Core) onProposal(p *Proposal) error {
	if p.Round > c.round+maxRoundsAhead {
		return c.farRound(p.Round, p.Signer)
	}
	signer, err := p.Signer(c.cfg.ChainID)
	if err != nil {
		return err
	}
	power, ok := c.vals.Power(signer)
	if !ok {
		return fmt.Errorf("%w: %v", errNotValidator, signer)
	}
	rs := c.roundState(p.Round)
	if signer != rs.proposer {
		return fmt.Errorf("%w: %v in round %d, proposer %v", errNotProposer, signer, p.Round, rs.proposer)
	}
	c.absent.proposed(signer)
	if p.Block.ParentHash() != c.parent.Hash() {
		return fmt.Errorf("%w: parent %x", errBlockMismatch, p.Block.ParentHash())
	}
	added := rs.addProposal(p)
	if signer == c.self {
		// Our own proposal, replayed from the WAL or echoed back.
		c.noteSigned(p.Height, p.Round, signedProposal, p.Digest(c.cfg.ChainID))
		if added {
			rs.own = append(rs.own, p.Encode())
		}
	}
	if !added {
		return errDuplicate
	}
	rs.addSender(signer, power)
	c.seen(signer, p.Round)
	return nil
}

// onVote records a prevote or precommit, reporting equivocation.
func (c *Core) onVote(v *Vote) error {
	if v.Round > c.round+maxRoundsAhead {
		return c.farRound(v.Round, v.Signer)
	}
	signer, err := v.Signer(c.cfg.ChainID)
	if err != nil {
		return err
	}
	power, ok := c.vals.Power(signer)
	if !ok {
		return fmt.Errorf("%w: %v", errNotValidator, signer)
	}
	rs := c.roundState(v.Round)
	conflict, added := rs.votes(v.Type).add(v, signer, power)
	if signer == c.self {
		// Our own vote, replayed from the WAL or echoed back.
		c.noteSigned(v.Height, v.Round, uint8(v.Type), v.Digest(c.cfg.ChainID))
		if added {
			rs.own = append(rs.own, v.Encode())
		}
	}
	switch {
	case conflict != nil && !rs.evidenced[v.Type][signer]:
		rs.evidenced[v.Type][signer] = true
		c.out.Evidence = append(c.out.Evidence, NewEvidence(conflict, v))
	case !added:
		return errDuplicate
	}
	rs.addSender(signer, power)
	c.seen(signer, v.Round)
	return nil
}

// farRound handles a message more than maxRoundsAhead rounds ahead: it is
// not tallied, but a validly signed one records that its signer reached
// that round, which line 55 uses to catch up. A validator's far round is
// recorded only when it rises, and at most once a tick, so a flood of far
// rounds from one validator costs a bounded amount of state and log; a
// message that records nothing is refused with errFutureRound.
func (c *Core) farRound(round uint32, signer func(*big.Int) (common.Address, error)) error {
	addr, err := signer(c.cfg.ChainID)
	if err != nil {
		return err
	}
	if err := c.farFrom(addr, round); err != nil {
		return err
	}
	c.far = farNote{addr: addr, round: round, ok: true}
	return nil
}

// farNote is the far round the last Step recorded, if any: the replica
// logs it in place of the message (walFar), which may be a whole block
// that nothing reads but its signer and round.
type farNote struct {
	addr  common.Address
	round uint32
	ok    bool
}

// takeFar returns the far round the last Step recorded, if it recorded
// one, and forgets it.
func (c *Core) takeFar() (farNote, bool) {
	f := c.far
	c.far = farNote{}
	return f, f.ok
}

// farFrom records that validator addr reached round, far ahead, under the
// rules of farRound; the signature was checked (farRound) or the record
// comes from this validator's own log (walFar).
func (c *Core) farFrom(addr common.Address, round uint32) error {
	if !c.vals.Has(addr) {
		return fmt.Errorf("%w: %v", errNotValidator, addr)
	}
	if last, ok := c.latestRound[addr]; ok && round <= last {
		return fmt.Errorf("%w: round %d, at %d", errFutureRound, round, c.round)
	}
	if at, ok := c.farTick[addr]; ok && at == c.now {
		return fmt.Errorf("%w: round %d, at %d (one far round a tick)", errFutureRound, round, c.round)
	}
	c.farTick[addr] = c.now
	c.seen(addr, round)
	c.evaluate()
	return nil
}

// seen records that addr sent a message of round.
func (c *Core) seen(addr common.Address, round uint32) {
	if r, ok := c.latestRound[addr]; !ok || round > r {
		c.latestRound[addr] = round
	}
}

// onCommit decides the block of a catch-up commit for the current height.
// 2f+1 precommits for v in one round with v in hand is the condition of
// line 49; the proposal message is replaced by the block itself, whose
// proposer seal valid(v) checks.
func (c *Core) onCommit(m *CommitMessage) error {
	b := m.Block
	if b.ParentHash() != c.parent.Hash() {
		return fmt.Errorf("%w: parent %x", errBlockMismatch, b.ParentHash())
	}
	if _, err := VerifyCommit(c.cfg.ChainID, c.vals, c.height, b.Hash(), &m.Commit); err != nil {
		return err
	}
	switch ok, known := c.valid(b); {
	case !known:
		c.waitingCommit = m // decided when Validated answers
		return nil
	case !ok:
		return fmt.Errorf("%w: committed block %x", errInvalidBlock, b.Hash())
	}
	c.decide(b, m.Commit)
	return nil
}

// peerBehind notes a message from a peer at a lower height: one height
// behind is answered with the parent's commit, further behind is reported
// in Ready.Behind; both at most once per rebroadcast period.
func (c *Core) peerBehind(height uint64) {
	period := max(c.cfg.RebroadcastTicks, 1)
	switch {
	case height+1 == c.height:
		if c.lastCommit != nil && c.now >= c.catchupAt && c.height > 1 {
			c.catchupAt = c.now + period
			c.out.Messages = append(c.out.Messages, (&CommitMessage{Block: c.parent, Commit: *c.lastCommit}).Encode())
		}
	case height >= 1 && c.now >= c.behindAt:
		if c.out.Behind == 0 || height < c.out.Behind {
			c.out.Behind = height
		}
		c.behindAt = c.now + period
	}
}

// validity is what the core knows of valid(v) for a block.
type validity uint8

const (
	validityPending validity = iota // asked for in Ready.Validate, not answered yet
	validityValid
	validityInvalid
)

// valid is valid(v) of Algorithm 1: v extends the parent at this height
// (the core's own check) and passes the node's validation (the engine's
// header rules and execution), which the core does not run itself: it asks
// for it in Ready.Validate and learns the answer from Validated. It
// reports whether v is valid and whether that is known yet; a rule whose
// condition needs valid(v) waits while it is not (the round's timeouts
// still run, so a validation that never answers costs a round, not the
// chain). Answers are kept per block hash for the height.
func (c *Core) valid(b *types.Block) (ok, known bool) {
	h := b.Hash()
	if v, seen := c.validity[h]; seen {
		return v == validityValid, v != validityPending
	}
	if b.NumberU64() != c.height || b.ParentHash() != c.parent.Hash() {
		c.validity[h] = validityInvalid
		return false, true
	}
	c.validity[h] = validityPending
	c.out.Validate = append(c.out.Validate, b)
	return false, false
}

// Validated answers a validation the core asked for in Ready.Validate:
// err is nil if the block with this hash is valid. It is an input like a
// message, and a driver logs it before the core sees it. An answer for a
// block the core is not waiting on (another height, asked and answered
// already) changes nothing and returns errNotRequested.
func (c *Core) Validated(hash common.Hash, err error) error {
	if c.vals == nil {
		return errNotStarted
	}
	if v, seen := c.validity[hash]; !seen || v != validityPending {
		return fmt.Errorf("%w: %x", errNotRequested, hash)
	}
	if err != nil {
		c.validity[hash] = validityInvalid
		c.out.Refused = append(c.out.Refused, fmt.Errorf("%w: %x: %w", errInvalidBlock, hash, err))
	} else {
		c.validity[hash] = validityValid
	}
	if cm := c.waitingCommit; cm != nil && cm.Block.Hash() == hash && c.decision == nil {
		c.waitingCommit = nil
		if err == nil {
			c.decide(cm.Block, cm.Commit)
			return nil
		}
	}
	c.evaluate()
	return nil
}

// schedule arranges OnTimeout*(h_p, round) after the timeout of kind.
func (c *Core) schedule(kind timeoutKind, round uint32) {
	var d uint64
	switch kind {
	case timeoutPropose:
		d = c.proposeTicks(round)
	case timeoutPrevote:
		d = c.cfg.TimeoutPrevote.Ticks(round)
	case timeoutPrecommit:
		d = c.cfg.TimeoutPrecommit.Ticks(round)
	}
	c.timeouts = append(c.timeouts, timeout{at: c.now + max(d, 1), kind: kind, height: c.height, round: round})
}

// noteSigned raises the guard to a message this validator is known to have
// signed (replayed from the WAL or echoed by the network).
func (c *Core) noteSigned(h uint64, r uint32, s uint8, d common.Hash) {
	if c.guard.cmp(h, r, s) < 0 {
		c.guard = LastSigned{Height: h, Round: r, Step: s, Digest: d}
	}
}

// signGuarded signs d as the message (h, r, s) unless that conflicts with
// the guard: only above the last signed (height, round, step), or the same
// digest again.
func (c *Core) signGuarded(h uint64, r uint32, s uint8, d common.Hash) (Signature, error) {
	switch cmp := c.guard.cmp(h, r, s); {
	case cmp > 0, cmp == 0 && c.guard.Digest != d:
		return Signature{}, fmt.Errorf("%w: (%d, %d, %d), last signed (%d, %d, %d)", errDoubleSign, h, r, s, c.guard.Height, c.guard.Round, c.guard.Step)
	}
	sig, err := sign(d, c.cfg.Key)
	if err != nil {
		return Signature{}, err
	}
	c.guard = LastSigned{Height: h, Round: r, Step: s, Digest: d}
	return sig, nil
}

// emitOwn queues an own signed message for persisting and broadcast.
func (c *Core) emitOwn(rs *roundState, raw []byte) {
	c.out.Signed = append(c.out.Signed, raw)
	c.out.Messages = append(c.out.Messages, raw)
	rs.own = append(rs.own, raw)
}

// sendProposal signs and broadcasts ⟨PROPOSAL, h_p, round_p, b, vr⟩ and
// records it as received. A re-proposal (vr >= 0) is followed by the polka
// of round vr that justifies it, so that validators who missed those
// prevotes can still apply line 28.
func (c *Core) sendProposal(b *types.Block, vr int32) {
	if !c.isValidator {
		return
	}
	p := &Proposal{Height: c.height, Round: c.round, ValidRound: vr, Block: b}
	sig, err := c.signGuarded(c.height, c.round, signedProposal, p.Digest(c.cfg.ChainID))
	if err != nil {
		c.out.Refused = append(c.out.Refused, fmt.Errorf("proposal at height %d round %d: %w", c.height, c.round, err))
		return
	}
	p.Signature = sig
	rs := c.roundState(c.round)
	rs.addProposal(p)
	power, _ := c.vals.Power(c.self)
	rs.addSender(c.self, power)
	c.emitOwn(rs, p.Encode())
	if vr >= 0 {
		pol := c.roundState(uint32(vr)).prevotes.encoded(b.Hash())
		c.out.Messages = append(c.out.Messages, pol...)
		rs.own = append(rs.own, pol...)
	}
}

// sendVote signs and broadcasts a vote of type t for hash (zero: nil) in
// the current round and records it as received.
func (c *Core) sendVote(t VoteType, hash common.Hash) {
	if !c.isValidator {
		return
	}
	v := &Vote{Type: t, Height: c.height, Round: c.round, BlockHash: hash}
	sig, err := c.signGuarded(c.height, c.round, uint8(t), v.Digest(c.cfg.ChainID))
	if err != nil {
		c.out.Refused = append(c.out.Refused, fmt.Errorf("%v at height %d round %d: %w", t, c.height, c.round, err))
		return
	}
	v.Signature = sig
	rs := c.roundState(c.round)
	power, _ := c.vals.Power(c.self)
	rs.votes(t).add(v, c.self, power)
	rs.addSender(c.self, power)
	c.emitOwn(rs, v.Encode())
}

// decide records the decision for h_p (line 51) and hands it to the driver,
// which commits it and starts the next height.
func (c *Core) decide(b *types.Block, commit Commit) {
	c.decision = &Decision{Block: b, Commit: commit}
	c.out.Decided = c.decision
	c.timeouts = nil
	c.building = -1
}
