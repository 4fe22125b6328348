package posval

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/consensus/pos"
)

// Proposals travel compact (docs/decisions/0038-compact-proposals.md): the
// transport sends a proposal as its header and transaction hashes, and a
// receiver fills it from its pool, fetching from peers only what the pool
// lacks, before the core sees it as a full proposal.

// fillTimeout bounds the fetch of one proposal's missing transactions.
// A proposal filled after its round's propose timeout still counts for the
// later steps (a polka or a commit for its block needs the block).
const fillTimeout = 5 * time.Second

// filledKeys is how many filled proposals are remembered, so that a copy
// (the proposer's rebroadcast) is not filled again.
const filledKeys = 64

// Each proposer's fills that need the network draw on a budget of
// fetchBurst, refilled at fetchRate a second. A fill sends one request to
// every peer that may hold the transactions, so a Byzantine validator
// signing compact proposals of rising rounds, each naming a transaction no
// one has, would otherwise make every node ask every other many times a
// second and use up the request budget members grant each other
// (blocktxs.go), failing the fills of honest proposals. An honest
// proposer proposes once in a round it leads: at most a few a second at
// the shortest block times, well within the budget. Fills from the pool
// cost nothing.
const (
	fetchBurst = 16
	fetchRate  = 8
	// fetchBudgets bounds the proposers with a budget kept; past it, full
	// budgets (idle proposers) are dropped. Proposers are validators of
	// the current or next set, so a handful are live at a time.
	fetchBudgets = 256
)

// fetchBudget is one proposer's budget of network fills.
type fetchBudget struct {
	tokens float64
	at     time.Time
}

// txFetcher is what filling needs of the network.
type txFetcher interface {
	FetchTxs(ctx context.Context, prefer common.Address, hashes []common.Hash) (map[common.Hash]*types.Transaction, error)
	KeepTxs(txs []*types.Transaction)
}

// txLookup is what filling needs of the pool; *txpool.Pool satisfies it.
type txLookup interface {
	GetMany(hashes []common.Hash) []*types.Transaction
}

// proposalKey names a proposal: its block at a height and round.
type proposalKey struct {
	hash   common.Hash
	height uint64
	round  uint32
}

// after reports whether k is at a later height and round than o.
func (k proposalKey) after(o proposalKey) bool {
	return k.height > o.height || k.height == o.height && k.round > o.round
}

// fetchJob is a fill waiting on the network.
type fetchJob struct {
	key    proposalKey
	cancel context.CancelFunc
}

// filler turns compact proposals into full ones for the core. A fill that
// needs the network runs on its own goroutine; each proposer (the
// proposal's signer, not the peer that relayed it) has at most one such
// fill at a time, and only its proposal for a later round replaces it, so
// a validator flooding proposals delays only its own.
type filler struct {
	ctx     context.Context
	chainID *big.Int
	pool    txLookup
	net     txFetcher
	deliver func(pos.FilledProposal) // hands a full proposal to the core, decoded
	log     *slog.Logger
	timeout time.Duration
	blocks  *recentBlocks // filled blocks, for the node's re-proposal of one; nil: none

	mu       sync.Mutex
	inflight map[common.Address]*fetchJob
	budgets  map[common.Address]*fetchBudget
	filled   lru.BasicLRU[proposalKey, struct{}]
	denied   uint64 // network fills refused for want of budget
	now      func() time.Time
	wg       sync.WaitGroup
}

func newFiller(ctx context.Context, chainID *big.Int, pool txLookup, net txFetcher, deliver func(pos.FilledProposal), log *slog.Logger) *filler {
	return &filler{
		ctx: ctx, chainID: chainID, pool: pool, net: net, deliver: deliver, log: log, timeout: fillTimeout,
		inflight: make(map[common.Address]*fetchJob),
		budgets:  make(map[common.Address]*fetchBudget),
		filled:   lru.NewBasicLRU[proposalKey, struct{}](filledKeys),
		now:      time.Now,
	}
}

// spend takes one network fill from proposer's budget, reporting whether
// there was one. f.mu is held.
func (f *filler) spend(proposer common.Address) bool {
	now := f.now()
	b := f.budgets[proposer]
	if b == nil {
		if len(f.budgets) >= fetchBudgets {
			for a, o := range f.budgets {
				if o.tokens+now.Sub(o.at).Seconds()*fetchRate >= fetchBurst {
					delete(f.budgets, a)
				}
			}
		}
		b = &fetchBudget{tokens: fetchBurst, at: now}
		f.budgets[proposer] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(fetchBurst, b.tokens+d.Seconds()*fetchRate)
	}
	b.at = now
	if b.tokens < 1 {
		f.denied++
		return false
	}
	b.tokens--
	return true
}

// handle fills the compact proposal raw: at once if the pool holds every
// transaction, otherwise once they are fetched, from its proposer first.
// The gossip validator checked the message (size, decoding, signer)
// already, so recovering the signer again hits the signature cache.
func (f *filler) handle(raw []byte) {
	m, err := pos.DecodeMessage(raw, pos.DefaultMaxMessageSize)
	if err != nil {
		f.log.Debug("compact proposal dropped", "err", err)
		return
	}
	cp, ok := m.(*pos.CompactProposal)
	if !ok {
		return
	}
	from, err := cp.Signers(f.chainID)
	if err != nil {
		f.log.Debug("compact proposal dropped", "err", err)
		return
	}
	key := proposalKey{cp.BlockHash(), cp.Height, cp.Round}
	f.mu.Lock()
	if _, done := f.filled.Get(key); done {
		f.mu.Unlock()
		return
	}
	if job := f.inflight[from]; job != nil && !key.after(job.key) {
		// The same proposal is being fetched (a copy), or the proposer
		// sent another for the same or an earlier round while one is:
		// only a Byzantine proposer does, and it delays only its own.
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()

	// A block this node built or filled before (a re-proposal in a later
	// round) is filled from it, whatever the pool still holds; Fill checks
	// the hashes.
	if f.blocks != nil {
		if txs, ok := f.blocks.txs(cp.Header.TxHash); ok && len(txs) == len(cp.TxHashes) {
			f.complete(key, cp, txs)
			return
		}
	}
	txs := f.pool.GetMany(cp.TxHashes)
	var missing []common.Hash
	for i, tx := range txs {
		if tx == nil {
			missing = append(missing, cp.TxHashes[i])
		}
	}
	if len(missing) == 0 {
		f.complete(key, cp, txs)
		return
	}

	f.mu.Lock()
	if !f.spend(from) {
		f.mu.Unlock()
		f.log.Debug("compact proposal not filled: its proposer's fetch budget is spent", "height", cp.Height, "round", cp.Round, "proposer", from, "missing", len(missing))
		return
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	job := &fetchJob{key: key, cancel: cancel}
	if old := f.inflight[from]; old != nil {
		old.cancel() // an earlier round's proposal of the same proposer
	}
	f.inflight[from] = job
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer func() {
			cancel()
			f.mu.Lock()
			if f.inflight[from] == job {
				delete(f.inflight, from)
			}
			f.mu.Unlock()
		}()
		start := time.Now()
		got, err := f.net.FetchTxs(ctx, from, missing)
		if err != nil {
			f.log.Debug("compact proposal not filled", "height", cp.Height, "round", cp.Round, "missing", len(missing), "err", err)
			return
		}
		for i, tx := range txs {
			if tx == nil {
				txs[i] = got[cp.TxHashes[i]]
			}
		}
		f.log.Debug("compact proposal filled from peers", "height", cp.Height, "round", cp.Round, "txs", len(txs), "fetched", len(missing), "took", time.Since(start))
		f.complete(key, cp, txs)
	}()
}

// complete delivers the filled proposal and keeps its transactions to
// answer peers that fill it later.
func (f *filler) complete(key proposalKey, cp *pos.CompactProposal, txs []*types.Transaction) {
	p, err := cp.Fill(txs)
	if err != nil {
		f.log.Debug("compact proposal not filled", "height", cp.Height, "round", cp.Round, "err", err)
		return
	}
	f.mu.Lock()
	f.filled.Add(key, struct{}{})
	f.mu.Unlock()
	f.net.KeepTxs(p.Block.Transactions())
	if f.blocks != nil {
		f.blocks.add(p.Block)
	}
	f.deliver(pos.FilledProposal{Raw: p.Encode(), Proposal: p})
}

// wait returns when no fill is running.
func (f *filler) wait() { f.wg.Wait() }

// recentBlocks holds the transactions of the last blocks this node built
// or filled, by transaction root (a built block is sealed afterwards, which
// changes its hash but not its root), so that the node's own proposal of
// one goes out compact without decoding it again.
type recentBlocks struct {
	mu     sync.Mutex
	blocks [4]*types.Block
	next   int
}

func (r *recentBlocks) add(b *types.Block) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blocks[r.next] = b
	r.next = (r.next + 1) % len(r.blocks)
}

func (r *recentBlocks) txs(root common.Hash) (types.Transactions, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.blocks {
		if b != nil && b.TxHash() == root {
			return b.Transactions(), true
		}
	}
	return nil, false
}

// compactor turns the wire form of the node's own proposals into compact
// ones, remembering the last so that a rebroadcast is not redone.
type compactor struct {
	net     txFetcher
	chainID *big.Int
	key     *ecdsa.PrivateKey // signs the transaction lists
	blocks  *recentBlocks     // blocks built or filled here; nil: none

	mu          sync.Mutex
	full, small []byte
}

// compact returns what to send for msg: a proposal's compact form (its
// transactions kept to answer fetches), any other message as it is.
func (c *compactor) compact(msg []byte) []byte {
	if !pos.IsProposal(msg) {
		return msg
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.full != nil && bytes.Equal(c.full, msg) {
		return c.small
	}
	known := func(common.Hash) (types.Transactions, bool) { return nil, false }
	if c.blocks != nil {
		known = c.blocks.txs
	}
	cp, b, err := pos.CompactWire(msg, known, c.chainID, c.key)
	if err != nil {
		return msg // the core's own message; sent as it is if it ever fails
	}
	c.net.KeepTxs(b.Transactions())
	c.full, c.small = msg, cp.Encode()
	return c.small
}
