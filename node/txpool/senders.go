package txpool

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
)

// minSenders is the least number of senders a pool's own cache remembers.
const minSenders = 1 << 14

// refusedSenders is how many senders of refused transactions the cache
// keeps apart (Senders.RememberRefused).
const refusedSenders = 1 << 12

// Senders remembers, by transaction hash, the senders of transactions a
// pool admitted and of valid blocks' transactions, up to a bound,
// forgetting the least recently used first. Block validation asks it (it
// satisfies chain.SenderCache), so that each transaction's signature is
// recovered once per node. A hash commits to the signature, so the sender
// it names is the one recovery would give. Senders of transactions the
// pool refused for lack of room (ErrPoolFull, ErrSenderLimit) are kept
// apart, in a smaller cache of their own (RememberRefused): they are
// offered again, by the client retrying and by peers, and each copy would
// cost a recovery. A member can make the pool refuse as many
// transactions as it likes, and those must not push out the senders of
// admitted ones (Pool.Add records them itself). It is safe for concurrent
// use.
type Senders struct {
	cache   *lru.Cache[common.Hash, common.Address]
	refused *lru.Cache[common.Hash, common.Address]
}

// NewSenders returns a cache of at most n senders (and refusedSenders of
// refused transactions). Give it room for about twice the pool, so the
// senders of transactions that just left the pool for a block are still
// known when that block is validated.
func NewSenders(n int) *Senders {
	return &Senders{
		cache:   lru.NewCache[common.Hash, common.Address](max(n, 1)),
		refused: lru.NewCache[common.Hash, common.Address](refusedSenders),
	}
}

// Sender returns the sender of the transaction with the hash, if known.
func (s *Senders) Sender(hash common.Hash) (common.Address, bool) {
	if from, ok := s.cache.Get(hash); ok {
		return from, true
	}
	return s.refused.Get(hash)
}

func (s *Senders) add(hash common.Hash, from common.Address) { s.cache.Add(hash, from) }

// Remember records the sender of a transaction recovered outside the pool:
// block validation records those of each valid block (chain.SenderRecorder),
// so that gossip arriving after the block costs no second recovery.
func (s *Senders) Remember(hash common.Hash, from common.Address) { s.add(hash, from) }

// RememberRefused records the sender of a transaction the pool refused for
// lack of room, in the cache of refused senders.
func (s *Senders) RememberRefused(hash common.Hash, from common.Address) { s.refused.Add(hash, from) }

// Sender returns the sender of a transaction by hash, if the pool's sender
// cache still remembers it.
func (p *Pool) Sender(hash common.Hash) (common.Address, bool) { return p.senders.Sender(hash) }
