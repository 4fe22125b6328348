package chain

import (
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// SenderCache knows the senders of transactions recovered before, by
// transaction hash; *txpool.Senders satisfies it with the senders of the
// transactions its pool admitted or refused for lack of room, and of valid
// blocks'. A hash commits to the signature, so a sender
// found by hash is the one recovery would give, under the same chain id.
// Implementations must be safe for concurrent use.
type SenderCache interface {
	Sender(hash common.Hash) (common.Address, bool)
}

// SenderRecorder is optionally implemented by a SenderCache: it learns the
// senders that block validation recovered, so that a transaction this node
// first saw in a block (a proposal that outran the transaction's gossip)
// is not recovered again when its gossip arrives.
type SenderRecorder interface {
	Remember(hash common.Hash, from common.Address)
}

// rememberSenders hands the senders of a block that passed validation
// (execution and state root) to the sender cache, if it records them.
// Only a valid block is recorded, so filling the cache costs a peer a
// valid block, not just signatures. The senders are cached in the
// transactions by now (primeSender), so nothing is recovered here.
func (c *Chain) rememberSenders(txs types.Transactions) {
	rec, ok := c.senders.(SenderRecorder)
	if !ok {
		return
	}
	for _, tx := range txs {
		if from, err := types.Sender(c.rules.Signer, tx); err == nil {
			rec.Remember(tx.Hash(), from)
		}
	}
}

// WithSenderCache makes block validation and execution take the senders of
// the transactions that s knows from s instead of recovering them again:
// with the pool's cache, each signature is checked once per node.
func WithSenderCache(s SenderCache) Option { return func(ch *Chain) { ch.senders = s } }

// SenderRecoveries returns how many transaction signatures block validation
// and import have recovered since New: the senders that the sender cache
// did not know.
func (c *Chain) SenderRecoveries() uint64 { return c.recoveries.Load() }

// primeSender makes tx carry its sender before the static checks ask for
// it: from the sender cache if it knows the hash, else by recovery, which
// is counted. A transaction that already carries its sender (one from this
// node's pool, say) and that the cache has forgotten is recovered again:
// the result is the same, only the count rises. A bad signature is left for
// the static checks to report.
func (c *Chain) primeSender(tx *types.Transaction) {
	if c.senders != nil {
		if from, ok := c.senders.Sender(tx.Hash()); ok {
			c.rules.KnownSender(tx, from)
			return
		}
	}
	_, _ = types.Sender(countingSigner{Signer: c.rules.Signer, n: &c.recoveries}, tx)
}

// countingSigner recovers with the signer it wraps and counts recoveries.
type countingSigner struct {
	types.Signer
	n *atomic.Uint64
}

func (s countingSigner) Sender(tx *types.Transaction) (common.Address, error) {
	s.n.Add(1)
	return s.Signer.Sender(tx)
}
func (s countingSigner) Equal(o types.Signer) bool { return s.Signer.Equal(o) }
