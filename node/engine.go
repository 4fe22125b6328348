package node

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"time"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/arbiter-chain/arbiter/contracts"
	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/p2p"
	"github.com/arbiter-chain/arbiter/node/posval"
	"github.com/arbiter-chain/arbiter/node/store"
)

// This file is the only place in the node that knows which consensus engine
// runs: it builds the engine genesis names, and decides what the engine
// brings to the node (block production, the consensus topic's gossip
// validator, peer admission). Proof-of-stake specifics live in node/posval,
// proof-of-work block production in miner.go.

// NewEngine chooses the consensus engine from genesis. key signs what this
// node produces; it may be nil for a node that only verifies. A
// proof-of-stake engine takes its validators from genesis for good, unless
// the staking contract is enabled: OpenChain then binds the engine to the
// contract's sets.
func NewEngine(g *genesis.Genesis, key *ecdsa.PrivateKey) (consensus.Engine, error) {
	e, _, err := newEngine(g, key, time.Now)
	return e, err
}

// newEngine is NewEngine with the clock the engine rejects blocks from the
// future by. It also returns the staking source to bind to the chain, if any.
func newEngine(g *genesis.Genesis, key *ecdsa.PrivateKey, clock func() time.Time) (consensus.Engine, *posval.StakingSource, error) {
	switch g.Engine {
	case genesis.EnginePoW:
		return pow.New(*g.PoW, time.Duration(g.BlockTime), key, pow.WithClock(clock)), nil, nil
	case genesis.EnginePoS:
		set, err := posval.GenesisValidators(g)
		if err != nil {
			return nil, nil, err
		}
		chainID := new(big.Int).SetUint64(g.ChainID)
		if slices.Contains(g.Contracts, "staking") {
			src := posval.NewStakingSource(set)
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

// OpenChain opens the chain in db with the engine and the native contracts
// genesis names. Every component that opens a chain (init, the node, the
// CLI's export and verify) goes through here, so all compute the same
// genesis state.
func OpenChain(db *store.DB, g *genesis.Genesis, key *ecdsa.PrivateKey, log *slog.Logger) (*chain.Chain, error) {
	return openChain(db, g, key, log, time.Now)
}

// openChain is OpenChain with the engine's clock and more chain options.
func openChain(db *store.DB, g *genesis.Genesis, key *ecdsa.PrivateKey, log *slog.Logger, clock func() time.Time, opts ...chain.Option) (*chain.Chain, error) {
	engine, src, err := newEngine(g, key, clock)
	if err != nil {
		return nil, err
	}
	reg, err := contracts.NewByNameWith(new(big.Int).SetUint64(g.ChainID), g.Contracts, staking.New(staking.WithParams(g.StakingParams())))
	if err != nil {
		return nil, fmt.Errorf("genesis contracts: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	c, err := chain.New(db, g, engine, append([]chain.Option{chain.WithContracts(reg), chain.WithLogger(log)}, opts...)...)
	if err != nil {
		return nil, err
	}
	if src != nil {
		src.Bind(c)
	}
	return c, nil
}

// startProducer starts block production for the engine (arbiter node
// --mine): a proof-of-stake validator's consensus driver, if the node's key
// validates the next block, or the proof-of-work miner.
func (n *Node) startProducer(ctx context.Context) error {
	switch eng := n.chain.Engine().(type) {
	case *pos.Engine:
		if !posval.IsValidator(eng, n.chain, n.cfg.Key) {
			n.log.Info("node key does not validate the next block: following only")
			return nil
		}
		cfg := posval.Config{
			Engine: eng, Chain: n.chain, Pool: n.pool, Key: n.cfg.Key, DataDir: n.cfg.DataDir,
			Clock: n.cfg.Clock, Logger: n.log, Slash: slices.Contains(n.chain.Genesis().Contracts, "staking"),
			Driver: &n.driver,
		}
		if n.p2p != nil {
			cfg.Net = n.p2p
		}
		v, err := posval.Start(ctx, cfg)
		if err != nil {
			return err
		}
		n.wg.Add(1)
		go func() { defer n.wg.Done(); <-ctx.Done(); v.Wait() }()
		return nil
	default:
		m := &miner{chain: n.chain, pool: n.pool, log: n.log, now: n.cfg.Clock}
		n.wg.Add(1)
		go func() { defer n.wg.Done(); m.run(ctx) }()
		return nil
	}
}

// consensusFilter returns the consensus topic's gossip validator, nil for
// engines without consensus messages.
func (n *Node) consensusFilter() p2p.ConsensusValidator {
	if eng, ok := n.chain.Engine().(*pos.Engine); ok {
		return posval.Filter(eng, n.chain)
	}
	return nil
}

// attesters returns the validators whose attestations of transaction
// senders count (posval.Attesters), or nil when the engine has none.
func (n *Node) attesters() p2p.Attesters {
	if eng, ok := n.chain.Engine().(*pos.Engine); ok {
		return posval.Attesters(eng, n.chain, n.cfg.Clock)
	}
	return nil
}

// admission returns who the network admits: the members at the head and,
// under pos, the validators deciding the next block (posval.Admission).
func (n *Node) admission() p2p.Members {
	members := p2p.HeadMembers(n.chain)
	if eng, ok := n.chain.Engine().(*pos.Engine); ok {
		return posval.Admission(eng, n.chain, members)
	}
	return members
}

// maxConsensusGossip bounds a consensus-topic message for the engine.
func (n *Node) maxConsensusGossip() int {
	if _, ok := n.chain.Engine().(*pos.Engine); ok {
		return posval.MaxGossipMessage
	}
	return 0
}
