package watcher

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// Defaults for the zero fields of Config.
const (
	DefaultPollInterval = time.Second
	DefaultMaxRange     = 1000
	DefaultReorgDepth   = 256
	// DefaultRetryBackoff and DefaultRetryBackoffMax bound the wait
	// between attempts at a refute or answer the node refused.
	DefaultRetryBackoff    = time.Second
	DefaultRetryBackoffMax = 8 * time.Second
)

// Config configures a Watcher. Zero fields take the defaults above.
type Config struct {
	// Arbiter is the arbiter contract whose logs are watched; zero means
	// channel.ArbiterContract.
	Arbiter common.Address
	// Confirmations is how far behind the head the watcher stays: it
	// processes blocks up to head - Confirmations. 0 suits BFT finality;
	// a PoW chain wants a few.
	Confirmations uint64
	// PollInterval is how often Run asks for the head.
	PollInterval time.Duration
	// MaxRange bounds the blocks of one eth_getLogs.
	MaxRange uint64
	// StartBlock is the first block scanned when the database holds no
	// checkpoint yet.
	StartBlock uint64
	// ReorgDepth is how many blocks behind the checkpoint the watcher
	// remembers hashes of, to find the common ancestor after a
	// reorganisation.
	ReorgDepth uint64
	// Key signs the watchtower's refute and answer transactions; it must
	// belong to a member or an allowed account. Nil watches and notifies
	// only.
	Key *ecdsa.PrivateKey
	// RetryBackoff is the wait after the node refuses a refute or answer
	// (or cannot be reached) before the next attempt; it doubles with
	// each further failure up to RetryBackoffMax. Attempts go on until
	// the claim's window closes; they happen at polls, so waits shorter
	// than PollInterval round up to it.
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	// Now is the clock retries are scheduled by; nil means time.Now.
	Now func() time.Time
	// Registerer, when set, gets the watcher's metrics.
	Registerer prometheus.Registerer
	// Logger receives progress; nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Arbiter == (common.Address{}) {
		c.Arbiter = common.HexToAddress(channel.ArbiterContract)
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxRange == 0 {
		c.MaxRange = DefaultMaxRange
	}
	if c.ReorgDepth == 0 {
		c.ReorgDepth = DefaultReorgDepth
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.RetryBackoffMax < c.RetryBackoff {
		c.RetryBackoffMax = max(DefaultRetryBackoffMax, c.RetryBackoff)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// ChainClient is the part of go-ethereum's ethclient.Client the watcher
// uses.
type ChainClient interface {
	ChainID(ctx context.Context) (*big.Int, error)
	BlockNumber(ctx context.Context) (uint64, error)
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error)
	TransactionByHash(ctx context.Context, hash common.Hash) (tx *types.Transaction, isPending bool, err error)
	EstimateGas(ctx context.Context, msg ethereum.CallMsg) (uint64, error)
	SuggestGasPrice(ctx context.Context) (*big.Int, error)
	PendingNonceAt(ctx context.Context, account common.Address) (uint64, error)
	SendTransaction(ctx context.Context, tx *types.Transaction) error
}

// StateSource is what the watchtower reads from the bridge's store
// (bridge.Store implements it).
type StateSource interface {
	Game(ctx context.Context, id common.Hash) (bridge.GameRecord, error)
	Head(ctx context.Context, id common.Hash) (bridge.Record, bool, error)
	States(ctx context.Context, id common.Hash, from uint32, limit int) ([]bridge.Record, error)
}

// Watcher consumes the arbiter's logs in chain order from a checkpoint in
// its DB and acts as a watchtower on claims. Run is its only goroutine
// that changes anything; Checkpoint may be called from any goroutine.
type Watcher struct {
	cfg      Config
	db       Store
	client   ChainClient
	states   StateSource
	notifier Notifier
	abi      abi.ABI
	metrics  *metrics
	log      *slog.Logger
	from     common.Address // the watchtower's account, if it has a key

	// Owned by Run.
	domain  *channel.Domain
	signer  types.Signer
	retryAt map[common.Hash]time.Time // claim -> earliest next attempt of its pending action
}

// New returns a Watcher over db (a DB or a PGDB, the caller's to close).
// It does no I/O.
func New(cfg Config, db Store, client ChainClient, states StateSource, notifier Notifier) (*Watcher, error) {
	if db == nil || client == nil || states == nil {
		return nil, errors.New("watcher: db, client and states are required")
	}
	cfg = cfg.withDefaults()
	if notifier == nil {
		notifier = LogNotifier{Logger: cfg.Logger}
	}
	a, err := channel.ArbiterABI()
	if err != nil {
		return nil, err
	}
	m := newMetrics()
	if cfg.Registerer != nil {
		if err := m.register(cfg.Registerer); err != nil {
			return nil, fmt.Errorf("watcher: registering metrics: %w", err)
		}
	}
	w := &Watcher{cfg: cfg, db: db, client: client, states: states, notifier: notifier, abi: a, metrics: m, log: cfg.Logger,
		retryAt: make(map[common.Hash]time.Time)}
	if cfg.Key != nil {
		w.from = cryptoAddress(cfg.Key)
	}
	return w, nil
}

// Checkpoint returns where processing resumes.
func (w *Watcher) Checkpoint() (Checkpoint, error) { return w.db.Checkpoint() }

// Run processes the arbiter's logs up to head - Confirmations, then polls
// the head every PollInterval, follows up the watchtower's pending
// actions and processes new blocks, until ctx is done
// (it then returns ctx.Err()). Chain errors are logged and retried at the
// next poll; it stops with an error on a failure of its database or on a
// reorganisation deeper than ReorgDepth.
func (w *Watcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.PollInterval)
	defer t.Stop()
	for {
		err := w.poll(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errStore), errors.Is(err, ErrReorgTooDeep):
			return err
		case err != nil:
			w.log.Warn("watcher poll failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// poll follows up the watchtower's pending actions, then processes every
// log from the checkpoint up to head - Confirmations, in ranges of at
// most MaxRange blocks. Pending actions go first: their windows are
// already running.
func (w *Watcher) poll(ctx context.Context) error {
	head, err := w.client.BlockNumber(ctx)
	if err != nil {
		return fmt.Errorf("watcher: eth_blockNumber: %w", err)
	}
	if err := w.followUp(ctx, head); err != nil {
		return err
	}
	err = w.advance(ctx, head)
	if cerr := w.countAtRisk(); err == nil {
		err = cerr
	}
	return err
}

// advance processes the logs from the checkpoint up to head -
// Confirmations.
func (w *Watcher) advance(ctx context.Context, head uint64) error {
	if err := w.checkReorg(ctx); err != nil {
		return err
	}
	cp, err := w.start()
	if err != nil {
		return err
	}
	w.metrics.lag.Set(float64(lag(head, cp)))
	if head < w.cfg.Confirmations {
		return nil
	}
	safe := head - w.cfg.Confirmations
	for cp.Block <= safe {
		to := min(safe, cp.Block+w.cfg.MaxRange-1)
		if cp, err = w.scan(ctx, cp, to); err != nil {
			return err
		}
		w.metrics.lag.Set(float64(lag(head, cp)))
		level := slog.LevelDebug
		if cp.Block <= safe {
			level = slog.LevelInfo // catching up: one line per range
		}
		w.log.Log(ctx, level, "watcher progress", "block", cp.Block-1, "head", head, "lag", lag(head, cp))
	}
	return nil
}

// lag is how many blocks up to head are not fully processed.
func lag(head uint64, cp Checkpoint) uint64 {
	if head+1 < cp.Block {
		return 0
	}
	return head + 1 - cp.Block
}

// start returns the checkpoint, or the configured start on a fresh
// database.
func (w *Watcher) start() (Checkpoint, error) {
	cp, ok, err := w.db.stored()
	if !ok && err == nil {
		cp = Checkpoint{Block: w.cfg.StartBlock}
	}
	return cp, err
}

// limitExceededCode is the JSON-RPC code nodes use for an eth_getLogs
// over too many blocks or returning too many logs.
const limitExceededCode = -32005

// scan processes the logs of blocks cp.Block..to and moves the checkpoint
// past the last block it covered (to, or less if the node refused the
// range as too large).
func (w *Watcher) scan(ctx context.Context, cp Checkpoint, to uint64) (Checkpoint, error) {
	logs, to, after, err := w.fetch(ctx, cp.Block, to)
	if err != nil {
		return cp, err
	}
	slices.SortFunc(logs, func(a, b types.Log) int {
		if a.BlockNumber != b.BlockNumber {
			return cmp.Compare(a.BlockNumber, b.BlockNumber)
		}
		return cmp.Compare(a.Index, b.Index)
	})
	for _, l := range logs {
		if l.Address != w.cfg.Arbiter || l.Removed || cp.before(l.BlockNumber, l.Index) || l.BlockNumber > to {
			continue
		}
		if cp, err = w.handleLog(ctx, l); err != nil {
			return cp, err
		}
	}
	next := Checkpoint{Block: to + 1}
	var prune uint64
	if to > w.cfg.ReorgDepth {
		prune = to - w.cfg.ReorgDepth
	}
	if _, err := w.db.apply(write{cp: next, block: &blockRef{Number: to, Hash: after}, pruneBelow: prune}); err != nil {
		return cp, err
	}
	return next, nil
}

// fetch returns the arbiter's logs of blocks from..to, halving the range
// while the node refuses it as too large, with the last block covered and
// its hash. The hash of that block is read before and after the logs: if
// it did not change, the logs all come from the chain that ends in it, and
// remembering it lets the next poll detect a reorganisation of any of
// these blocks.
func (w *Watcher) fetch(ctx context.Context, from, to uint64) ([]types.Log, uint64, common.Hash, error) {
	for {
		before, err := w.blockHash(ctx, to)
		if err != nil {
			return nil, 0, common.Hash{}, err
		}
		logs, err := w.client.FilterLogs(ctx, ethereum.FilterQuery{
			FromBlock: new(big.Int).SetUint64(from),
			ToBlock:   new(big.Int).SetUint64(to),
			Addresses: []common.Address{w.cfg.Arbiter},
		})
		var rerr rpc.Error
		if errors.As(err, &rerr) && rerr.ErrorCode() == limitExceededCode && to > from {
			to = from + (to-from)/2
			continue
		} else if err != nil {
			return nil, 0, common.Hash{}, fmt.Errorf("watcher: eth_getLogs %d..%d: %w", from, to, err)
		}
		after, err := w.blockHash(ctx, to)
		if err != nil {
			return nil, 0, common.Hash{}, err
		}
		if before != after {
			return nil, 0, common.Hash{}, fmt.Errorf("watcher: block %d changed during eth_getLogs", to)
		}
		return logs, to, after, nil
	}
}

// blockHash returns the hash of the canonical block n.
func (w *Watcher) blockHash(ctx context.Context, n uint64) (common.Hash, error) {
	h, err := w.client.HeaderByNumber(ctx, new(big.Int).SetUint64(n))
	if err != nil {
		return common.Hash{}, fmt.Errorf("watcher: header %d: %w", n, err)
	}
	return h.Hash(), nil
}

// checkReorg compares the newest processed block with the chain. If the
// chain replaced it, it finds the newest processed block still on the
// chain (the common ancestor) and rolls the checkpoint back to the block
// after it, dropping the records of the replaced blocks' logs so they are
// processed again from the new chain.
func (w *Watcher) checkReorg(ctx context.Context) error {
	newest, err := w.db.blocks(1)
	if err != nil || len(newest) == 0 {
		return err
	}
	h, err := w.client.HeaderByNumber(ctx, new(big.Int).SetUint64(newest[0].Number))
	if err == nil && h.Hash() == newest[0].Hash {
		return nil // the newest processed block is canonical, so are its ancestors
	} else if err != nil && !errors.Is(err, ethereum.NotFound) {
		return fmt.Errorf("watcher: header %d: %w", newest[0].Number, err)
	}
	blocks, err := w.db.blocks(math.MaxInt)
	if err != nil {
		return err
	}
	for i, b := range blocks {
		h, err := w.client.HeaderByNumber(ctx, new(big.Int).SetUint64(b.Number))
		switch {
		case errors.Is(err, ethereum.NotFound):
			continue // the new chain is shorter
		case err != nil:
			return fmt.Errorf("watcher: header %d: %w", b.Number, err)
		case h.Hash() != b.Hash:
			continue
		}
		if i == 0 {
			return nil // canonical again since the first look
		}
		if err := w.db.rollback(b.Number, blocks[:i]); err != nil {
			return err
		}
		w.metrics.reorgs.Inc()
		w.log.Warn("watcher rolled back after a reorganisation", "ancestor", b.Number, "dropped", blocks[0].Number-b.Number, "replaced", blocks[0].Hash)
		return nil
	}
	return fmt.Errorf("%w: none of blocks %d..%d is canonical", ErrReorgTooDeep, blocks[len(blocks)-1].Number, blocks[0].Number)
}

// handleLog processes one log and records it together with the moved
// checkpoint in one write. A log with a record already (a replay) only
// moves the checkpoint.
func (w *Watcher) handleLog(ctx context.Context, l types.Log) (Checkpoint, error) {
	next := Checkpoint{Block: l.BlockNumber, Index: l.Index + 1}
	blk := &blockRef{Number: l.BlockNumber, Hash: l.BlockHash}
	done, err := w.db.isHandled(l.BlockHash, l.Index)
	if err != nil {
		return Checkpoint{}, err
	}
	if done {
		w.log.Warn("watcher skipped an event it had handled", "block", l.BlockNumber, "index", l.Index)
		_, err := w.db.apply(write{cp: next, block: blk})
		return next, err
	}
	rec := Handled{Block: l.BlockNumber, BlockHash: l.BlockHash, Index: l.Index, TxHash: l.TxHash, Outcome: OutcomeHandled}
	ev, err := decodeLog(w.abi, l)
	if err != nil {
		rec.Outcome, rec.Detail = OutcomeQuarantined, err.Error()
		if l.Topics == nil {
			l.Topics = []common.Hash{} // the JSON form of a log requires the list
		}
		if _, err := w.db.apply(write{cp: next, block: blk, handled: &rec, quarantined: &Quarantined{Reason: rec.Detail, Log: l}}); err != nil {
			return Checkpoint{}, err
		}
		w.metrics.quarantined.Inc()
		w.log.Warn("watcher quarantined event", "block", l.BlockNumber, "index", l.Index, "tx", l.TxHash, "reason", rec.Detail)
		return next, nil
	}
	rec.Event, rec.GameID = ev.Name, ev.GameID
	wr := write{cp: next, block: blk, handled: &rec}
	if ev.Name == channel.EventGameClaimed {
		res, err := w.onClaim(ctx, l, ev)
		if err != nil {
			return Checkpoint{}, err
		}
		rec.Outcome, rec.Action, rec.Detail = res.outcome, res.tx, res.detail
		wr.evidence, wr.pending = res.evidence, res.pending
	}
	if _, err := w.db.apply(wr); err != nil {
		return Checkpoint{}, err
	}
	w.metrics.handled.WithLabelValues(ev.Name).Inc()
	w.log.Info("watcher handled event", "block", l.BlockNumber, "index", l.Index, "event", ev.Name, "game", ev.GameID, "outcome", rec.Outcome)
	return next, nil
}
