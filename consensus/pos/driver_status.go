package pos

import (
	"slices"
	"sync"
	"time"
)

// maxRoundTimings is how many finished rounds a driver's status keeps.
const maxRoundTimings = 32

// Step names reported by ConsensusStatus.
const (
	StepCommitWait = "commit" // after a decision, before round 0 of the next height
	StepPropose    = "propose"
	StepPrevote    = "prevote"
	StepPrecommit  = "precommit"
)

// RoundTiming is how one round of one height went, as the driver saw it in
// wall-clock time (for operators; it plays no part in consensus).
type RoundTiming struct {
	Height uint64
	Round  uint32
	// Start is when the driver saw the round's propose step begin.
	Start time.Time
	// Propose, Prevote and Precommit are the times spent in each step.
	Propose, Prevote, Precommit time.Duration
	// Decided reports whether the height was decided in this round; a
	// round that is not ended in a timeout or a jump to a later round.
	Decided bool
}

// ConsensusStatus is a snapshot of where a driver's core is.
type ConsensusStatus struct {
	Height uint64
	Round  uint32
	Step   string
	// Since is when the driver saw the current step begin.
	Since time.Time
	// Rounds are the last finished rounds, oldest first.
	Rounds []RoundTiming
}

// statusTracker turns the core's (height, round, step) after each input
// into a ConsensusStatus. observe is called by the driver's goroutine only;
// snapshot by anyone.
type statusTracker struct {
	// Owned by the driver goroutine: the last position observed.
	height uint64
	round  uint32
	step   string

	mu  sync.Mutex
	cur RoundTiming // the round in progress (Start zero while waiting)
	st  ConsensusStatus
}

// observe records the core's position at time now. It does nothing unless
// the position changed, so calling it after every input is cheap.
func (t *statusTracker) observe(c *Core, now time.Time) {
	step := stepName(c)
	h, r := c.Height(), c.Round()
	if h == t.height && r == t.round && step == t.step {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.charge(now)
	switch {
	case h != t.height: // decided (or moved on by a synced head)
		t.finish(h > t.height && t.step != "")
	case r != t.round:
		t.finish(false)
	}
	if step != StepCommitWait && t.cur.Start.IsZero() {
		t.cur = RoundTiming{Height: h, Round: r, Start: now}
	}
	t.height, t.round, t.step = h, r, step
	t.st.Height, t.st.Round, t.st.Step, t.st.Since = h, r, step, now
}

// charge adds the time since the last step began to that step.
func (t *statusTracker) charge(now time.Time) {
	if t.cur.Start.IsZero() || t.st.Since.IsZero() {
		return
	}
	d := now.Sub(t.st.Since)
	switch t.step {
	case StepPropose:
		t.cur.Propose += d
	case StepPrevote:
		t.cur.Prevote += d
	case StepPrecommit:
		t.cur.Precommit += d
	}
}

// finish closes the round in progress, if any.
func (t *statusTracker) finish(decided bool) {
	if t.cur.Start.IsZero() {
		return
	}
	t.cur.Decided = decided
	if len(t.st.Rounds) == maxRoundTimings {
		t.st.Rounds = slices.Delete(t.st.Rounds, 0, 1)
	}
	t.st.Rounds = append(t.st.Rounds, t.cur)
	t.cur = RoundTiming{}
}

// snapshot returns a copy of the status.
func (t *statusTracker) snapshot() ConsensusStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.st
	s.Rounds = slices.Clone(t.st.Rounds)
	return s
}

func stepName(c *Core) string {
	if c.waiting || c.vals == nil {
		return StepCommitWait
	}
	switch c.step {
	case stepPrevote:
		return StepPrevote
	case stepPrecommit:
		return StepPrecommit
	default:
		return StepPropose
	}
}

// Status returns where the driver's core is now and how its last rounds
// went. It is safe to call from any goroutine while Run runs.
func (d *Driver) Status() ConsensusStatus { return d.status.snapshot() }
