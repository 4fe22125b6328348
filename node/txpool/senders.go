package txpool

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
)

// minSenders is the least number of senders a pool's own cache remembers.
const minSenders = 1 << 14

// Senders remembers, by transaction hash, the senders of transactions a
// pool admitted, up to a bound, forgetting the least recently used first.
// Block validation asks it (it satisfies chain.SenderCache), so that each
// transaction's signature is recovered once per node. A hash commits to
// the signature, so the sender it names is the one recovery would give. It
// is safe for concurrent use.
type Senders struct {
	cache *lru.Cache[common.Hash, common.Address]
}

// NewSenders returns a cache of at most n senders. Give it room for about
// twice the pool, so the senders of transactions that just left the pool
// for a block are still known when that block is validated.
func NewSenders(n int) *Senders {
	return &Senders{cache: lru.NewCache[common.Hash, common.Address](max(n, 1))}
}

// Sender returns the sender of the transaction with the hash, if known.
func (s *Senders) Sender(hash common.Hash) (common.Address, bool) { return s.cache.Get(hash) }

func (s *Senders) add(hash common.Hash, from common.Address) { s.cache.Add(hash, from) }

// Remember records the sender of a transaction recovered outside the pool:
// block validation records those of each valid block (chain.SenderRecorder),
// so that gossip arriving after the block costs no second recovery.
func (s *Senders) Remember(hash common.Hash, from common.Address) { s.add(hash, from) }

// Sender returns the sender of a transaction the pool admitted, by hash,
// if its sender cache still remembers it.
func (p *Pool) Sender(hash common.Hash) (common.Address, bool) { return p.senders.Sender(hash) }

// Remember records in the pool's sender cache the sender of a transaction
// recovered outside the pool, typically one the pool refused for a reason
// that may pass (full, over a sender's limit, a nonce not yet reached):
// when a peer offers it again, its signature is not recovered again.
func (p *Pool) Remember(hash common.Hash, from common.Address) { p.senders.Remember(hash, from) }
