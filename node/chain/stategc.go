package chain

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
)

// State written to disk in steps (docs/decisions/0035-state-flushed-in-steps.md).
//
// A block's state is committed into the node store's memory when the
// block is stored, and held there, referenced, while the block is within
// keepStates of the head or among the keepStates held last. The head's
// state goes to disk once the head is flushEvery blocks past the last
// state written, when the unwritten nodes pass flushDirty, and when the
// chain closes. The upper trie nodes that every block rewrites reach disk
// once per flush, not once per block; the nodes a later block replaced
// are dropped from memory without being written.
//
// After a crash the head's state may be missing from disk: recoverState
// re-executes the stored blocks from the newest ancestor whose state is
// on disk. Stored blocks were validated when imported, so recovery only
// checks that each reproduces its state root.
const (
	keepStates = 32
	flushEvery = 16
	flushDirty = 64 << 20
	// maxRecover bounds the blocks re-executed to recover one state
	// while the node runs: a canonical block is at most flushEvery blocks
	// (a catch-up run, 64) past a written state, as a reorg's new head is
	// written at once. Only the start recovers without a bound (loadHead).
	maxRecover = 4 * (flushEvery + keepStates)
)

// heldState is a block state held in the node store's memory.
type heldState struct {
	number uint64
	root   common.Hash
}

// stateKeeper lists the states held, in the order they were held.
type stateKeeper struct {
	mu      sync.Mutex
	held    []heldState
	flushed uint64 // the number of the head whose state was written last

	writes    atomic.Uint64 // states written (StateStats)
	recovered atomic.Uint64 // blocks re-executed to recover a state
}

// StateStats reports the states written to disk and the blocks
// re-executed to recover released or lost states since the chain opened,
// and the size of the trie nodes held in memory (nodeStore's layers).
func (c *Chain) StateStats() (writes, recovered uint64, held int64) {
	return c.keeper.writes.Load(), c.keeper.recovered.Load(), c.nodes.memory()
}

// holdState keeps the state root of block number in memory until
// settleState drops it (or releaseState, for a block never stored), and
// reports whether the state can be read (nodeStore.hold).
func (c *Chain) holdState(number uint64, root common.Hash) bool {
	c.keeper.mu.Lock()
	defer c.keeper.mu.Unlock()
	ok := c.nodes.hold(root)
	c.keeper.held = append(c.keeper.held, heldState{number: number, root: root})
	return ok
}

// keepCommitted lists the state root block number's commit made, grown
// from parent, among the states held. A commit that changed the state
// took a hold on its root (nodeStore.commit); one that did not (the root
// is its parent's) takes it here.
func (c *Chain) keepCommitted(number uint64, root, parent common.Hash) {
	if root == parent {
		c.holdState(number, root)
		return
	}
	c.keeper.mu.Lock()
	defer c.keeper.mu.Unlock()
	c.keeper.held = append(c.keeper.held, heldState{number: number, root: root})
}

// releaseState drops the state of a block that will not be stored.
func (c *Chain) releaseState(number uint64, root common.Hash) {
	c.keeper.mu.Lock()
	defer c.keeper.mu.Unlock()
	for i := len(c.keeper.held) - 1; i >= 0; i-- {
		if h := c.keeper.held[i]; h.number == number && h.root == root {
			c.keeper.held = append(c.keeper.held[:i], c.keeper.held[i+1:]...)
			c.nodes.release(root)
			return
		}
	}
}

// settleState runs after the head moved to head: it writes the head's
// state at a flush point or when memory holds too much unwritten, and
// drops the states of blocks keepStates or more below the head, except the
// keepStates held last. A failed
// write is logged, not returned: the block is stored, its state is still
// in memory for the next flush, and a crash before that recovers it.
//
// force writes the head's state whatever its number: after a reorg the new
// head's nearest written ancestor may be the fork block, far below it.
func (c *Chain) settleState(head *types.Block, force bool) {
	c.keeper.mu.Lock()
	defer c.keeper.mu.Unlock()
	n := head.NumberU64()
	if force || n >= c.keeper.flushed+flushEvery || c.nodes.unwritten(head.Root()) > flushDirty {
		if err := c.nodes.write(head.Root()); err != nil {
			c.log.Error("write state", "number", n, "root", head.Root(), "err", err)
		} else {
			c.keeper.flushed = n
			c.keeper.writes.Add(1)
		}
	}
	// The newest keepStates held stay whatever their number: a side
	// branch's blocks are held on import, and the next block of that
	// branch executes on them.
	recent := len(c.keeper.held) - keepStates
	kept := c.keeper.held[:0]
	var released []common.Hash
	for i, h := range c.keeper.held {
		if i < recent && h.number+keepStates <= n {
			released = append(released, h.root)
			continue
		}
		kept = append(kept, h)
	}
	clear(c.keeper.held[len(kept):])
	c.keeper.held = kept
	c.nodes.release(released...)
}

// flushHead writes the head's state to disk, so that a restart needs no
// recovery.
func (c *Chain) flushHead() error {
	c.keeper.mu.Lock()
	defer c.keeper.mu.Unlock()
	head := c.CurrentBlock()
	if head == nil {
		return nil
	}
	if err := c.nodes.write(head.Root()); err != nil {
		return fmt.Errorf("write head state: %w", err)
	}
	return nil
}

// hasState reports whether the state root can be opened (from memory or
// disk).
func (c *Chain) hasState(root common.Hash) bool {
	_, err := state.New(root, c.statedb)
	return err == nil
}

// HasState reports whether the state root can be opened now, from memory
// or disk, without re-executing anything.
func (c *Chain) HasState(root common.Hash) bool { return c.hasState(root) }

// recoverState makes target's state readable again: it finds the newest
// ancestor whose state is on disk or in memory (at most limit blocks back;
// 0 is no limit) and re-executes the stored blocks after it, holding each
// state like an imported block's. Each block must reproduce its state root.
// The ancestor's state is held while the blocks run on it, so that a
// concurrent settleState cannot drop it half-way.
func (c *Chain) recoverState(target *types.Block, limit int) error {
	var path []*types.Block
	b := target
	for !c.hasState(b.Root()) {
		if b.NumberU64() == 0 || (limit > 0 && len(path) == limit) {
			return fmt.Errorf("%w: block %d (%x): no state within %d ancestors", ErrNoState, target.NumberU64(), target.Hash(), len(path))
		}
		path = append(path, b)
		parent := c.GetBlock(b.ParentHash(), b.NumberU64()-1)
		if parent == nil {
			return fmt.Errorf("%w: block %d: ancestor %d (%x) not stored", ErrNoState, target.NumberU64(), b.NumberU64()-1, b.ParentHash())
		}
		b = parent
	}
	if len(path) == 0 {
		return nil
	}
	readable := c.holdState(b.NumberU64(), b.Root())
	defer c.releaseState(b.NumberU64(), b.Root())
	if !readable { // released between the look and the hold
		return fmt.Errorf("%w: block %d: the state of ancestor %d went while recovering", ErrNoState, target.NumberU64(), b.NumberU64())
	}
	for i := len(path) - 1; i >= 0; i-- {
		blk := path[i]
		_, st, err := c.execute(blk, b, true)
		if err == nil {
			err = st.Error() // a node of the base state missing after all
		}
		if err != nil {
			return fmt.Errorf("recover state of block %d: %w", blk.NumberU64(), err)
		}
		rules := c.config.Rules(blk.Number(), false, blk.Time())
		// Checked before the commit, which would leave a wrong state's
		// nodes in memory with nothing referencing them.
		if root := st.IntermediateRoot(rules); root != blk.Root() {
			return fmt.Errorf("recover state of block %d: %w: have %x, want %x", blk.NumberU64(), ErrStateRoot, root, blk.Root())
		}
		root, err := st.Commit(rules, blk.NumberU64())
		if err != nil {
			return fmt.Errorf("recover state of block %d: %w", blk.NumberU64(), err)
		}
		c.keepCommitted(blk.NumberU64(), root, b.Root())
		c.keeper.recovered.Add(1)
		b = blk
	}
	c.log.Info("recovered state by re-executing stored blocks", "from", path[len(path)-1].NumberU64(), "to", target.NumberU64(), "blocks", len(path))
	return nil
}
