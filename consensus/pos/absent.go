package pos

import "github.com/ethereum/go-ethereum/common"

// This file makes a missing proposer cost little. A validator that is down
// or cut off leaves every round it should propose to timeoutPropose: with
// one of four validators down, a quarter of the heights would each wait
// out a full propose timeout. The core remembers, per validator, whether
// it missed its last turn as this node saw it, and waits a shorter
// timeout (Config.TimeoutProposeAbsent) for a proposer that did. The first
// proposal seen from it, in any round, restores the full timeout for its
// next turn. See docs/decisions/0030-absent-proposers.md.
//
// Timeouts are local and only serve liveness (Algorithm 1's safety holds
// whatever they are), so nothing here is agreed on or affects which blocks
// are valid. The marks are kept in the core and rebuilt from what it sees:
// a restarted validator begins with none.

// absentProposers records the validators that missed their last turn to
// propose.
type absentProposers struct {
	missed map[common.Address]bool
}

// proposed notes a proposal signed by addr, the proposer of its round:
// addr is present.
func (a *absentProposers) proposed(addr common.Address) {
	delete(a.missed, addr)
}

// timedOut notes that the propose step of a round ended by its timeout.
// The round's proposer missed its turn if nothing it proposed arrived (a
// proposal still being validated, or found invalid, is not a miss). A
// validator never marks itself.
func (a *absentProposers) timedOut(rs *roundState, self common.Address) {
	if len(rs.proposals) > 0 || rs.proposer == self {
		return
	}
	if a.missed == nil {
		a.missed = make(map[common.Address]bool)
	}
	a.missed[rs.proposer] = true
}

// keep forgets validators that are not in vals, so the marks stay bounded
// by the size of a set.
func (a *absentProposers) keep(vals *ValidatorSet) {
	for addr := range a.missed {
		if !vals.Has(addr) {
			delete(a.missed, addr)
		}
	}
}

// absentTimeout returns the propose timeout for a proposer that missed its
// last turn: Config.TimeoutProposeAbsent, or a quarter of TimeoutPropose's
// base (at least one tick) with its delta if that is left zero. It never
// exceeds the full timeout.
func (c *Core) absentTimeout() Timeout {
	if t := c.cfg.TimeoutProposeAbsent; t != (Timeout{}) {
		return t
	}
	full := c.cfg.TimeoutPropose
	return Timeout{Base: max(full.Base/4, 1), Delta: full.Delta}
}

// proposeTicks is timeoutPropose(round) for the current height: the full
// timeout, or the shorter one if the round's proposer missed its last turn.
func (c *Core) proposeTicks(round uint32) uint64 {
	full := c.cfg.TimeoutPropose.Ticks(round)
	if !c.absent.missed[c.roundState(round).proposer] {
		return full
	}
	return min(full, c.absentTimeout().Ticks(round))
}
