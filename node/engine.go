package node

import (
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/arbiter-chain/arbiter/contracts"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/store"
)

// NewEngine is the one place that chooses the consensus engine from genesis.
// key signs what this node produces; it may be nil for a node that only
// verifies. A proof-of-stake engine takes its validators from genesis for
// good, unless the staking contract is enabled: OpenChain then binds the
// engine to the contract's sets.
func NewEngine(g *genesis.Genesis, key *ecdsa.PrivateKey) (consensus.Engine, error) {
	e, _, err := newEngine(g, key, time.Now)
	return e, err
}

// newEngine is NewEngine with the clock the engine rejects blocks from the
// future by.
func newEngine(g *genesis.Genesis, key *ecdsa.PrivateKey, clock func() time.Time) (consensus.Engine, *stakingSource, error) {
	switch g.Engine {
	case genesis.EnginePoW:
		return pow.New(*g.PoW, time.Duration(g.BlockTime), key, pow.WithClock(clock)), nil, nil
	case genesis.EnginePoS:
		set, err := GenesisValidators(g)
		if err != nil {
			return nil, nil, err
		}
		chainID := new(big.Int).SetUint64(g.ChainID)
		if slices.Contains(g.Contracts, "staking") {
			src := newStakingSource(set)
			return pos.New(chainID, src, key, pos.WithClock(clock)), src, nil
		}
		schedule, err := pos.NewSchedule(set)
		if err != nil {
			return nil, nil, err
		}
		return pos.New(chainID, schedule, key, pos.WithClock(clock)), nil, nil
	default:
		return nil, nil, fmt.Errorf("engine %q is not available in this build", g.Engine)
	}
}

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

// OpenChain opens the chain in db with the engine and the native contracts
// genesis names. Every component that opens a chain (init, the node, the
// CLI's export and verify) goes through here, so all compute the same
// genesis state.
func OpenChain(db *store.DB, g *genesis.Genesis, key *ecdsa.PrivateKey, log *slog.Logger) (*chain.Chain, error) {
	return openChain(db, g, key, log, time.Now)
}

// openChain is OpenChain with the engine's clock.
func openChain(db *store.DB, g *genesis.Genesis, key *ecdsa.PrivateKey, log *slog.Logger, clock func() time.Time) (*chain.Chain, error) {
	engine, src, err := newEngine(g, key, clock)
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
	c, err := chain.New(db, g, engine, chain.WithContracts(reg), chain.WithLogger(log))
	if err != nil {
		return nil, err
	}
	if src != nil {
		src.bind(c)
	}
	return c, nil
}
