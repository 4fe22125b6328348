package txpool

import (
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/node/rules"
)

// Defaults for the zero fields of Config.
const (
	DefaultMaxTxs       = 8192
	DefaultMaxBytes     = 32 << 20
	DefaultMaxPerSender = 1024
	DefaultPriceBump    = 10
)

// Errors only the pool refuses a transaction with. Everything block import
// would also refuse is reported with the errors of package rules.
var (
	// ErrAlreadyKnown: a transaction with the same hash is already pooled.
	ErrAlreadyKnown = errors.New("already known")
	// ErrUnderpriced: the effective gas price is below the pool's minimum.
	ErrUnderpriced = errors.New("transaction underpriced")
	// ErrReplaceUnderpriced: a transaction with the same sender and nonce is
	// pooled and the new one does not raise both fee cap and tip by the price bump.
	ErrReplaceUnderpriced = errors.New("replacement transaction underpriced")
	// ErrPoolFull: the pool holds as many transactions or bytes as it may.
	ErrPoolFull = errors.New("transaction pool is full")
	// ErrSenderLimit: the sender has as many pooled transactions as it may.
	ErrSenderLimit = errors.New("too many pooled transactions from sender")
	// ErrNoState: the state of the chain head could not be opened.
	ErrNoState = errors.New("head state unavailable")
)

// Chain is what the pool needs of the chain: the head and the state at a
// root. StateAt must return a fresh StateDB the pool may keep and read.
type Chain interface {
	CurrentHeader() *types.Header
	StateAt(root common.Hash) (*state.StateDB, error)
}

// Config bounds the pool. Zero fields take the defaults.
type Config struct {
	MaxTxs       int      // transactions in the pool (DefaultMaxTxs)
	MaxBytes     uint64   // encoded bytes in the pool (DefaultMaxBytes)
	MaxPerSender int      // transactions per sender (DefaultMaxPerSender)
	MinGasPrice  *big.Int // minimum effective gas price (0)
	PriceBump    uint64   // percent a replacement must raise fee cap and tip by (DefaultPriceBump)
}

func (c Config) withDefaults() Config {
	if c.MaxTxs <= 0 {
		c.MaxTxs = DefaultMaxTxs
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxPerSender <= 0 {
		c.MaxPerSender = DefaultMaxPerSender
	}
	if c.MinGasPrice == nil || c.MinGasPrice.Sign() < 0 {
		c.MinGasPrice = new(big.Int)
	}
	if c.PriceBump == 0 {
		c.PriceBump = DefaultPriceBump
	}
	return c
}

// entry is a pooled transaction with what the pool computed about it once.
type entry struct {
	tx    *types.Transaction
	hash  common.Hash
	seq   uint64       // arrival order
	price *uint256.Int // effective gas price
	cost  *uint256.Int // value + gas * fee cap
	size  uint64
}

// Pool holds transactions waiting to be included in a block. It is safe for
// concurrent use.
type Pool struct {
	cfg      Config
	minPrice *uint256.Int
	rules    rules.Static
	chain    Chain
	feed     event.Feed

	mu       sync.Mutex
	state    *state.StateDB // state at the head; nil until it could be opened
	all      map[common.Hash]*entry
	accounts map[common.Address]*account
	bytes    uint64
	exec     int                  // executable transactions over all accounts
	seq      uint64               // next arrival number
	pending  []*types.Transaction // Pending's answer; nil when the pool changed since
}

// New returns an empty pool validating against r and the state of chain's
// current head.
func New(cfg Config, r rules.Static, chain Chain) *Pool {
	cfg = cfg.withDefaults()
	minPrice, overflow := uint256.FromBig(cfg.MinGasPrice)
	if overflow {
		minPrice = new(uint256.Int).SetAllOne()
	}
	p := &Pool{
		cfg:      cfg,
		minPrice: minPrice,
		rules:    r,
		chain:    chain,
		all:      make(map[common.Hash]*entry),
		accounts: make(map[common.Address]*account),
	}
	p.mu.Lock()
	_ = p.ensureState() // retried on the next Add or Reset if it fails
	p.mu.Unlock()
	return p
}

// ensureState opens the head state if the pool has none.
func (p *Pool) ensureState() error {
	if p.state != nil {
		return nil
	}
	head := p.chain.CurrentHeader()
	if head == nil {
		return fmt.Errorf("%w: no head", ErrNoState)
	}
	st, err := p.chain.StateAt(head.Root)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoState, err)
	}
	p.state = st
	return nil
}

// Add validates tx against the rules and the head state and pools it. It
// refuses what block import would refuse, with the errors of package rules,
// and in addition what the pool's limits refuse, with the errors above.
func (p *Pool) Add(tx *types.Transaction) error {
	if p.Has(tx.Hash()) {
		return ErrAlreadyKnown
	}
	// Signature recovery is the expensive part; keep it out of the lock.
	from, err := p.rules.CheckStatic(tx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	err = p.add(tx, from)
	p.mu.Unlock()
	if err != nil {
		return err
	}
	p.feed.Send([]*types.Transaction{tx})
	return nil
}

// add pools tx from a sender that passed the static checks. p.mu is held.
func (p *Pool) add(tx *types.Transaction, from common.Address) error {
	hash := tx.Hash()
	if _, ok := p.all[hash]; ok {
		return ErrAlreadyKnown
	}
	if err := p.ensureState(); err != nil {
		return err
	}
	price := rules.EffectiveGasPrice(tx)
	if price.Cmp(p.minPrice) < 0 {
		return fmt.Errorf("%w: price %v, minimum %v", ErrUnderpriced, price, p.minPrice)
	}
	if err := rules.CheckState(p.state, from, tx, false); err != nil {
		return err
	}
	cost, err := rules.Cost(tx)
	if err != nil {
		return err
	}

	acc := p.accounts[from]
	var (
		old   *entry
		idx   int
		found bool
	)
	if acc != nil {
		idx, found = acc.find(tx.Nonce())
		if found {
			old = acc.txs[idx]
		}
	}
	size := tx.Size()
	bytes := p.bytes + size
	if old != nil {
		if !p.bumped(old.tx, tx) {
			return fmt.Errorf("%w: nonce %d needs fee cap and tip %d%% above %v/%v",
				ErrReplaceUnderpriced, tx.Nonce(), p.cfg.PriceBump, old.tx.GasFeeCap(), old.tx.GasTipCap())
		}
		bytes -= old.size
	} else {
		if acc != nil && len(acc.txs) >= p.cfg.MaxPerSender {
			return fmt.Errorf("%w: %s has %d", ErrSenderLimit, from, len(acc.txs))
		}
		if len(p.all) >= p.cfg.MaxTxs {
			return fmt.Errorf("%w: %d transactions", ErrPoolFull, len(p.all))
		}
	}
	if bytes > p.cfg.MaxBytes {
		return fmt.Errorf("%w: %d bytes", ErrPoolFull, p.bytes)
	}

	// The sender must afford everything it has pooled, not each tx alone.
	spent := new(uint256.Int).Set(cost)
	if acc != nil {
		others := new(uint256.Int).Set(acc.spent)
		if old != nil {
			others.Sub(others, old.cost)
		}
		_, overflow := spent.AddOverflow(spent, others)
		if bal := p.state.GetBalance(from); overflow || bal.Cmp(spent) < 0 {
			return fmt.Errorf("%w: address %s have %v, pooled transactions want %v",
				rules.ErrInsufficientFunds, from, bal, spent)
		}
	}

	e := &entry{tx: tx, hash: hash, seq: p.seq, price: price, cost: cost, size: size}
	p.seq++
	if acc == nil {
		acc = &account{nonce: p.state.GetNonce(from)}
		p.accounts[from] = acc
		idx, _ = acc.find(tx.Nonce())
	}
	if old != nil {
		delete(p.all, old.hash)
		acc.txs[idx] = e
	} else {
		acc.insert(idx, e)
	}
	acc.spent = spent
	p.all[hash] = e
	p.bytes = bytes
	p.exec += acc.promote()
	p.pending = nil
	return nil
}

// bumped reports whether next may replace prev: its fee cap and its tip are
// each at least PriceBump percent above prev's.
func (p *Pool) bumped(prev, next *types.Transaction) bool {
	bump := new(big.Int).SetUint64(100 + p.cfg.PriceBump)
	hundred := big.NewInt(100)
	min := func(v *big.Int) *big.Int {
		m := new(big.Int).Mul(v, bump)
		return m.Quo(m, hundred)
	}
	return next.GasFeeCap().Cmp(min(prev.GasFeeCap())) >= 0 &&
		next.GasTipCap().Cmp(min(prev.GasTipCap())) >= 0
}

// Reset moves the pool to a new head: it re-reads the state at newHead
// (the chain's current header if nil), drops the transactions that were
// included or became invalid (sender no longer allowed, no longer
// affordable), re-adds reinject (transactions of blocks a reorg dropped),
// ignoring the ones now invalid, and recomputes which transactions are
// executable. If the new state cannot be opened the pool is left as it was.
func (p *Pool) Reset(newHead *types.Header, reinject []*types.Transaction) {
	if newHead == nil {
		newHead = p.chain.CurrentHeader()
		if newHead == nil {
			return
		}
	}
	type candidate struct {
		tx   *types.Transaction
		from common.Address
	}
	cands := make([]candidate, 0, len(reinject))
	for _, tx := range reinject {
		if from, err := p.rules.CheckStatic(tx); err == nil {
			cands = append(cands, candidate{tx, from})
		}
	}

	p.mu.Lock()
	st, err := p.chain.StateAt(newHead.Root)
	if err != nil {
		p.mu.Unlock()
		return
	}
	p.state = st
	p.revalidate()
	var added []*types.Transaction
	for _, c := range cands {
		if p.add(c.tx, c.from) == nil {
			added = append(added, c.tx)
		}
	}
	p.mu.Unlock()

	if len(added) > 0 {
		p.feed.Send(added)
	}
}

// revalidate checks every pooled transaction against the (new) head state
// and recomputes the executable prefixes. p.mu is held.
//
// rules.CheckState runs on each sender's transactions in nonce order until
// one passes: what it checks is the same for the later ones (the sender is
// allowed, their nonces are higher), except the balance, which the
// cumulative check covers. A sender no longer allowed loses everything.
func (p *Pool) revalidate() {
	p.exec = 0
	p.pending = nil
	for from, acc := range p.accounts {
		bal := p.state.GetBalance(from)
		spent := new(uint256.Int)
		kept := acc.txs[:0]
		checked := false
		for i, e := range acc.txs {
			if !checked {
				if err := rules.CheckState(p.state, from, e.tx, false); err != nil {
					if errors.Is(err, rules.ErrNotAllowed) {
						for _, d := range acc.txs[i:] {
							p.drop(d)
						}
						break
					}
					p.drop(e) // included, or unaffordable on its own
					continue
				}
				checked = true
			}
			var next uint256.Int
			if _, overflow := next.AddOverflow(spent, e.cost); overflow || next.Cmp(bal) > 0 {
				p.drop(e) // later ones stay, held behind the gap until it is refilled
				continue
			}
			spent.Set(&next)
			kept = append(kept, e)
		}
		clear(acc.txs[len(kept):])
		if len(kept) == 0 {
			delete(p.accounts, from)
			continue
		}
		acc.txs, acc.spent, acc.exec = kept, spent, 0
		acc.nonce = p.state.GetNonce(from)
		p.exec += acc.promote()
	}
}

// drop forgets e. The caller removes it from its account. p.mu is held.
func (p *Pool) drop(e *entry) {
	delete(p.all, e.hash)
	p.bytes -= e.size
}

// PendingNonce returns the nonce the sender's next transaction should have:
// its state nonce plus its executable pooled transactions.
func (p *Pool) PendingNonce(addr common.Address) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if acc := p.accounts[addr]; acc != nil {
		return acc.nonce + uint64(acc.exec)
	}
	if p.ensureState() != nil {
		return 0
	}
	return p.state.GetNonce(addr)
}

// Get returns the pooled transaction with the hash, or nil.
func (p *Pool) Get(hash common.Hash) *types.Transaction {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.all[hash]; e != nil {
		return e.tx
	}
	return nil
}

// Has reports whether a transaction with the hash is pooled.
func (p *Pool) Has(hash common.Hash) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.all[hash]
	return ok
}

// Stats returns the number of executable transactions and of future ones
// (held behind a nonce gap).
func (p *Pool) Stats() (executable, future int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exec, len(p.all) - p.exec
}

// Len returns the number of pooled transactions.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all)
}

// Bytes returns the encoded size of the pooled transactions.
func (p *Pool) Bytes() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}

// SubscribeNewTxs delivers each batch of newly pooled transactions to ch.
// Delivery is synchronous: the subscriber must keep ch drained.
func (p *Pool) SubscribeNewTxs(ch chan<- []*types.Transaction) event.Subscription {
	return p.feed.Subscribe(ch)
}
