package chain

import (
	"errors"
	"fmt"
	"math"
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
	// maxCoveredGas bounds the gas the transactions of a run's unproven
	// blocks may use (see run): a peer that sends blocks no certificate
	// will prove makes this node execute at most this much, plus empty
	// blocks up to the run's end, before it is found out. About 47
	// transfers, against the 4 recoveries a block's signatures cost.
	maxCoveredGas = 1_000_000
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
// validated, their state committed to the node store (in its memory
// only while unproven), their chain data not yet committed; under a
// Coverer some are not proven yet. GetHeader and GetBlock serve them by hash so that the
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
//
// Under a consensus.Coverer a block may be validated without its
// signatures (covered): it is executed and held unproven until the
// certificate of a later block with the same certifiers proves it and
// everything before it, and only then written to the batch. A stretch of
// unproven blocks ends, and its newest block's certificate is checked,
// before a block whose certifiers differ (the new set is read from state
// the stretch made, which only a proof makes trustworthy), before the
// transactions of the stretch could use more than maxCoveredGas, and
// before the run commits. Checking one certificate where a block-by-block
// import checks every one does not weaken the rule: each correct signer of
// the newest block had checked its seal and its parent's commit, and had
// decided that parent, before voting (decision 34).
type run struct {
	c     *Chain
	batch *store.Batch
	tip   *types.Block // the newest block validated: the head, then the run's newest

	// Written to the batch, proven.
	head     *types.Block // the newest written block; the head before any
	headCert []byte
	td       *big.Int // total difficulty of head
	blocks   []*types.Block
	receipts []types.Receipts

	// Validated and executed, not yet proven.
	unproven    []unprovenBlock
	unprovenGas uint64 // what the unproven blocks' transactions may use

	size int // estimated batch size of the blocks validated
}

// unprovenBlock is a block of a run validated without its signatures.
type unprovenBlock struct {
	index    int // in InsertChain's blocks
	block    *types.Block
	receipts types.Receipts
	cert     []byte
}

// unprovenError is the failure of a block that was validated without its
// signatures, found when a run tried to prove it: index is its place in
// InsertChain's blocks, before the block being added when it was found.
type unprovenError struct {
	index int
	block *types.Block
	err   error
}

func (e *unprovenError) Error() string { return e.err.Error() }
func (e *unprovenError) Unwrap() error { return e.err }

func (c *Chain) newRun() (*run, error) {
	head := c.CurrentBlock()
	td := c.GetTD(head.Hash(), head.NumberU64())
	if td == nil {
		return nil, fmt.Errorf("%w: no total difficulty for head %x", consensus.ErrUnknownAncestor, head.Hash())
	}
	return &run{c: c, tip: head, head: head, td: new(big.Int).Set(td)}, nil
}

// empty reports whether the run holds no block.
func (r *run) empty() bool { return len(r.blocks) == 0 && len(r.unproven) == 0 }

// full reports whether the run should commit before taking another block.
func (r *run) full() bool {
	return len(r.blocks)+len(r.unproven) >= maxRunBlocks || r.size >= maxRunBytes
}

// txGas is the most gas block's transactions may use, saturating.
func txGas(block *types.Block) uint64 {
	var sum uint64
	for _, tx := range block.Transactions() {
		if sum += tx.Gas(); sum < tx.Gas() {
			return math.MaxUint64
		}
	}
	return sum
}

// add validates block with its certificate on the run's tip: covered and
// held unproven when it can be, otherwise in full and written to the
// run's batch. It may first prove the unproven blocks before it; the
// failure of one of them is an *unprovenError.
//
// linked reports whether cert came from the header of a block built on
// this one; only such a certificate is vouched for by a later one, so
// any other is checked with the block, in full.
func (r *run) add(index int, block *types.Block, cert []byte, linked bool) error {
	c := r.c
	if c.db.HasBlock(block.Hash(), block.NumberU64()) || c.pending.get(block.Hash(), block.NumberU64()) != nil {
		return ErrKnownBlock
	}
	if block.ParentHash() != r.tip.Hash() {
		return fmt.Errorf("%w: certified block %d builds on %x, head is %d (%x)", ErrFinalizedConflict, block.NumberU64(), block.ParentHash(), r.tip.NumberU64(), r.tip.Hash())
	}
	coverer := c.coverer != nil
	covered := coverer && linked
	if coverer && len(r.unproven) > 0 {
		same, err := c.coverer.SameCertifiers(r.unproven[0].block.Header(), block.Header())
		if err != nil {
			return err
		}
		if !same {
			if err := r.prove(); err != nil {
				return err
			}
		}
	}
	gas := txGas(block)
	if coverer && (!covered || gas > maxCoveredGas || r.unprovenGas > maxCoveredGas-gas) {
		if err := r.prove(); err != nil {
			return err
		}
		covered = covered && gas <= maxCoveredGas
	}
	ck := check{cert: cert, covered: covered}
	if !r.empty() {
		ck.parent = r.tip
	}
	v, err := c.validate(block, ck)
	if err != nil {
		return err
	}
	// The state stays in the node store's memory; a covered block's is
	// dropped if no certificate proves it (release).
	if err := c.commitState(block, v); err != nil {
		return err
	}
	c.pending.add(block)
	r.tip = block
	r.size += int(block.Size()) + runBytesPerTx*len(block.Transactions())
	if covered {
		r.unproven = append(r.unproven, unprovenBlock{index: index, block: block, receipts: v.receipts, cert: cert})
		r.unprovenGas += gas
		return nil
	}
	return r.write(block, v.receipts, cert)
}

// prove checks the certificate of the newest unproven block, which proves
// it and every unproven block before it, and writes them all. If that
// certificate fails, it checks the unproven blocks one by one as a
// block-by-block import would (the seal, the parent's commit, the
// certificate), writes those that pass and returns the first that fails.
func (r *run) prove() error {
	n := len(r.unproven)
	if n == 0 {
		return nil
	}
	c := r.c
	defer func() {
		clear(r.unproven)
		r.unproven, r.unprovenGas = r.unproven[:0], 0
	}()
	newest := r.unproven[n-1]
	if err := c.certifier.VerifyCertificate(c, newest.block.Header(), newest.cert); err == nil {
		for i, u := range r.unproven {
			if err := r.write(u.block, u.receipts, u.cert); err != nil {
				r.release(i)
				return err
			}
		}
		return nil
	}
	for i, u := range r.unproven {
		h := u.block.Header()
		err := c.engine.VerifyHeader(c, h, r.head.Header())
		if err == nil {
			err = c.certifier.VerifyCertificate(c, h, u.cert)
		}
		if err != nil {
			r.release(i)
			return &unprovenError{index: u.index, block: u.block, err: err}
		}
		if err := r.write(u.block, u.receipts, u.cert); err != nil {
			r.release(i)
			return err
		}
	}
	// Every block passed alone, the newest last: its certificate's first
	// check failed on something passing (reading its validators).
	return nil
}

// release drops from the node store's memory the state of the
// unproven blocks from i on, which will not be written.
func (r *run) release(i int) {
	for _, u := range r.unproven[i:] {
		r.c.releaseState(u.block.NumberU64(), u.block.Root())
	}
}

// write adds a proven block to the run's batch.
func (r *run) write(block *types.Block, receipts types.Receipts, cert []byte) error {
	if r.batch == nil {
		r.batch = r.c.db.NewBatch()
	}
	r.td.Add(r.td, block.Difficulty())
	r.batch.WriteBlock(block, receipts, new(big.Int).Set(r.td))
	r.batch.WriteCertificate(block.Hash(), block.NumberU64(), cert)
	r.batch.WriteCanonical(block)
	r.head, r.headCert = block, cert
	r.blocks = append(r.blocks, block)
	r.receipts = append(r.receipts, receipts)
	return nil
}

// commit proves the run's unproven blocks, moves the head and the final
// block to the newest proven block in the run's batch and commits it:
// every proven block of the run is stored, and the head moves, at once or
// not at all. The run is empty afterwards. A block that failed its proof
// is returned as an *unprovenError after the blocks before it commit.
func (r *run) commit() error {
	perr := r.prove()
	c := r.c
	defer func() {
		c.pending.clear()
		if r.batch != nil {
			r.batch.Discard()
		}
		r.batch, r.blocks, r.receipts, r.size = nil, nil, nil, 0
		r.tip = r.head
	}()
	if len(r.blocks) == 0 {
		return perr
	}
	r.batch.WriteHead(r.head.Hash())
	r.batch.WriteFinalized(r.head.Hash())
	commit := c.commitRun
	if commit == nil {
		commit = (*store.Batch).Commit
	}
	if err := commit(r.batch); err != nil {
		for _, b := range r.blocks {
			c.releaseState(b.NumberU64(), b.Root())
		}
		return fmt.Errorf("write blocks %d-%d: %w", r.blocks[0].NumberU64(), r.blocks[len(r.blocks)-1].NumberU64(), err)
	}
	c.head.Store(r.head)
	c.finalized.Store(r.head.Header())
	c.settleState(r.head, false)
	for i, b := range r.blocks {
		c.blocks.Add(b.Hash(), b)
		c.sendLogs(b, r.receipts[i])
	}
	c.hdrFeed.Send(r.head.Header())
	c.headFeed.Send(HeadEvent{Block: r.head, Certificate: r.headCert})
	return perr
}

// insertCertifiedChain is InsertChain under a certifying engine: blocks
// are written in runs of up to maxRunBlocks, one batch each, while the
// signatures of later blocks are recovered on other cores. A block that
// fails ends the import; the blocks before it are still committed.
func (c *Chain) insertCertifiedChain(blocks []*types.Block, tipCert []byte, stop <-chan struct{}) (int, error) {
	var at atomic.Int64 // the index of the block being imported
	if p, ok := c.engine.(signaturePrefetcher); ok && len(blocks) > 1 {
		go c.prefetchSignatures(p, blocks, &at, stop, runtime.GOMAXPROCS(0))
	}
	r, err := c.newRun()
	if err != nil {
		return 0, err
	}
	done := 0 // blocks stored for good, known ones included
	// failed reports err, pointing at the block it concerns: the one
	// being added (i), or an earlier one that failed its proof.
	failed := func(i int, err error) (int, error) {
		b := blocks[i]
		if ue, ok := errors.AsType[*unprovenError](err); ok {
			i, b = ue.index, ue.block
		}
		return i, fmt.Errorf("block %d (%x): %w", b.NumberU64(), b.Hash(), err)
	}
	for i, b := range blocks {
		at.Store(int64(i))
		var (
			cert   []byte
			linked bool // cert is from the header of a block built on b
		)
		switch {
		case i+1 < len(blocks):
			linked = blocks[i+1].ParentHash() == b.Hash()
			if cert = c.certifier.ParentCertificate(blocks[i+1].Header()); cert == nil {
				err = fmt.Errorf("%w: the next block carries no certificate for it", consensus.ErrNoCertificate)
			}
		case tipCert == nil:
			if err := r.commit(); err != nil {
				if _, ok := errors.AsType[*unprovenError](err); ok {
					return failed(i, err)
				}
				return done, err
			}
			return i, nil
		default:
			// The last block: its certificate is checked whatever
			// happens, as the newest of its stretch.
			cert, linked = tipCert, true
		}
		if err == nil && r.full() {
			if err := r.commit(); err != nil {
				if _, ok := errors.AsType[*unprovenError](err); ok {
					return failed(i, err)
				}
				return done, err
			}
			done = i
		}
		if err == nil {
			err = r.add(i, b, cert, linked)
		}
		if errors.Is(err, ErrKnownBlock) {
			if r.empty() {
				done = i + 1
			}
			err = nil
			continue
		}
		if err != nil {
			if cerr := r.commit(); cerr != nil {
				if _, ok := errors.AsType[*unprovenError](cerr); ok {
					return failed(i, cerr)
				}
				return done, cerr
			}
			return failed(i, err)
		}
	}
	if err := r.commit(); err != nil {
		if _, ok := errors.AsType[*unprovenError](err); ok {
			return failed(len(blocks)-1, err)
		}
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
		c.prefetchSignatures(p, blocks, &at, stop, max(1, runtime.GOMAXPROCS(0)-1))
	}
}

// checksSignatures guesses whether importing blocks will check the
// signatures blocks[i]'s header carries (its seal and its parent's
// commit). Every header's are checked without a Coverer. With one, a
// header's are checked when the block before it ends a run, or when it or
// the block before it carries transactions (and so may end a stretch of
// unproven blocks, or be checked in full). A wrong guess costs a recovery
// on the import's core, or one on another core that was not needed.
func (c *Chain) checksSignatures(blocks []*types.Block, i int) bool {
	return c.coverer == nil || i%maxRunBlocks == 0 ||
		len(blocks[i].Transactions()) > 0 || (i > 0 && len(blocks[i-1].Transactions()) > 0)
}

// prefetchSignatures recovers the signatures of blocks' headers that the
// import will check (checksSignatures) on every core, in block order, so
// the block verified next is the first ready. It skips the blocks before
// at, which the import has reached first and verified itself, so no
// signature is recovered twice.
func (c *Chain) prefetchSignatures(p signaturePrefetcher, blocks []*types.Block, at *atomic.Int64, stop <-chan struct{}, workers int) {
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
				if int64(i) > at.Load() && c.checksSignatures(blocks, i) {
					p.PrefetchSignatures(blocks[i].Header())
				}
			}
		}()
	}
	wg.Wait()
}
