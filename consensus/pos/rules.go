package pos

import (
	"slices"

	"github.com/ethereum/go-ethereum/common"
)

// This file is Algorithm 1 of "The latest gossip on BFT consensus"
// (Buchman, Kwon, Milosevic). Comments give the paper's line numbers. "2f+1"
// is more than 2/3 of the voting power, "f+1" more than 1/3.

// startRound is StartRound(round), lines 11-21.
func (c *Core) startRound(round uint32) {
	c.round = round      // line 12
	c.step = stepPropose // line 13
	rs := c.roundState(round)
	if c.isValidator && rs.proposer == c.self { // line 14
		if c.validValue != nil { // line 15
			c.sendProposal(c.validValue, c.validRound) // lines 16, 18
			return
		}
		// Line 17: getValue() is asynchronous here; the block arrives
		// through Propose. A proposer without its parent's commit cannot
		// build a valid block and lets the round time out. In both cases
		// the timeout of line 20 also runs for the proposer, so a build
		// that never returns cannot stall it. Round 0's block may have
		// been built, or be being built, during the CommitTicks wait
		// (buildEarly).
		switch {
		case round == 0 && c.prebuilt != nil:
			b := c.prebuilt
			c.prebuilt = nil
			c.validity[b.Hash()] = validityValid // our own block: valid(v) holds
			c.sendProposal(b, -1)                // line 18
		case round == 0 && c.building == 0:
			// The early build has not answered yet; Propose sends it.
		case c.lastCommit != nil:
			c.building = int64(round)
			c.out.Build = &BuildRequest{Height: c.height, Round: round, Parent: c.parent, LastCommit: *c.lastCommit}
		}
	}
	c.schedule(timeoutPropose, round) // line 20
}

// buildEarly asks for round 0's block during the CommitTicks wait, if
// this validator proposes round 0, so that building overlaps the wait
// instead of following it: under load a build takes longer than the wait,
// and every height would otherwise pay for both. It asks as the wait
// begins, or BuildLeadTicks before it ends when the wait is longer than
// that (Tick). The block holds what the pool had when it was asked for; it
// is proposed when round 0 starts (startRound), or at once if it arrives
// later. Nothing is signed before round 0. See
// docs/decisions/0037-build-during-the-commit-wait.md.
func (c *Core) buildEarly() {
	if !c.isValidator || c.lastCommit == nil || c.roundState(0).proposer != c.self {
		return
	}
	c.building = 0
	c.out.Build = &BuildRequest{Height: c.height, Round: 0, Parent: c.parent, LastCommit: *c.lastCommit}
}

// evaluate applies the upon-rules of Algorithm 1 until none fires. Rules are
// tried in a fixed order so that replaying the same inputs gives the same
// state. While the core waits out CommitTicks before round 0 it signs
// nothing, but line 49 holds in every step: a height the others decided
// meanwhile is decided at once, so that a validator whose wait ends later
// than theirs (a slower clock, a later decision) does not fall behind.
func (c *Core) evaluate() {
	if c.vals == nil || c.decision != nil {
		return
	}
	if c.waiting {
		c.line49()
		return
	}
	for c.decision == nil && c.applyRule() {
	}
}

// applyRule fires the first upon-rule whose condition holds and reports
// whether one did.
func (c *Core) applyRule() bool {
	return c.line49() || c.line55() || c.line22() || c.line28() || c.lineExpired() ||
		c.line34() || c.line36() || c.line44() || c.line47()
}

// line22: upon ⟨PROPOSAL, h_p, round_p, v, −1⟩ from proposer(h_p, round_p)
// while step_p = propose.
func (c *Core) line22() bool {
	if c.step != stepPropose {
		return false
	}
	for _, p := range c.roundState(c.round).proposals {
		if p.msg.ValidRound != -1 {
			continue
		}
		ok, known := c.valid(p.block())
		if !known {
			continue // wait for Validated (or timeoutPropose)
		}
		// Line 23: valid(v) ∧ (lockedRound_p = −1 ∨ lockedValue_p = v).
		if ok && (c.lockedRound == -1 || c.lockedValue.Hash() == p.hash) {
			c.sendVote(Prevote, p.hash) // line 24
		} else {
			c.sendVote(Prevote, common.Hash{}) // line 26
		}
		c.step = stepPrevote // line 27
		return true
	}
	return false
}

// line28: upon ⟨PROPOSAL, h_p, round_p, v, vr⟩ from proposer(h_p, round_p)
// AND 2f+1 ⟨PREVOTE, h_p, vr, id(v)⟩ while step_p = propose ∧ (vr ≥ 0 ∧
// vr < round_p).
func (c *Core) line28() bool {
	if c.step != stepPropose {
		return false
	}
	for _, p := range c.roundState(c.round).proposals {
		vr := p.msg.ValidRound
		if vr < 0 || uint32(vr) >= c.round {
			continue
		}
		polka, ok := c.rounds[uint32(vr)]
		if !ok || !c.vals.HasQuorum(polka.prevotes.power[p.hash]) {
			continue
		}
		ok, known := c.valid(p.block())
		if !known {
			continue // wait for Validated (or timeoutPropose)
		}
		// Line 29: valid(v) ∧ (lockedRound_p ≤ vr ∨ lockedValue_p = v).
		if ok && (c.lockedRound <= vr || c.lockedValue.Hash() == p.hash) {
			c.sendVote(Prevote, p.hash) // line 30
		} else {
			c.sendVote(Prevote, common.Hash{}) // line 32
		}
		c.step = stepPrevote // line 33
		return true
	}
	return false
}

// line34: upon 2f+1 ⟨PREVOTE, h_p, round_p, ∗⟩ while step_p = prevote for
// the first time: schedule OnTimeoutPrevote (line 35).
func (c *Core) line34() bool {
	rs := c.roundState(c.round)
	if c.step != stepPrevote || rs.line34 || !c.vals.HasQuorum(rs.prevotes.total) {
		return false
	}
	rs.line34 = true
	c.schedule(timeoutPrevote, c.round) // line 35
	return true
}

// line36: upon ⟨PROPOSAL, h_p, round_p, v, ∗⟩ from proposer(h_p, round_p)
// AND 2f+1 ⟨PREVOTE, h_p, round_p, id(v)⟩ while valid(v) ∧ step_p ≥ prevote
// for the first time.
func (c *Core) line36() bool {
	rs := c.roundState(c.round)
	if c.step < stepPrevote || rs.line36 {
		return false
	}
	for _, p := range rs.proposals {
		if !c.vals.HasQuorum(rs.prevotes.power[p.hash]) {
			continue
		}
		if ok, _ := c.valid(p.block()); !ok {
			continue // invalid, or waiting for Validated
		}
		rs.line36 = true
		if c.step == stepPrevote { // line 37
			c.lockedValue = p.block()      // line 38
			c.lockedRound = int32(c.round) // line 39
			c.sendVote(Precommit, p.hash)  // line 40
			c.step = stepPrecommit         // line 41
		}
		c.validValue = p.block()      // line 42
		c.validRound = int32(c.round) // line 43
		return true
	}
	return false
}

// line44: upon 2f+1 ⟨PREVOTE, h_p, round_p, nil⟩ while step_p = prevote.
func (c *Core) line44() bool {
	rs := c.roundState(c.round)
	if c.step != stepPrevote || !c.vals.HasQuorum(rs.prevotes.power[common.Hash{}]) {
		return false
	}
	c.sendVote(Precommit, common.Hash{}) // line 45
	c.step = stepPrecommit               // line 46
	return true
}

// line47: upon 2f+1 ⟨PRECOMMIT, h_p, round_p, ∗⟩ for the first time:
// schedule OnTimeoutPrecommit (line 48).
func (c *Core) line47() bool {
	rs := c.roundState(c.round)
	if rs.line47 || !c.vals.HasQuorum(rs.precommits.total) {
		return false
	}
	rs.line47 = true
	c.schedule(timeoutPrecommit, c.round) // line 48
	return true
}

// line49: upon ⟨PROPOSAL, h_p, r, v, ∗⟩ from proposer(h_p, r) AND 2f+1
// ⟨PRECOMMIT, h_p, r, id(v)⟩ while decision_p[h_p] = nil. Rounds are tried
// in ascending order.
func (c *Core) line49() bool {
	rounds := make([]uint32, 0, len(c.rounds))
	for r := range c.rounds {
		rounds = append(rounds, r)
	}
	slices.Sort(rounds)
	for _, r := range rounds {
		rs := c.rounds[r]
		for _, p := range rs.proposals {
			if !c.vals.HasQuorum(rs.precommits.power[p.hash]) {
				continue
			}
			if ok, _ := c.valid(p.block()); ok { // line 50; waits for Validated
				c.decide(p.block(), Commit{Round: r, Signatures: rs.precommits.signatures(p.hash)}) // line 51
				return true
			}
		}
	}
	return false
}

// line55: upon f+1 ⟨∗, h_p, round, ∗, ∗⟩ with round > round_p:
// StartRound(round) (line 56), to the highest such round. Messages more
// than maxRoundsAhead ahead are not tallied per round; for them the rule is
// applied to each validator's highest round seen: if validators with f+1
// power have reached round R or beyond, at least one correct validator is
// in round R or later and the core moves to the highest such R.
func (c *Core) line55() bool {
	target, ok := uint32(0), false
	for r, rs := range c.rounds {
		if r > c.round && (!ok || r > target) && c.vals.HasOneThird(rs.senderPower) {
			target, ok = r, true
		}
	}
	if r, found := c.farTarget(); found && (!ok || r > target) {
		target, ok = r, true
	}
	if !ok {
		return false
	}
	c.startRound(target) // line 56
	return true
}

// farTarget returns the highest round R > round_p + maxRoundsAhead such that
// validators with f+1 power have been seen at round R or beyond.
func (c *Core) farTarget() (uint32, bool) {
	type seen struct {
		round uint32
		power uint64
	}
	var far []seen
	for addr, r := range c.latestRound {
		if r > c.round+maxRoundsAhead {
			p, _ := c.vals.Power(addr)
			far = append(far, seen{r, p})
		}
	}
	slices.SortFunc(far, func(a, b seen) int { return cmpUint(uint64(b.round), uint64(a.round)) })
	var power uint64
	for _, s := range far {
		power += s.power
		if c.vals.HasOneThird(power) {
			return s.round, true
		}
	}
	return 0, false
}

// onTimeoutPropose is OnTimeoutPropose(height, round), lines 57-60.
//
// The paper validates a proposal as it arrives, so a proposal received
// before the timeout is always voted on. Here validation runs beside the
// core (Ready.Validate), and a block that arrived in time may still be
// executing when the timeout fires; prevoting nil then would throw away
// a good proposal because the machine was busy, which under load costs
// a round at every height. So if a proposal of this round is still being
// validated, the prevote nil of line 59 waits for the answer
// (lineExpired), for at most one more timeoutPropose: a validation that
// never answers still costs a round, not the chain. Timeouts only serve
// liveness; no vote is cast that Algorithm 1 would not cast.
// See docs/decisions/0036-propose-timeout-waits-for-validation.md.
func (c *Core) onTimeoutPropose(height uint64, round uint32) {
	if height != c.height || round != c.round || c.step != stepPropose { // line 58
		return
	}
	rs := c.roundState(round)
	if !rs.proposeExpired {
		rs.proposeExpired = true
		if c.validating(rs) {
			c.schedule(timeoutPropose, round)
			return
		}
	}
	c.expireProposeStep(rs)
}

// lineExpired completes a timeoutPropose that waited for a validation:
// once no proposal of the round is being validated and neither line 22
// nor line 28 has prevoted, the validator prevotes nil as line 59 says.
func (c *Core) lineExpired() bool {
	if c.step != stepPropose {
		return false
	}
	rs := c.roundState(c.round)
	if !rs.proposeExpired || c.validating(rs) {
		return false
	}
	c.expireProposeStep(rs)
	return true
}

// expireProposeStep is the body of OnTimeoutPropose, lines 59-60.
func (c *Core) expireProposeStep(rs *roundState) {
	c.absent.timedOut(rs, c.self)
	c.sendVote(Prevote, common.Hash{}) // line 59
	c.step = stepPrevote               // line 60
	c.building = -1
}

// validating reports whether a proposal of rs from its proposer waits for
// its validation answer.
func (c *Core) validating(rs *roundState) bool {
	for _, p := range rs.proposals {
		if v, asked := c.validity[p.hash]; asked && v == validityPending {
			return true
		}
	}
	return false
}

// onTimeoutPrevote is OnTimeoutPrevote(height, round), lines 61-64.
func (c *Core) onTimeoutPrevote(height uint64, round uint32) {
	if height == c.height && round == c.round && c.step == stepPrevote { // line 62
		c.sendVote(Precommit, common.Hash{}) // line 63
		c.step = stepPrecommit               // line 64
	}
}

// onTimeoutPrecommit is OnTimeoutPrecommit(height, round), lines 65-67.
func (c *Core) onTimeoutPrecommit(height uint64, round uint32) {
	if height == c.height && round == c.round { // line 66
		c.startRound(round + 1) // line 67
	}
}
