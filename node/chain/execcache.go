package chain

import (
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
)

// execCacheSize bounds the validated executions kept. A BFT validator
// judges a proposal or two a round and the head moves on after a few
// rounds at most; each entry holds a block's dirty state, up to a block's
// worth of changes, so the cache stays small.
const execCacheSize = 4

// execEntry is the execution of a validated block, kept for its import.
type execEntry struct {
	hash     common.Hash
	parent   common.Hash
	block    *types.Block // the validated block itself (see knownBody)
	receipts types.Receipts
	state    *state.StateDB // the state after the block, root checked, not committed
}

// execCache keeps the executions of validated proposals (ValidateBlock) so
// that importing the decided block (InsertCertified) does not execute it
// again. It holds only children of the current head: an entry is handed
// out once (take removes it, so one caller owns the state) and only while
// its parent is still the head, and a new head drops every entry that
// does not build on it. Oldest entries go first when it is full.
type execCache struct {
	mu      sync.Mutex
	entries []*execEntry // oldest first, at most execCacheSize
}

// put keeps e if its parent is head (read under the cache's lock, so a
// put that races a new head either sees it or is pruned by it).
func (x *execCache) put(e *execEntry, head func() common.Hash) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e.parent != head() {
		return
	}
	for i, old := range x.entries {
		if old.hash == e.hash {
			x.entries[i] = e
			return
		}
	}
	if len(x.entries) == execCacheSize {
		x.entries[0] = nil
		x.entries = x.entries[1:]
	}
	x.entries = append(x.entries, e)
}

// take removes and returns the entry of block hash if it builds on head.
func (x *execCache) take(hash, head common.Hash) (*execEntry, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i, e := range x.entries {
		if e.hash != hash {
			continue
		}
		x.entries = append(x.entries[:i], x.entries[i+1:]...)
		return e, e.parent == head
	}
	return nil, false
}

// holds reports whether the entry of block hash was validated with the
// transaction list txs itself (see sameList).
func (x *execCache) holds(hash common.Hash, txs types.Transactions) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, e := range x.entries {
		if e.hash == hash {
			return e.block != nil && sameList(e.block.Transactions(), txs)
		}
	}
	return false
}

// block returns the validated block of hash, if held.
func (x *execCache) block(hash common.Hash) *types.Block {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, e := range x.entries {
		if e.hash == hash {
			return e.block
		}
	}
	return nil
}

// prune drops every entry that does not build on head: a block at or
// below the head's height can no longer be imported on it, and a sibling
// of the head's child would be executed on a state nobody builds on.
func (x *execCache) prune(head common.Hash) {
	x.mu.Lock()
	defer x.mu.Unlock()
	kept := x.entries[:0]
	for _, e := range x.entries {
		if e.parent == head {
			kept = append(kept, e)
		}
	}
	clear(x.entries[len(kept):])
	x.entries = kept
}

// len returns the number of entries.
func (x *execCache) len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.entries)
}
