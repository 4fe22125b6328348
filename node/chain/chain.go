package chain

import (
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/params"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/contracts"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/rules"
	"github.com/arbiter-chain/arbiter/node/store"
)

// Limits on blocks.
const (
	// MaxBlockSize bounds the encoded size of a block.
	MaxBlockSize = 8 << 20
	// MaxExtra bounds Header.Extra (engine seals included). A pos header
	// carries its parent's commit, one 67-byte signature per validator:
	// with the largest set (pos.MaxValidators, 128) that is about 8.7 KiB
	// (pos.MaxExtraSize), which this limit must cover (a node test checks
	// it with a set at the cap).
	MaxExtra = 16 << 10

	// trieCacheSize is the memory for clean trie nodes, so that the hot
	// top of the state trie is not read from badger on every access.
	trieCacheSize = 64 << 20
)

// HeadEvent reports a new canonical head. Dropped holds the transactions of
// blocks a reorg removed that the new chain does not include: the pool takes
// them back. Certificate is the head's certificate under a certifying
// engine (the commit that decided it), nil otherwise.
type HeadEvent struct {
	Block       *types.Block
	Dropped     []*types.Transaction
	Certificate []byte
}

// Chain is the ledger: it validates and imports blocks, keeps the canonical
// chain by total difficulty, and serves blocks, receipts and state.
type Chain struct {
	db        *store.DB
	gen       *genesis.Genesis
	config    *params.ChainConfig
	engine    consensus.Engine
	certifier consensus.Certifier // the engine, if it certifies blocks
	coverer   consensus.Coverer   // the engine, if a certificate covers earlier blocks
	rules     rules.Static
	contracts Contracts
	senders   SenderCache // senders known by transaction hash; may be nil
	nodes     *nodeStore  // trie nodes: recent states' in memory, the rest on disk
	statedb   state.Database
	keeper    stateKeeper // block states held in the node store's memory
	log       *slog.Logger

	genesisHash common.Hash
	importMu    sync.Mutex // serialises imports; readers never take it
	head        atomic.Pointer[types.Block]
	finalized   atomic.Pointer[types.Header]

	headers   *lru.Cache[common.Hash, *types.Header]
	blocks    *lru.Cache[common.Hash, *types.Block]
	built     *lru.Cache[common.Hash, *builtResult] // blocks this node built, by seal hash
	validated execCache                             // proposals validated, for their import
	storing   atomic.Pointer[types.Block]           // the validated block insert is storing, if any
	// executions counts blocks executed to validate or import them (not
	// those built here or taken from validated).
	executions atomic.Uint64

	pending   pendingBlocks            // blocks of the InsertChain run being written
	commitRun func(*store.Batch) error // commits a run's batch; nil is Batch.Commit (tests fail it)

	headFeed event.Feed
	logsFeed event.Feed
	hdrFeed  event.Feed

	recoveries atomic.Uint64 // signatures recovered by import (SenderRecoveries)
}

// Option configures a Chain.
type Option func(*Chain)

// WithContracts enables the native contracts (default: none callable, the
// member set seeded).
func WithContracts(c Contracts) Option { return func(ch *Chain) { ch.contracts = c } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(ch *Chain) { ch.log = l } }

// New opens the chain stored in db, writing the genesis block first if db is
// empty. It refuses a database initialised from a different genesis.
func New(db *store.DB, gen *genesis.Genesis, engine consensus.Engine, opts ...Option) (*Chain, error) {
	cfg := gen.ChainConfig()
	kv := db.StateKV()
	nodes := newNodeStore(kv, trieCacheSize)
	c := &Chain{
		db:        db,
		gen:       gen,
		config:    cfg,
		engine:    engine,
		rules:     rules.NewStatic(cfg.ChainID, gen.GasLimit),
		nodes:     nodes,
		statedb:   &stateDatabase{nodes: nodes, codes: state.NewCodeDB(kv)},
		log:       slog.Default(),
		headers:   lru.NewCache[common.Hash, *types.Header](4096),
		blocks:    lru.NewCache[common.Hash, *types.Block](256),
		built:     lru.NewCache[common.Hash, *builtResult](16),
		validated: execCache{},
	}
	for _, o := range opts {
		o(c)
	}
	if c.contracts == nil {
		// No callable contract, but the member set still lives in the
		// membership contract's storage.
		reg, err := contracts.New(cfg.ChainID)
		if err != nil {
			return nil, err
		}
		c.contracts = reg
	}
	c.certifier, _ = engine.(consensus.Certifier)
	c.coverer, _ = engine.(consensus.Coverer)
	genBlock, err := c.genesisBlock(false)
	if err != nil {
		return nil, err
	}
	c.genesisHash = genBlock.Hash()
	stored, err := db.ReadCanonicalHash(0)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if _, err := c.genesisBlock(true); err != nil {
			return nil, err
		}
		b := db.NewBatch()
		defer b.Discard()
		b.WriteBlock(genBlock, nil, genBlock.Difficulty())
		b.WriteCanonical(genBlock)
		b.WriteHead(genBlock.Hash())
		b.WriteFinalized(genBlock.Hash())
		if err := b.Commit(); err != nil {
			return nil, fmt.Errorf("write genesis: %w", err)
		}
	case err != nil:
		return nil, err
	case stored != c.genesisHash:
		return nil, fmt.Errorf("%w: stored %x, genesis.json gives %x", ErrGenesisMismatch, stored, c.genesisHash)
	}
	if err := c.loadHead(); err != nil {
		return nil, err
	}
	return c, nil
}

// genesisBlock builds the genesis state (allocations, membership contract
// storage) and block. With commit it also writes the state.
func (c *Chain) genesisBlock(commit bool) (*types.Block, error) {
	st, err := state.New(types.EmptyRootHash, c.statedb)
	if err != nil {
		return nil, err
	}
	if err := SeedGenesisState(c.gen, st, c.contracts); err != nil {
		return nil, err
	}
	difficulty := big.NewInt(1)
	if d, ok := c.engine.(interface{ GenesisDifficulty() *big.Int }); ok {
		difficulty = d.GenesisDifficulty()
	}
	header := c.gen.Header(difficulty)
	if commit {
		root, err := st.Commit(c.config.Rules(header.Number, false, header.Time), 0)
		if err != nil {
			return nil, err
		}
		err = c.nodes.write(root)
		c.nodes.release(root) // the commit's hold: nothing keeps genesis in memory
		if err != nil {
			return nil, err
		}
		header.Root = root
	} else {
		header.Root = st.IntermediateRoot(c.config.Rules(header.Number, false, header.Time))
	}
	return types.NewBlockWithHeader(header), nil
}

// loadHead restores the head from the database after a start or crash and
// checks its state is present. Under a certifying engine the head must be a
// certified block: a head stored without its certificate (by a version that
// made any well-sealed block head) is not final, and the chain falls back
// to the newest canonical block that a certificate proves, storing the
// certificates its children carry.
func (c *Chain) loadHead() error {
	hash, err := c.db.ReadHeadHash()
	if err != nil {
		return fmt.Errorf("read head: %w", err)
	}
	num, err := c.db.ReadNumber(hash)
	if err != nil {
		return fmt.Errorf("read head number: %w", err)
	}
	block, err := c.db.ReadBlock(hash, num)
	if err != nil {
		return fmt.Errorf("read head block: %w", err)
	}
	if c.certifier != nil && num > 0 {
		if _, err := c.db.ReadCertificate(hash, num); errors.Is(err, store.ErrNotFound) {
			if block, err = c.repairHead(block); err != nil {
				return err
			}
		} else if err != nil {
			return fmt.Errorf("read head certificate: %w", err)
		}
	}
	// The head's state is on disk after a clean close; after a crash it may
	// be up to flushEvery blocks old and is re-executed (stategc.go).
	if err := c.recoverState(block, 0); err != nil {
		return fmt.Errorf("head %d: %w", block.NumberU64(), err)
	}
	c.head.Store(block)
	if c.certifier != nil {
		c.finalized.Store(block.Header())
		return nil
	}
	if fh, err := c.db.ReadFinalizedHash(); err == nil {
		if fn, err := c.db.ReadNumber(fh); err == nil {
			if h, err := c.db.ReadHeader(fh, fn); err == nil {
				c.finalized.Store(h)
			}
		}
	}
	return nil
}

// repairHead moves an uncertified head back to its parent, which the head's
// own header certifies (its last commit was verified on import), and so on
// while a block has no certificate: it stores each certificate found and
// makes the first certified block head and final, in one batch.
func (c *Chain) repairHead(head *types.Block) (*types.Block, error) {
	batch := c.db.NewBatch()
	defer batch.Discard()
	b := head
	for {
		parent, err := c.db.ReadBlock(b.ParentHash(), b.NumberU64()-1)
		if err != nil {
			return nil, fmt.Errorf("repair uncertified head %d: read parent: %w", head.NumberU64(), err)
		}
		batch.DeleteCanonical(b, nil)
		if parent.NumberU64() == 0 {
			b = parent
			break
		}
		if _, err := c.db.ReadCertificate(parent.Hash(), parent.NumberU64()); err == nil {
			b = parent
			break
		}
		if cert := c.certifier.ParentCertificate(b.Header()); cert != nil {
			batch.WriteCertificate(parent.Hash(), parent.NumberU64(), cert)
			b = parent
			break
		}
		b = parent
	}
	batch.WriteHead(b.Hash())
	batch.WriteFinalized(b.Hash())
	if err := batch.Commit(); err != nil {
		return nil, fmt.Errorf("repair uncertified head: %w", err)
	}
	c.log.Warn("stored head had no certificate; fell back to the newest certified block", "was", head.NumberU64(), "head", b.NumberU64())
	return b, nil
}

// Close writes the head's state to disk and releases the node store's
// caches. The store stays open: its owner closes it.
func (c *Chain) Close() error {
	err := c.flushHead()
	c.nodes.reset()
	return err
}

// Config returns the go-ethereum chain configuration.
func (c *Chain) Config() *params.ChainConfig { return c.config }

// Genesis returns the genesis the chain runs.
func (c *Chain) Genesis() *genesis.Genesis { return c.gen }

// GenesisHash returns the hash of block 0.
func (c *Chain) GenesisHash() common.Hash { return c.genesisHash }

// ChainID returns the chain id.
func (c *Chain) ChainID() *big.Int { return c.config.ChainID }

// Engine returns the consensus engine.
func (c *Chain) Engine() consensus.Engine { return c.engine }

// Rules returns the static transaction rules.
func (c *Chain) Rules() rules.Static { return c.rules }

// CurrentBlock returns the canonical head.
func (c *Chain) CurrentBlock() *types.Block { return c.head.Load() }

// CurrentHeader returns the canonical head's header.
func (c *Chain) CurrentHeader() *types.Header { return c.head.Load().Header() }

// FinalizedHeader returns the newest block final by the engine's proof. For
// an engine without explicit finality it is the genesis block until the
// engine marks one.
func (c *Chain) FinalizedHeader() *types.Header {
	if h := c.finalized.Load(); h != nil {
		return h
	}
	return c.GetHeaderByNumber(0)
}

// Certificate returns the stored certificate of a block under a certifying
// engine (the commit that decided it), or nil.
func (c *Chain) Certificate(hash common.Hash, number uint64) []byte {
	cert, err := c.db.ReadCertificate(hash, number)
	if err != nil {
		return nil
	}
	return cert
}

// Certifying reports whether the engine certifies blocks: then the head is
// always the newest certified block, and final.
func (c *Chain) Certifying() bool { return c.certifier != nil }

// GetHeader returns a stored header, or nil.
func (c *Chain) GetHeader(hash common.Hash, number uint64) *types.Header {
	if b := c.pending.get(hash, number); b != nil {
		return b.Header()
	}
	if h, ok := c.headers.Get(hash); ok && h.Number.Uint64() == number {
		return h
	}
	h, err := c.db.ReadHeader(hash, number)
	if err != nil {
		return nil
	}
	c.headers.Add(hash, h)
	return h
}

// GetHeaderByHash returns a stored header, or nil.
func (c *Chain) GetHeaderByHash(hash common.Hash) *types.Header {
	if h, ok := c.headers.Get(hash); ok {
		return h
	}
	num, err := c.db.ReadNumber(hash)
	if err != nil {
		return nil
	}
	return c.GetHeader(hash, num)
}

// GetHeaderByNumber returns the canonical header at number, or nil.
func (c *Chain) GetHeaderByNumber(number uint64) *types.Header {
	hash, err := c.db.ReadCanonicalHash(number)
	if err != nil {
		return nil
	}
	return c.GetHeader(hash, number)
}

// GetBlock returns a stored block, or nil.
func (c *Chain) GetBlock(hash common.Hash, number uint64) *types.Block {
	if b := c.pending.get(hash, number); b != nil {
		return b
	}
	if b, ok := c.blocks.Get(hash); ok && b.NumberU64() == number {
		return b
	}
	b, err := c.db.ReadBlock(hash, number)
	if err != nil {
		return nil
	}
	c.blocks.Add(hash, b)
	return b
}

// GetBlockByHash returns a stored block, or nil.
func (c *Chain) GetBlockByHash(hash common.Hash) *types.Block {
	num, err := c.db.ReadNumber(hash)
	if err != nil {
		return nil
	}
	return c.GetBlock(hash, num)
}

// GetBlockByNumber returns the canonical block at number, or nil.
func (c *Chain) GetBlockByNumber(number uint64) *types.Block {
	hash, err := c.db.ReadCanonicalHash(number)
	if err != nil {
		return nil
	}
	return c.GetBlock(hash, number)
}

// GetTD returns the total difficulty of a stored block.
func (c *Chain) GetTD(hash common.Hash, number uint64) *big.Int {
	td, err := c.db.ReadTD(hash, number)
	if err != nil {
		return nil
	}
	return td
}

// GetReceipts returns a stored block's receipts with derived fields.
func (c *Chain) GetReceipts(hash common.Hash) (types.Receipts, error) {
	b := c.GetBlockByHash(hash)
	if b == nil {
		return nil, store.ErrNotFound
	}
	return c.db.ReadReceipts(b, c.config)
}

// GetTransaction finds a canonical transaction.
func (c *Chain) GetTransaction(txHash common.Hash) (*types.Transaction, common.Hash, uint64, uint64, bool) {
	loc, err := c.db.ReadTxLookup(txHash)
	if err != nil {
		return nil, common.Hash{}, 0, 0, false
	}
	b := c.GetBlockByNumber(loc.Number)
	if b == nil || int(loc.Index) >= len(b.Transactions()) || b.Transactions()[loc.Index].Hash() != txHash {
		return nil, common.Hash{}, 0, 0, false
	}
	return b.Transactions()[loc.Index], b.Hash(), b.NumberU64(), uint64(loc.Index), true
}

// StateAt opens the state committed by root.
func (c *Chain) StateAt(root common.Hash) (*state.StateDB, error) {
	st, err := state.New(root, c.statedb)
	if err != nil {
		return nil, fmt.Errorf("%w: %x: %v", ErrNoState, root, err)
	}
	return st, nil
}

// StateOf opens the state after the stored block header, re-executing
// it from its stored ancestors if it is neither held in memory nor on disk
// (decision 35; at most maxRecover blocks, the recovered states held like
// imported ones). Consensus reads it (the validator set of any height);
// RPC reads use StateAt, so a client cannot make the node re-execute.
func (c *Chain) StateOf(header *types.Header) (*state.StateDB, error) {
	if st, err := c.StateAt(header.Root); err == nil {
		return st, nil
	}
	b := c.GetBlock(header.Hash(), header.Number.Uint64())
	if b == nil {
		return nil, fmt.Errorf("%w: block %d (%x) not stored", ErrNoState, header.Number.Uint64(), header.Hash())
	}
	if err := c.recoverState(b, maxRecover); err != nil {
		return nil, err
	}
	return c.StateAt(header.Root)
}

// State opens the state at the canonical head.
func (c *Chain) State() (*state.StateDB, error) { return c.StateAt(c.CurrentBlock().Root()) }

// IsMember reports whether addr is a member in the state after header.
func (c *Chain) IsMember(header *types.Header, addr common.Address) bool {
	st, err := c.StateAt(header.Root)
	if err != nil {
		return false
	}
	return c.contracts.IsMember(st, addr)
}

// SubscribeChainHead delivers every new canonical head.
func (c *Chain) SubscribeChainHead(ch chan<- HeadEvent) event.Subscription {
	return c.headFeed.Subscribe(ch)
}

// SubscribeNewHeads delivers the header of every new canonical head.
func (c *Chain) SubscribeNewHeads(ch chan<- *types.Header) event.Subscription {
	return c.hdrFeed.Subscribe(ch)
}

// SubscribeLogs delivers the logs of every block that becomes canonical.
func (c *Chain) SubscribeLogs(ch chan<- []*types.Log) event.Subscription {
	return c.logsFeed.Subscribe(ch)
}
