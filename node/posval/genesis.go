package posval

import (
	"fmt"
	"math/big"

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
