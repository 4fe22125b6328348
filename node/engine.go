package node

import (
	"crypto/ecdsa"
	"fmt"
	"time"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/arbiter-chain/arbiter/node/genesis"
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
