package chain

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/arbiter-chain/arbiter/node/rules"
)

// Built is a block assembled by this node, ready for the engine to seal.
type Built struct {
	Block *types.Block
	// Rejected holds pending transactions that could not be included and
	// never will be on this parent (bad nonce, unaffordable, not allowed).
	Rejected []*types.Transaction
}

// BuildBlock assembles a block on parent from pending transactions (in the
// order given; each sender's nonces ascending) until the gas limit is
// reached. The engine prepares the header before execution and finalizes it
// after. The execution result is kept so that importing the sealed block
// does not run it again.
func (c *Chain) BuildBlock(parent *types.Block, pending []*types.Transaction, time uint64) (*Built, error) {
	return c.BuildBlockUntil(parent, pending, time, nil)
}

// buildCheckEvery is how many transactions BuildBlockUntil executes
// between looks at its deadline.
const buildCheckEvery = 32

// BuildBlockUntil is BuildBlock that also stops adding transactions once
// done reports true (checked every few transactions; nil never stops). A
// proposer bounds its block by the time it may spend building, so that a
// full pool yields a block every validator can execute within the round's
// timeouts instead of one that makes the round fail. Which transactions a
// block holds is the proposer's choice; validation does not depend on it.
func (c *Chain) BuildBlockUntil(parent *types.Block, pending []*types.Transaction, time uint64, done func() bool) (*Built, error) {
	header := &types.Header{
		ParentHash: parent.Hash(),
		Number:     new(big.Int).Add(parent.Number(), common.Big1),
		GasLimit:   c.gen.GasLimit,
		Time:       max(time, parent.Time()),
		BaseFee:    new(big.Int),
		UncleHash:  types.EmptyUncleHash,
	}
	if err := c.engine.Prepare(c, header, parent.Header()); err != nil {
		return nil, fmt.Errorf("prepare header: %w", err)
	}
	st, err := c.StateAt(parent.Root())
	if err != nil {
		return nil, err
	}
	env := Env{Number: header.Number.Uint64(), Time: header.Time, Coinbase: header.Coinbase, GasLimit: header.GasLimit, allowed: make(map[common.Address]struct{})}
	gasPool := header.GasLimit
	var (
		txs      []*types.Transaction
		receipts types.Receipts
		rejected []*types.Transaction
		used     uint64
		skip     = make(map[common.Address]bool)
		size     uint64
	)
	for i, tx := range pending {
		if gasPool < rules.IntrinsicGas(tx) {
			break
		}
		if done != nil && i%buildCheckEvery == buildCheckEvery-1 && done() {
			break
		}
		from, err := c.rules.CheckStatic(tx)
		if err != nil {
			rejected = append(rejected, tx)
			continue
		}
		if skip[from] || tx.Gas() > gasPool || size+tx.Size() > MaxBlockSize/2 {
			skip[from] = true
			continue
		}
		snap := st.Snapshot()
		r, err := c.applyTx(env, st, tx, from, len(txs), &gasPool, used)
		if err != nil {
			st.RevertToSnapshot(snap)
			skip[from] = true // later nonces of this sender cannot apply either
			if !errors.Is(err, rules.ErrNonceTooHigh) {
				rejected = append(rejected, tx)
			}
			continue
		}
		used = r.CumulativeGasUsed
		size += tx.Size()
		txs = append(txs, tx)
		receipts = append(receipts, r)
	}
	if err := c.engine.Finalize(c, header, st, txs); err != nil {
		return nil, fmt.Errorf("finalize: %w", err)
	}
	header.GasUsed = used
	header.Root = st.IntermediateRoot(c.config.Rules(header.Number, false, header.Time))
	block := types.NewBlock(header, &types.Body{Transactions: txs}, receipts, trie.NewStackTrie(nil))
	c.built.Add(c.engine.SealHash(block.Header()), &builtResult{txs: block.Transactions(), receipts: receipts, state: st})
	return &Built{Block: block, Rejected: rejected}, nil
}
