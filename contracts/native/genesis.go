package native

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
)

// Genesis is what a contract may read of the chain's genesis when it seeds
// its storage: the node translates its genesis.json into it, so contracts
// never import the node.
type Genesis struct {
	ChainID uint64
	// Members in genesis order; Stake is nil or zero for a member without
	// a validator stake.
	Members []GenesisMember
	// Allowed are the non-member accounts members vouch for at genesis.
	Allowed []GenesisAllowance
}

// GenesisMember is a consortium member at genesis.
type GenesisMember struct {
	Address common.Address
	Name    string
	Stake   *big.Int
}

// GenesisAllowance is an account vouched for at genesis, and its voucher.
type GenesisAllowance struct {
	Account, By common.Address
}

// Seeder is implemented by contracts that write their own storage at
// genesis. st is the genesis state; a contract writes only its own
// account (and, for a contract that mints, its own balance).
type Seeder interface {
	SeedGenesis(g *Genesis, st *state.StateDB) error
}
