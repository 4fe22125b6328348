package staking

import (
	"fmt"

	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/native"
)

// SeedGenesis writes the parameters and the epoch-0 validator set: every
// genesis member with a positive Stake, in genesis order, with that stake.
// The stakes are minted: the contract's balance grows by their sum, so
// withdrawals of genesis stake can be paid, and no allocation needs to hold
// them. Each stake must be from MinStake to MaxStake, and at most
// MaxValidators members may have one. A genesis without stakes seeds an
// empty set, which deposits fill from epoch 1 on.
func (c Contract) SeedGenesis(g *native.Genesis, st *state.StateDB) error {
	p := c.Params()
	if err := p.Validate(); err != nil {
		return err
	}
	p.save(st)
	var hd head
	total := new(uint256.Int)
	for _, m := range g.Members {
		if m.Stake == nil || m.Stake.Sign() == 0 {
			continue
		}
		v := m.Stake
		stake, overflow := uint256.FromBig(v)
		if overflow || v.Sign() < 0 || stake.Lt(p.MinStake) || stake.Gt(MaxStake) {
			return fmt.Errorf("%w: member %s stakes %v, want %v to %v", ErrGenesisStake, m.Address, v, p.MinStake, MaxStake)
		}
		if hd.count >= MaxValidators {
			return fmt.Errorf("%w: more than %d members with a stake", ErrGenesisStake, MaxValidators)
		}
		setBonded(st, &hd, m.Address, stake)
		total.Add(total, stake) // at most 128 * 2^96: no overflow
	}
	hd.save(st)
	st.AddBalance(Address, total, tracing.BalanceIncreaseGenesisBalance)
	return nil
}
