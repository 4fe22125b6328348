package chain

import (
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/node/genesis"
)

// SeedGenesisState writes the genesis allocations and the membership
// contract's storage into st. Contract accounts get nonce 1 so that EIP-158
// never deletes them (and their storage) as empty.
func SeedGenesisState(g *genesis.Genesis, st *state.StateDB, contracts Contracts) error {
	for _, addr := range g.SortedAlloc() {
		bal, overflow := uint256.FromBig(g.Alloc[addr].BalanceBig())
		if overflow {
			return errBalanceOverflow
		}
		st.AddBalance(addr, bal, tracing.BalanceIncreaseGenesisBalance)
	}
	st.SetNonce(membership.Address, 1, tracing.NonceChangeGenesis)
	for _, m := range g.Members {
		membership.AddMember(st, m.Address)
	}
	for _, a := range g.Allowed {
		membership.Allow(st, a.Account, a.By)
	}
	if s, ok := contracts.(interface {
		SeedGenesis(*genesis.Genesis, *state.StateDB) error
	}); ok {
		return s.SeedGenesis(g, st)
	}
	return nil
}
