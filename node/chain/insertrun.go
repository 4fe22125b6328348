package chain

import (
	"errors"
	"fmt"
	"math/big"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/node/store"
)

// Limits of one InsertChain run: the blocks written in one batch.
const (
	// maxRunBlocks bounds the blocks of one run, so that a failed batch
	// throws away little validated work and the head moves at least every
	// maxRunBlocks blocks during a long sync.
	maxRunBlocks = 64
	// maxRunBytes bounds a run's estimated batch size, well under badger's
	// transaction limit (15% of the memtable size, 32 MiB on disk).
	maxRunBytes = 2 << 20
	// runBytesPerTx estimates what each transaction adds to a batch
	// beyond the block's encoded size: its receipt and its lookup entry.
	runBytesPerTx = 160
)

// signaturePrefetcher is an engine that can recover the signatures a
// header carries ahead of verifying it (the pos engine's proposer seal
// and parent commit), caching them for verification.
type signaturePrefetcher interface {
	PrefetchSignatures(header *types.Header)
}

// pendingBlocks are the blocks of the InsertChain run being written:
// validated, certified, their state written, their chain data not yet
// committed. GetHeader and GetBlock serve them by hash so that the
// engine's validator source can read a pending parent's header and
// state; the canonical index, the number index and the head show them
// only once the run commits.
type pendingBlocks struct {
	mu     sync.RWMutex
	byHash map[common.Hash]*types.Block
}

// get returns the pending block with hash and number, or nil.
func (p *pendingBlocks) get(hash common.Hash, number uint64) *types.Block {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if b := p.byHash[hash]; b != nil && b.NumberU64() == number {
		return b
	}
	return nil
}

func (p *pendingBlocks) add(b *types.Block) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byHash == nil {
		p.byHash = make(map[common.Hash]*types.Block, maxRunBlocks)
	}
	p.byHash[b.Hash()] = b
}

func (p *pendingBlocks) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byHash = nil
}

// run is a batch of certified blocks on top of the head being written by
// InsertChain: each block validated and executed on the one before, its
// state written (content-addressed, unreachable until the run commits),
// its chain data in one store batch that also moves the head and the
// final block to the run's last block when it commits.
type run struct {
	c        *Chain
	batch    *store.Batch
	tip      *types.Block // the head, then the run's newest block
	td       *big.Int     // total difficulty of tip
	blocks   []*types.Block
	receipts []types.Receipts
	tipCert  []byte
	size     int
}

func (c *Chain) newRun() (*run, error) {
	head := c.CurrentBlock()
	td := c.GetTD(head.Hash(), head.NumberU64())
	if td == nil {
		return nil, fmt.Errorf("%w: no total difficulty for head %x", consensus.ErrUnknownAncestor, head.Hash())
	}
	return &run{c: c, tip: head, td: new(big.Int).Set(td)}, nil
}

// full reports whether the run should commit before taking another block.
func (r *run) full() bool { return len(r.blocks) >= maxRunBlocks || r.size >= maxRunBytes }

// add validates block with its certificate on the run's tip and adds it
// to the run's batch.
func (r *run) add(block *types.Block, cert []byte) error {
	c := r.c
	if c.db.HasBlock(block.Hash(), block.NumberU64()) || c.pending.get(block.Hash(), block.NumberU64()) != nil {
		return ErrKnownBlock
	}
	if block.ParentHash() != r.tip.Hash() {
		return fmt.Errorf("%w: certified block %d builds on %x, head is %d (%x)", ErrFinalizedConflict, block.NumberU64(), block.ParentHash(), r.tip.NumberU64(), r.tip.Hash())
	}
	ck := check{cert: cert}
	if len(r.blocks) > 0 {
		ck.parent = r.tip
	}
	v, err := c.validate(block, ck)
	if err != nil {
		return err
	}
	if err := c.commitState(block, v); err != nil {
		return err
	}
	if r.batch == nil {
		r.batch = c.db.NewBatch()
	}
	r.td.Add(r.td, block.Difficulty())
	r.batch.WriteBlock(block, v.receipts, new(big.Int).Set(r.td))
	r.batch.WriteCertificate(block.Hash(), block.NumberU64(), cert)
	r.batch.WriteCanonical(block)
	r.tip, r.tipCert = block, cert
	r.blocks = append(r.blocks, block)
	r.receipts = append(r.receipts, v.receipts)
	r.size += int(block.Size()) + runBytesPerTx*len(block.Transactions())
	c.pending.add(block)
	return nil
}

// commit moves the head and the final block to the run's last block in
// the run's batch and commits it: every block of the run is stored, and
// the head moves, at once or not at all. The run is empty afterwards.
func (r *run) commit() error {
	if len(r.blocks) == 0 {
		return nil
	}
	c := r.c
	defer func() {
		c.pending.clear()
		r.batch.Discard()
		r.batch, r.blocks, r.receipts, r.size = nil, nil, nil, 0
	}()
	r.batch.WriteHead(r.tip.Hash())
	r.batch.WriteFinalized(r.tip.Hash())
	commit := c.commitRun
	if commit == nil {
		commit = (*store.Batch).Commit
	}
	if err := commit(r.batch); err != nil {
		return fmt.Errorf("write blocks %d-%d: %w", r.blocks[0].NumberU64(), r.tip.NumberU64(), err)
	}
	c.head.Store(r.tip)
	c.finalized.Store(r.tip.Header())
	for i, b := range r.blocks {
		c.blocks.Add(b.Hash(), b)
		c.sendLogs(b, r.receipts[i])
	}
	c.hdrFeed.Send(r.tip.Header())
	c.headFeed.Send(HeadEvent{Block: r.tip, Certificate: r.tipCert})
	return nil
}

// insertCertifiedChain is InsertChain under a certifying engine: blocks
// are written in runs of up to maxRunBlocks, one batch each, while the
// signatures of later blocks are recovered on other cores. A block that
// fails ends the import; the run before it is still committed.
func (c *Chain) insertCertifiedChain(blocks []*types.Block, tipCert []byte, stop <-chan struct{}) (int, error) {
	var at atomic.Int64 // the index of the block being imported
	if p, ok := c.engine.(signaturePrefetcher); ok && len(blocks) > 1 {
		go prefetchSignatures(p, blocks, &at, stop, runtime.GOMAXPROCS(0))
	}
	r, err := c.newRun()
	if err != nil {
		return 0, err
	}
	done := 0 // blocks stored for good, known ones included
	for i, b := range blocks {
		at.Store(int64(i))
		var cert []byte
		switch {
		case i+1 < len(blocks):
			if cert = c.certifier.ParentCertificate(blocks[i+1].Header()); cert == nil {
				err = fmt.Errorf("%w: the next block carries no certificate for it", consensus.ErrNoCertificate)
			}
		case tipCert == nil:
			return i, r.commit()
		default:
			cert = tipCert
		}
		if err == nil && r.full() {
			if err := r.commit(); err != nil {
				return done, err
			}
			done = i
		}
		if err == nil {
			err = r.add(b, cert)
		}
		if errors.Is(err, ErrKnownBlock) {
			if len(r.blocks) == 0 {
				done = i + 1
			}
			err = nil
			continue
		}
		if err != nil {
			if cerr := r.commit(); cerr != nil {
				return done, cerr
			}
			return i, fmt.Errorf("block %d (%x): %w", b.NumberU64(), b.Hash(), err)
		}
	}
	if err := r.commit(); err != nil {
		return done, err
	}
	return len(blocks), nil
}

// PrefetchSignatures recovers the signatures of blocks' headers on every
// core into the engine's caches, so that importing them later finds them
// recovered: the syncer calls it on a fetched batch while the batch before
// it is being imported. It returns when done or when stop closes; an
// engine without signatures makes it a no-op.
func (c *Chain) PrefetchSignatures(blocks []*types.Block, stop <-chan struct{}) {
	if p, ok := c.engine.(signaturePrefetcher); ok {
		var at atomic.Int64
		at.Store(-1)
		prefetchSignatures(p, blocks, &at, stop, max(1, runtime.GOMAXPROCS(0)-1))
	}
}

// prefetchSignatures recovers the signatures of blocks' headers on every
// core, in block order, so the block verified next is the first ready. It
// skips the blocks before at, which the import has reached first and
// verified itself, so no signature is recovered twice.
func prefetchSignatures(p signaturePrefetcher, blocks []*types.Block, at *atomic.Int64, stop <-chan struct{}, workers int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(blocks) {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
				if int64(i) > at.Load() {
					p.PrefetchSignatures(blocks[i].Header())
				}
			}
		}()
	}
	wg.Wait()
}
