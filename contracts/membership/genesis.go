package membership

import (
	"github.com/ethereum/go-ethereum/core/state"

	"github.com/arbiter-chain/arbiter/contracts/native"
)

// SeedGenesis writes the genesis member set and the accounts members vouch
// for into the contract's storage. It is the permission system of the
// chain, so the registry seeds it even when the contract is not callable.
func (Contract) SeedGenesis(g *native.Genesis, st *state.StateDB) error {
	for _, m := range g.Members {
		AddMember(st, m.Address)
	}
	for _, a := range g.Allowed {
		Allow(st, a.Account, a.By)
	}
	return nil
}
