package node

import (
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/arbiter-chain/arbiter/contracts"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/store"
)

// NewEngine is the one place that chooses the consensus engine from genesis.
// key signs what this node produces; it may be nil for a node that only
// verifies.
func NewEngine(g *genesis.Genesis, key *ecdsa.PrivateKey) (consensus.Engine, error) {
	switch g.Engine {
	case genesis.EnginePoW:
		return pow.New(*g.PoW, time.Duration(g.BlockTime), key), nil
	default:
		return nil, fmt.Errorf("engine %q is not available in this build", g.Engine)
	}
}

// OpenChain opens the chain in db with the engine and the native contracts
// genesis names. Every component that opens a chain (init, the node, the
// CLI's export and verify) goes through here, so all compute the same
// genesis state.
func OpenChain(db *store.DB, g *genesis.Genesis, key *ecdsa.PrivateKey, log *slog.Logger) (*chain.Chain, error) {
	engine, err := NewEngine(g, key)
	if err != nil {
		return nil, err
	}
	reg, err := contracts.NewByName(new(big.Int).SetUint64(g.ChainID), g.Contracts...)
	if err != nil {
		return nil, fmt.Errorf("genesis contracts: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return chain.New(db, g, engine, chain.WithContracts(reg), chain.WithLogger(log))
}
