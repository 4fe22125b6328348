package posval

import (
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/p2p"
)

// GenesisValidators is the proof-of-stake validator set from block 1: the
// genesis members with a stake, with voting power proportional to it.
func GenesisValidators(g *genesis.Genesis) (*pos.ValidatorSet, error) {
	var (
		addrs  []common.Address
		stakes []*big.Int
	)
	for _, m := range g.Members {
		if m.Stake != nil && (*big.Int)(m.Stake).Sign() > 0 {
			addrs = append(addrs, m.Address)
			stakes = append(stakes, (*big.Int)(m.Stake))
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("genesis: engine pos needs members with a stake")
	}
	powers, err := pos.ScalePowers(stakes)
	if err != nil {
		return nil, err
	}
	vals := make([]pos.Validator, len(addrs))
	for i := range addrs {
		vals[i] = pos.Validator{Address: addrs[i], Power: powers[i]}
	}
	return pos.NewValidatorSet(1, vals)
}

// Admission returns who the network admits under pos: members (as told by
// members, the head's member set) and the validators deciding the next
// block. A member removed by vote keeps its power until the epoch ends
// (staking); cutting it off at once would take its votes away while they
// still count, and a removed validator with a third of the power would
// stall the chain until then.
func Admission(eng *pos.Engine, c *chain.Chain, members p2p.Members) p2p.Members {
	return validatorsAdmitted{members: members, chain: c, vals: eng.Validators()}
}

// validatorsAdmitted admits members and the next block's validators.
type validatorsAdmitted struct {
	members p2p.Members
	chain   *chain.Chain
	vals    pos.ValidatorSource
}

func (v validatorsAdmitted) IsMember(addr common.Address) bool {
	if v.members.IsMember(addr) {
		return true
	}
	head := v.chain.CurrentBlock()
	set, err := v.vals.ValidatorSet(head.NumberU64()+1, head.Hash())
	return err == nil && set.Has(addr)
}

// Attesters returns the validators whose attestations of transaction
// senders count on the network (p2p.Attesters; decision 46): those deciding
// the next block, as admission has them. A node whose head is more than
// staleHead (or ten block times) old by now (nil: the wall clock) has none: it may be catching up, and the validators of an
// old head may since have left with their stake, so it recovers every
// sender itself.
func Attesters(eng *pos.Engine, c *chain.Chain, now func() time.Time) p2p.Attesters {
	if now == nil {
		now = time.Now
	}
	return &attesters{chain: c, vals: eng.Validators(), now: now}
}

// staleHead is the age of the head past which a node does not take sender
// quorums, or ten block times if that is longer.
const staleHead = time.Minute

// attesters gives the validator set of the next block, converted once per
// set (the source returns the same set for a run of heights).
type attesters struct {
	chain *chain.Chain
	vals  pos.ValidatorSource
	now   func() time.Time

	mu    sync.Mutex
	set   *pos.ValidatorSet
	power []p2p.Power
}

func (a *attesters) Powers() ([]p2p.Power, uint64, bool) {
	head := a.chain.CurrentHeader()
	stale := max(staleHead, 10*time.Duration(a.chain.Genesis().BlockTime))
	if a.now().Sub(time.Unix(int64(head.Time), 0)) > stale {
		return nil, 0, false
	}
	set, err := a.vals.ValidatorSet(head.Number.Uint64()+1, head.Hash())
	if err != nil || set.Len() == 0 {
		return nil, 0, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if set != a.set {
		vs := set.Validators()
		a.power = make([]p2p.Power, len(vs))
		for i, v := range vs {
			a.power[i] = p2p.Power{Address: v.Address, Power: v.Power}
		}
		a.set = set
	}
	return a.power, set.TotalPower(), true
}
