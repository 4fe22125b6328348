package chain

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/arbiter-chain/arbiter/consensus"
)

// builtResult is the outcome of executing a block this node built, kept so
// that importing the sealed block does not execute it a second time.
type builtResult struct {
	txs      types.Transactions // the block's own list: its body, by identity
	receipts types.Receipts
	state    *state.StateDB
}

// InsertBlock validates block fully and stores it. If it makes the heaviest
// chain it becomes the head (reorganising if its parent is not the head) and
// subscribers are told. The block, its receipts, the canonical index and the
// head are written in one atomic batch after the block's state; a crash at
// any point leaves the previous head intact.
//
// Under a certifying engine (consensus.Certifier, proof-of-stake) a block is
// stored only with a certificate that it was decided: InsertBlock accepts
// it only if that certificate is already stored (and then reports
// ErrKnownBlock); use InsertCertified.
func (c *Chain) InsertBlock(block *types.Block) error {
	c.importMu.Lock()
	defer c.importMu.Unlock()
	return c.insert(block, nil)
}

// InsertCertified stores a block decided by a certifying engine together
// with cert, the engine's proof that it was decided (a pos commit): from
// the local consensus, from gossip or from sync. The certificate is
// verified before the block is executed. A certified block must extend
// the head: the head is always the newest certified block, and it is final.
// Under an engine without certificates cert is ignored.
func (c *Chain) InsertCertified(block *types.Block, cert []byte) error {
	c.importMu.Lock()
	defer c.importMu.Unlock()
	return c.insert(block, cert)
}

// InsertChain imports blocks in order, stopping at the first invalid one. It
// returns how many were imported. Under a certifying engine every block but
// the last is certified by the header of the block after it (which carries
// its parent's commit) and the last by tipCert; with tipCert nil the last
// block is left out and not counted. Certified blocks are written in runs,
// one batch per run with the head moving to the run's end (insertrun.go).
func (c *Chain) InsertChain(blocks []*types.Block, tipCert []byte) (int, error) {
	c.importMu.Lock()
	defer c.importMu.Unlock()
	// Recover the senders of later blocks on another core while earlier
	// blocks execute: import then costs about the larger of the two, not
	// their sum. Recovered senders are cached in the transactions.
	stop := make(chan struct{})
	defer close(stop)
	if len(blocks) > 1 {
		go c.prefetchSenders(blocks[1:], stop)
	}
	if c.certifier != nil {
		return c.insertCertifiedChain(blocks, tipCert, stop)
	}
	for i, b := range blocks {
		if err := c.insert(b, nil); err != nil && !errors.Is(err, ErrKnownBlock) {
			return i, fmt.Errorf("block %d (%x): %w", b.NumberU64(), b.Hash(), err)
		}
	}
	return len(blocks), nil
}

func (c *Chain) prefetchSenders(blocks []*types.Block, stop <-chan struct{}) {
	var txs []*types.Transaction
	for _, b := range blocks {
		txs = append(txs, b.Transactions()...)
	}
	// Workers take transactions in block order, so the block that executes
	// next is the first to have its senders ready.
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(txs) {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
				c.primeSender(txs[i]) // import itself reports bad signatures
			}
		}()
	}
	wg.Wait()
}

// insert validates and stores block; cert is its certificate under a
// certifying engine, verified before execution. It adds to validate only
// what storing needs: the state committed to the node store, then the
// block, its receipts, its certificate and the head in one batch.
// c.importMu is held.
func (c *Chain) insert(block *types.Block, cert []byte) error {
	if c.db.HasBlock(block.Hash(), block.NumberU64()) {
		return ErrKnownBlock
	}
	if c.certifier != nil && cert == nil {
		return fmt.Errorf("%w: block %d (%x) comes without a certificate", consensus.ErrNoCertificate, block.NumberU64(), block.Hash())
	}
	v, err := c.validate(block, check{cert: cert})
	if err != nil {
		return err
	}
	// Peers' announcements of this block arrive while it is stored.
	c.storing.Store(block)
	defer c.storing.Store(nil)
	if err := c.commitState(block, v); err != nil {
		return err
	}
	was := c.CurrentBlock()
	if c.certifier != nil {
		err = c.writeCertified(block, v.parent, v.receipts, cert)
	} else {
		err = c.writeBlock(block, v.parent, v.receipts)
	}
	if err != nil {
		c.releaseState(block.NumberU64(), block.Root())
		return err
	}
	now := c.CurrentBlock()
	c.settleState(now, now.Hash() != was.Hash() && now.ParentHash() != was.Hash())
	c.validated.prune(now.Hash())
	return nil
}

// commitState commits the state block's execution made into the node
// store's memory and holds it there (keepCommitted); settleState writes it
// to disk in steps once the block is stored, and releaseState drops it if
// the block is not stored.
func (c *Chain) commitState(block *types.Block, v *validated) error {
	root, err := v.state.Commit(c.config.Rules(block.Number(), false, block.Time()), block.NumberU64())
	if err != nil {
		return fmt.Errorf("commit state: %w", err)
	}
	if root != block.Root() {
		if root != v.parent.Root() {
			c.nodes.release(root) // the commit's hold
		}
		return fmt.Errorf("%w: have %x, want %x", ErrStateRoot, root, block.Root())
	}
	c.keepCommitted(block.NumberU64(), root, v.parent.Root())
	return nil
}

// ValidateBlock checks a proposal completely against its stored parent
// without storing it: the checks of validate without a certificate (a
// proposal is not decided yet). It keeps the execution, while the block's
// parent is the head, so that importing the block once decided does not
// execute it again (execCache). A BFT validator uses
// it to judge a proposal before voting. A block already stored is valid.
func (c *Chain) ValidateBlock(block *types.Block) error {
	if c.db.HasBlock(block.Hash(), block.NumberU64()) {
		return nil
	}
	v, err := c.validate(block, check{proposal: true})
	if err != nil {
		return err
	}
	c.validated.put(&execEntry{hash: block.Hash(), parent: v.parent.Hash(), block: block, receipts: v.receipts, state: v.state},
		func() common.Hash { return c.CurrentBlock().Hash() })
	return nil
}

// verifyHeader runs the chain's own header rules, then the engine's.
//
// bodyKnown skips the transaction root: the caller holds this very
// transaction list, checked against this header before (see knownBody).
func (c *Chain) verifyHeader(block *types.Block, parent *types.Header, covered, bodyKnown bool) error {
	h := block.Header()
	switch {
	case h.GasLimit != c.gen.GasLimit:
		return fmt.Errorf("%w: have %d, want %d", ErrGasLimit, h.GasLimit, c.gen.GasLimit)
	case h.GasUsed > h.GasLimit:
		return fmt.Errorf("%w: %d > %d", ErrGasUsedExceeds, h.GasUsed, h.GasLimit)
	case h.BaseFee == nil || h.BaseFee.Sign() != 0:
		return ErrBaseFee
	case h.UncleHash != types.EmptyUncleHash || len(block.Uncles()) > 0:
		return ErrUncles
	case len(h.Extra) > MaxExtra:
		return fmt.Errorf("%w: %d bytes", ErrExtraTooLong, len(h.Extra))
	case h.WithdrawalsHash != nil || h.BlobGasUsed != nil || h.ExcessBlobGas != nil ||
		h.ParentBeaconRoot != nil || h.RequestsHash != nil || block.Withdrawals() != nil:
		return ErrUnsupportedFields
	case sizeOver(block, MaxBlockSize):
		return fmt.Errorf("%w: %d bytes", ErrBlockTooLarge, block.Size())
	}
	if !bodyKnown {
		if got := types.DeriveSha(block.Transactions(), trie.NewStackTrie(nil)); got != h.TxHash {
			return fmt.Errorf("%w: have %x, want %x", ErrTxRoot, got, h.TxHash)
		}
	}
	if covered {
		return c.coverer.VerifyHeaderCovered(c, h, parent)
	}
	return c.engine.VerifyHeader(c, h, parent)
}

// ValidatedBlock returns the block of hash that ValidateBlock passed and
// whose execution is still held for its import (a child of the head), or
// that import validated and is storing now, or nil. A peer's announcement of that block, once decided, need not be
// decoded: its transactions can be matched against this one's by hash.
func (c *Chain) ValidatedBlock(hash common.Hash) *types.Block {
	if b := c.storing.Load(); b != nil && b.Hash() == hash {
		return b
	}
	return c.validated.block(hash)
}

// knownBody reports whether block's transaction list is the very list
// (not an equal one: the same backing array) of a block this node built,
// or validated with the same header, and whose execution it still holds:
// its transaction root was derived from that list then, and the list
// cannot have changed since (a block's body is never modified). A block
// decoded again from the network is never known, so a different body
// under the same header is always checked. remembered says the sender
// cache need not be given the list's senders: a list validated here had
// them remembered then, and one built here came from this node's pool,
// which records each sender when it admits the transaction (the cache may
// have dropped one since: a later miss costs one recovery, nothing else).
func (c *Chain) knownBody(block *types.Block) (known, remembered bool) {
	txs := block.Transactions()
	if c.validated.holds(block.Hash(), txs) {
		return true, true
	}
	r, ok := c.built.Peek(c.engine.SealHash(block.Header()))
	known = ok && sameList(r.txs, txs)
	return known, known
}

// sizeOver reports whether block's encoding is larger than limit. A block
// built or filled here, not decoded, has no size cached, and encoding it
// whole costs as much as decoding it: a bound from its header and its
// transactions' own sizes (cached when they were decoded) settles it
// unless it comes near the limit, and only then is the block encoded.
func sizeOver(block *types.Block, limit uint64) bool {
	if len(block.Uncles()) > 0 || block.Withdrawals() != nil {
		return block.Size() > limit
	}
	header, err := rlp.EncodeToBytes(block.Header())
	if err != nil {
		return block.Size() > limit
	}
	// Three list headers (block, transactions, uncles), and a string
	// header around each typed transaction, each at most 9 bytes.
	bound := uint64(len(header)) + 3*9
	for _, tx := range block.Transactions() {
		bound += tx.Size() + 9
	}
	return bound > limit && block.Size() > limit
}

// sameList reports whether a and b are one list: the same length over the
// same backing array.
func sameList(a, b types.Transactions) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// execute runs block on its parent's state and checks every execution-derived
// header field. A block this node built, or validated on the current head,
// is not executed again, unless fresh asks for a re-execution.
func (c *Chain) execute(block *types.Block, parent *types.Block, fresh bool) (types.Receipts, *state.StateDB, error) {
	if !fresh {
		if r, ok := c.built.Get(c.engine.SealHash(block.Header())); ok {
			c.built.Remove(c.engine.SealHash(block.Header()))
			return r.receipts, r.state, nil
		}
		if e, ok := c.validated.take(block.Hash(), c.CurrentBlock().Hash()); ok {
			return e.receipts, e.state, nil
		}
	}
	c.executions.Add(1)
	st, err := c.StateAt(parent.Root())
	if err != nil {
		// Released (validate let the header through first): re-executed
		// from the stored ancestors.
		if rerr := c.recoverState(parent, maxRecover); rerr != nil {
			return nil, nil, rerr
		}
		if st, err = c.StateAt(parent.Root()); err != nil {
			return nil, nil, err
		}
	}
	receipts, used, err := c.process(block, st)
	if err != nil {
		return nil, nil, err
	}
	h := block.Header()
	if used != h.GasUsed {
		return nil, nil, fmt.Errorf("%w: have %d, want %d", ErrGasUsed, used, h.GasUsed)
	}
	if got := types.DeriveSha(receipts, trie.NewStackTrie(nil)); got != h.ReceiptHash {
		return nil, nil, fmt.Errorf("%w: have %x, want %x", ErrReceiptRoot, got, h.ReceiptHash)
	}
	if got := types.MergeBloom(receipts); got != h.Bloom {
		return nil, nil, ErrBloom
	}
	return receipts, st, nil
}

// writeBlock stores an executed block and applies fork choice: the chain with
// the greater total difficulty wins; on a tie the lower block hash wins, so
// every node picks the same head from the same blocks.
func (c *Chain) writeBlock(block *types.Block, parent *types.Block, receipts types.Receipts) error {
	ptd := c.GetTD(parent.Hash(), parent.NumberU64())
	if ptd == nil {
		return fmt.Errorf("%w: no total difficulty for parent %x", consensus.ErrUnknownAncestor, parent.Hash())
	}
	td := new(big.Int).Add(ptd, block.Difficulty())
	head := c.CurrentBlock()
	headTD := c.GetTD(head.Hash(), head.NumberU64())

	batch := c.db.NewBatch()
	defer batch.Discard()
	batch.WriteBlock(block, receipts, td)

	cmp := td.Cmp(headTD)
	canonical := cmp > 0 || (cmp == 0 && bytes.Compare(block.Hash().Bytes(), head.Hash().Bytes()) < 0)
	if !canonical {
		if err := batch.Commit(); err != nil {
			return err
		}
		c.log.Debug("stored side block", "number", block.NumberU64(), "hash", block.Hash(), "td", td)
		return nil
	}
	var dropped []*types.Transaction
	var newBlocks []*types.Block
	if block.ParentHash() == head.Hash() {
		batch.WriteCanonical(block)
		newBlocks = []*types.Block{block}
	} else {
		var err error
		newBlocks, dropped, err = c.reorg(batch, head, block)
		if err != nil {
			return err
		}
	}
	batch.WriteHead(block.Hash())
	if err := batch.Commit(); err != nil {
		return err
	}
	c.head.Store(block)
	c.blocks.Add(block.Hash(), block)
	c.announce(newBlocks, receipts, dropped)
	return nil
}

// writeCertified stores a certified block on top of the head and makes it
// the head and the final block, in one batch with its certificate. There is
// no fork choice: certified blocks never conflict while less than a third
// of the stake is Byzantine, and checkFinalized has refused any block that
// does not descend from the head (the head is final).
func (c *Chain) writeCertified(block, parent *types.Block, receipts types.Receipts, cert []byte) error {
	head := c.CurrentBlock()
	if parent.Hash() != head.Hash() {
		return fmt.Errorf("%w: certified block %d builds on %x, head is %d (%x)", ErrFinalizedConflict, block.NumberU64(), parent.Hash(), head.NumberU64(), head.Hash())
	}
	ptd := c.GetTD(parent.Hash(), parent.NumberU64())
	if ptd == nil {
		return fmt.Errorf("%w: no total difficulty for parent %x", consensus.ErrUnknownAncestor, parent.Hash())
	}
	batch := c.db.NewBatch()
	defer batch.Discard()
	batch.WriteBlock(block, receipts, new(big.Int).Add(ptd, block.Difficulty()))
	batch.WriteCertificate(block.Hash(), block.NumberU64(), cert)
	batch.WriteCanonical(block)
	batch.WriteHead(block.Hash())
	batch.WriteFinalized(block.Hash())
	if err := batch.Commit(); err != nil {
		return err
	}
	c.head.Store(block)
	c.finalized.Store(block.Header())
	c.blocks.Add(block.Hash(), block)
	c.announce([]*types.Block{block}, receipts, nil)
	return nil
}

// checkFinalized refuses a block that does not descend from the newest
// final block: finality means no reorganisation can ever undo it.
func (c *Chain) checkFinalized(block *types.Block) error {
	fin := c.finalized.Load()
	if fin == nil || fin.Number.Sign() == 0 {
		return nil
	}
	finNum := fin.Number.Uint64()
	if block.NumberU64() <= finNum {
		return fmt.Errorf("%w: block %d is at or below final block %d", ErrFinalizedConflict, block.NumberU64(), finNum)
	}
	h := block.Header()
	for h.Number.Uint64() > finNum+1 {
		if h = c.GetHeader(h.ParentHash, h.Number.Uint64()-1); h == nil {
			return fmt.Errorf("%w: ancestor of block %d", consensus.ErrUnknownAncestor, block.NumberU64())
		}
	}
	if h.ParentHash != fin.Hash() {
		return fmt.Errorf("%w: block %d does not descend from final block %d", ErrFinalizedConflict, block.NumberU64(), finNum)
	}
	return nil
}

// reorg rewrites the canonical index from the common ancestor of oldHead and
// newHead up to newHead. State needs no rewinding: every block's state is
// stored under its own root, so the new head's state is already complete.
// It returns the newly canonical blocks, oldest first, and the transactions
// of the dropped blocks that the new branch does not include.
func (c *Chain) reorg(batch interface {
	WriteCanonical(*types.Block)
	DeleteCanonical(*types.Block, map[common.Hash]bool)
}, oldHead, newHead *types.Block) ([]*types.Block, []*types.Transaction, error) {
	var oldChain, newChain []*types.Block
	o, n := oldHead, newHead
	for o.NumberU64() > n.NumberU64() {
		oldChain = append(oldChain, o)
		if o = c.GetBlock(o.ParentHash(), o.NumberU64()-1); o == nil {
			return nil, nil, fmt.Errorf("%w: old chain", consensus.ErrUnknownAncestor)
		}
	}
	for n.NumberU64() > o.NumberU64() {
		newChain = append(newChain, n)
		if n = c.GetBlock(n.ParentHash(), n.NumberU64()-1); n == nil {
			return nil, nil, fmt.Errorf("%w: new chain", consensus.ErrUnknownAncestor)
		}
	}
	for o.Hash() != n.Hash() {
		oldChain = append(oldChain, o)
		newChain = append(newChain, n)
		o = c.GetBlock(o.ParentHash(), o.NumberU64()-1)
		n = c.GetBlock(n.ParentHash(), n.NumberU64()-1)
		if o == nil || n == nil {
			return nil, nil, fmt.Errorf("%w: no common ancestor", consensus.ErrUnknownAncestor)
		}
	}
	included := make(map[common.Hash]bool)
	for _, b := range newChain {
		for _, tx := range b.Transactions() {
			included[tx.Hash()] = true
		}
	}
	var dropped []*types.Transaction
	for i := len(oldChain) - 1; i >= 0; i-- {
		b := oldChain[i]
		batch.DeleteCanonical(b, included)
		for _, tx := range b.Transactions() {
			if !included[tx.Hash()] {
				dropped = append(dropped, tx)
			}
		}
	}
	// Blocks are written oldest first so the canonical index is contiguous.
	ordered := make([]*types.Block, len(newChain))
	for i, b := range newChain {
		ordered[len(newChain)-1-i] = b
		batch.WriteCanonical(b)
	}
	c.log.Info("chain reorganised", "ancestor", o.NumberU64(), "dropped", len(oldChain), "added", len(newChain), "head", newHead.NumberU64())
	return ordered, dropped, nil
}

// sendLogs tells log subscribers about the logs of b, a block that became
// canonical, filling in their block and transaction fields.
func (c *Chain) sendLogs(b *types.Block, receipts types.Receipts) {
	var logs []*types.Log
	for i, r := range receipts {
		for _, l := range r.Logs {
			l.BlockHash = b.Hash()
			l.BlockNumber = b.NumberU64()
			l.TxHash = b.Transactions()[i].Hash()
			l.TxIndex = uint(i)
			logs = append(logs, l)
		}
	}
	if len(logs) > 0 {
		c.logsFeed.Send(logs)
	}
}

// announce tells subscribers about a new head and the logs of every block
// that became canonical.
func (c *Chain) announce(newBlocks []*types.Block, headReceipts types.Receipts, dropped []*types.Transaction) {
	head := newBlocks[len(newBlocks)-1]
	for _, b := range newBlocks {
		var receipts types.Receipts
		if b == head {
			receipts = headReceipts
		} else {
			receipts, _ = c.db.ReadReceipts(b, c.config)
		}
		c.sendLogs(b, receipts)
	}
	c.hdrFeed.Send(head.Header())
	var cert []byte
	if c.certifier != nil {
		cert, _ = c.db.ReadCertificate(head.Hash(), head.NumberU64())
	}
	c.headFeed.Send(HeadEvent{Block: head, Dropped: dropped, Certificate: cert})
}
