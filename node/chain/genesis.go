package chain

import (
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/node/genesis"
)

// SeedGenesisState writes the genesis allocations into st, then lets the
// contracts seed their own storage (the member set among it).
func SeedGenesisState(g *genesis.Genesis, st *state.StateDB, contracts Contracts) error {
	for _, addr := range g.SortedAlloc() {
		bal, overflow := uint256.FromBig(g.Alloc[addr].BalanceBig())
		if overflow {
			return errBalanceOverflow
		}
		st.AddBalance(addr, bal, tracing.BalanceIncreaseGenesisBalance)
	}
	return contracts.SeedGenesis(g.ForContracts(), st)
}
