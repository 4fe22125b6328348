package node

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/txpool"
)

// rebuildEvery bounds how often new pool transactions restart the block
// being sealed, so a stream of transactions does not starve sealing.
const rebuildEvery = 250 * time.Millisecond

// miner keeps sealing a block on the current head: it rebuilds the block
// when the head moves or new transactions arrive, imports what it seals and
// updates the pool.
type miner struct {
	chain *chain.Chain
	pool  *txpool.Pool
	log   *slog.Logger
	now   func() time.Time
}

type sealResult struct {
	block *types.Block
	err   error
}

func (m *miner) run(ctx context.Context) {
	heads := make(chan chain.HeadEvent, 16)
	hs := m.chain.SubscribeChainHead(heads)
	defer hs.Unsubscribe()
	txs := make(chan []*types.Transaction, 64)
	ts := m.pool.SubscribeNewTxs(txs)
	defer ts.Unsubscribe()

	var (
		cancel    context.CancelFunc = func() {}
		results                      = make(chan sealResult, 1)
		sealing   bool
		dirty     = true
		lastBuild time.Time
		timer     = time.NewTimer(0)
	)
	defer func() { cancel() }()
	for {
		if dirty && !sealing || dirty && m.now().Sub(lastBuild) >= rebuildEvery {
			cancel()
			if sealing {
				<-results // wait for the abandoned seal to return
			}
			sctx, stop := context.WithCancel(ctx)
			cancel = stop
			sealing = m.start(sctx, results)
			dirty, lastBuild = false, m.now()
			if !sealing {
				timer.Reset(time.Second)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-heads:
			dirty = true
		case <-txs:
			dirty = true
			timer.Reset(rebuildEvery)
		case <-timer.C:
			if !sealing {
				dirty = true
			}
		case r := <-results:
			sealing = false
			if r.err != nil {
				if !errors.Is(r.err, context.Canceled) {
					m.log.Warn("sealing failed", "err", r.err)
				}
				dirty = true
				continue
			}
			if err := m.chain.InsertBlock(r.block); err != nil {
				m.log.Error("importing own block failed", "number", r.block.NumberU64(), "err", err)
			} else {
				m.log.Info("mined block", "number", r.block.NumberU64(), "hash", r.block.Hash(), "txs", len(r.block.Transactions()), "difficulty", r.block.Difficulty())
			}
			dirty = true
		}
	}
}

// start builds a block on the head and seals it in the background.
func (m *miner) start(ctx context.Context, results chan<- sealResult) bool {
	parent := m.chain.CurrentBlock()
	built, err := m.chain.BuildBlock(parent, m.pool.Pending(), uint64(m.now().Unix()))
	if err != nil {
		m.log.Error("building block failed", "err", err)
		return false
	}
	if len(built.Rejected) > 0 {
		m.log.Debug("pool transactions rejected by the block builder", "count", len(built.Rejected))
	}
	go func() {
		b, err := m.chain.Engine().Seal(ctx, m.chain, built.Block)
		results <- sealResult{block: b, err: err}
	}()
	return true
}
