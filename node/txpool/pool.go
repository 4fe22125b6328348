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

// Errors only the pool refuses a transaction with. Everything block import
// would also refuse is reported with the errors of package rules. The
// refusals for a limit that frees up over time wrap ErrPoolFull or
// ErrSenderLimit, so a client that backs off on those backs off on all.
var (
	// ErrAlreadyKnown: a transaction with the same hash is already pooled.
	ErrAlreadyKnown = errors.New("already known")
	// ErrUnderpriced: the effective gas price is below the pool's minimum.
	ErrUnderpriced = errors.New("transaction underpriced")
	// ErrReplaceUnderpriced: a transaction with the same sender and nonce is
	// pooled and the new one does not raise both fee cap and tip by the price bump.
	ErrReplaceUnderpriced = errors.New("replacement transaction underpriced")
	// ErrReplaceLimit: the pooled transaction with the same sender and nonce
	// already replaced another at this head without raising the price; a
	// further replacement must raise fee cap and tip or wait for the next head.
	ErrReplaceLimit = errors.New("replacement without a price rise already made at this head")
	// ErrPoolFull: the pool holds as many transactions or bytes as it may.
	ErrPoolFull = errors.New("transaction pool is full")
	// ErrSponsorShare: the pool is full and the member accountable for the
	// sender (the sender or the member vouching for it) already holds its
	// fair share of it, so the transaction may not evict another's.
	ErrSponsorShare = fmt.Errorf("%w: sponsor holds its fair share", ErrPoolFull)
	// ErrFutureFull: the part of the pool for non-executable transactions
	// (nonce gap) is full and the sender's sponsor holds its fair share of it.
	ErrFutureFull = fmt.Errorf("%w: no room for non-executable transactions", ErrPoolFull)
	// ErrSenderLimit: the sender has as many pooled transactions as it may.
	ErrSenderLimit = errors.New("too many pooled transactions from sender")
	// ErrSenderBytes: the sender's pooled transactions would exceed its byte limit.
	ErrSenderBytes = fmt.Errorf("%w: byte limit", ErrSenderLimit)
	// ErrFutureLimit: the sender has as many non-executable transactions
	// pooled as it may.
	ErrFutureLimit = fmt.Errorf("%w: non-executable limit", ErrSenderLimit)
	// ErrNoState: the state of the chain head could not be opened.
	ErrNoState = errors.New("head state unavailable")
)

// Chain is what the pool needs of the chain: the head and the state at a
// root. StateAt must return a fresh StateDB the pool may keep and read.
type Chain interface {
	CurrentHeader() *types.Header
	StateAt(root common.Hash) (*state.StateDB, error)
}

// entry is a pooled transaction with what the pool computed about it once.
type entry struct {
	tx    *types.Transaction
	hash  common.Hash
	seq   uint64       // arrival order
	price *uint256.Int // effective gas price
	cost  *uint256.Int // value + gas * fee cap
	size  uint64
	head  uint64 // Pool.heads when it was pooled
	free  bool   // it replaced another without raising the price
	idle  int    // heads it has waited non-executable
}

// Pool holds transactions waiting to be included in a block. It is safe for
// concurrent use.
type Pool struct {
	cfg      Config
	caps     [classes]usage // executable: the whole pool; future: its part for non-executable txs
	minPrice *uint256.Int
	rules    rules.Static
	chain    Chain
	feed     event.Feed
	senders  *Senders // of admitted transactions

	mu       sync.Mutex
	state    *state.StateDB // state at the head; nil until it could be opened
	head     common.Hash    // hash of the head state's block
	heads    uint64         // heads seen, counting from New
	gasLimit uint64         // the head's block gas limit
	all      map[common.Hash]*entry
	accounts map[common.Address]*account
	sponsors map[common.Address]*sponsor
	held     [classes]usage       // over all accounts
	holders  [classes]int         // sponsors holding transactions of each class
	seq      uint64               // next arrival number
	pending  []*types.Transaction // Pending's answer; nil when the pool changed since
	evicted  uint64               // transactions evicted for others
	expired  uint64               // transactions dropped after waiting FutureHeads
	drain    drain                // what recent heads took out of the pool, for Submit
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
		cfg: cfg,
		caps: [classes]usage{
			executable: {cfg.MaxTxs, cfg.MaxBytes},
			future:     {cfg.MaxFutureTxs, cfg.MaxFutureBytes},
		},
		minPrice: minPrice,
		rules:    r,
		chain:    chain,
		senders:  cfg.Senders,
		gasLimit: r.GasLimit,
		all:      make(map[common.Hash]*entry),
		accounts: make(map[common.Address]*account),
		sponsors: make(map[common.Address]*sponsor),
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
	p.setHead(head, st)
	return nil
}

// setHead makes head, whose state is st, the pool's head. It reports
// whether head is another block than the previous one.
func (p *Pool) setHead(head *types.Header, st *state.StateDB) bool {
	p.state = st
	p.gasLimit = p.rules.GasLimit
	if head.GasLimit > 0 && head.GasLimit < p.gasLimit {
		p.gasLimit = head.GasLimit
	}
	h := head.Hash()
	if h == p.head {
		return false
	}
	p.head = h
	p.heads++
	return true
}

// Add validates tx against the rules and the head state and pools it. It
// refuses what block import would refuse, with the errors of package rules,
// and in addition what the pool's limits refuse, with the errors above.
//
// When the pool is full, a transaction that can execute on the head state
// makes room by evicting non-executable transactions, the largest holder's
// first, and then executable ones of the sponsors above their fair share,
// if the arriving transaction's sponsor would stay within its own. A
// non-executable transaction may only evict non-executable ones, by the same
// fair-share rule. Evicted transactions are not announced.
func (p *Pool) Add(tx *types.Transaction) error {
	hash := tx.Hash()
	if p.Has(hash) {
		return ErrAlreadyKnown
	}
	// Signature recovery is the expensive part; keep it out of the lock,
	// and skip it for a transaction whose sender the cache knows: one a
	// valid block carried, or one refused for lack of room and offered
	// again (a client's retry, a peer's copy, the next pull).
	if known, ok := p.senders.Sender(hash); ok {
		p.rules.KnownSender(tx, known)
	}
	from, err := p.rules.CheckStatic(tx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	err = p.add(tx, from)
	p.mu.Unlock()
	if err != nil {
		if errors.Is(err, ErrPoolFull) || errors.Is(err, ErrSenderLimit) {
			p.senders.RememberRefused(hash, from)
		}
		return err
	}
	p.senders.add(hash, from)
	p.feed.Send([]*types.Transaction{tx})
	return nil
}

// admission is what admit found out about a transaction it let through,
// for add to pool it with.
type admission struct {
	hash        common.Hash
	acc         *account // the sender's pooled transactions; nil: none
	old         *entry   // the pooled transaction of the same nonce; nil: none
	idx         int      // old's place in acc, or where the transaction goes
	price, cost *uint256.Int
	spent       *uint256.Int // what the sender's pooled transactions cost with it
	size        uint64
	free        bool // a replacement that does not raise the price
	exec        bool // executable once pooled
	sponsor     common.Address
}

// admit runs every check of add that does not depend on room in the pool,
// cheapest first, and changes nothing but the pool's head state (loaded if
// need be). Submit runs it before a client's transaction waits for room,
// so a transaction the pool would refuse anyway (a replay of an included
// one, a sender not allowed, one that cannot pay) is refused at once and
// takes no waiting slot. p.mu is held.
func (p *Pool) admit(tx *types.Transaction, from common.Address) (*admission, error) {
	hash := tx.Hash()
	if _, ok := p.all[hash]; ok {
		return nil, ErrAlreadyKnown
	}
	if err := p.ensureState(); err != nil {
		return nil, err
	}
	if tx.Gas() > p.gasLimit {
		return nil, fmt.Errorf("%w: %d > %d", rules.ErrGasLimit, tx.Gas(), p.gasLimit)
	}
	price := rules.EffectiveGasPrice(tx)
	if price.Cmp(p.minPrice) < 0 {
		return nil, fmt.Errorf("%w: price %v, minimum %v", ErrUnderpriced, price, p.minPrice)
	}
	size := tx.Size()
	acc := p.accounts[from]
	var (
		old   *entry
		idx   int
		found bool
		free  bool // a replacement that does not raise the price
		exec  bool // executable once pooled
	)
	if acc != nil {
		idx, found = acc.find(tx.Nonce())
		if found {
			old = acc.txs[idx]
		}
	}
	if old != nil {
		if !p.bumped(old.tx, tx) {
			return nil, fmt.Errorf("%w: nonce %d needs fee cap and tip %d%% above %v/%v",
				ErrReplaceUnderpriced, tx.Nonce(), p.cfg.PriceBump, old.tx.GasFeeCap(), old.tx.GasTipCap())
		}
		free = !raised(old.tx, tx)
		if free && old.free && old.head == p.heads {
			return nil, fmt.Errorf("%w: nonce %d", ErrReplaceLimit, tx.Nonce())
		}
		exec = idx < acc.exec
		if grown := acc.bytes - old.size + size; grown > p.cfg.MaxSenderBytes {
			return nil, fmt.Errorf("%w: %s would have %d bytes, limit %d", ErrSenderBytes, from, grown, p.cfg.MaxSenderBytes)
		}
	} else {
		var held, fut usage
		next := p.state.GetNonce(from)
		if acc != nil {
			held, fut, next = usage{len(acc.txs), acc.bytes}, acc.held(future), acc.next()
		}
		exec = tx.Nonce() == next
		switch {
		case held.txs >= p.cfg.MaxPerSender:
			return nil, fmt.Errorf("%w: %s has %d", ErrSenderLimit, from, held.txs)
		case held.bytes+size > p.cfg.MaxSenderBytes:
			return nil, fmt.Errorf("%w: %s has %d bytes, limit %d", ErrSenderBytes, from, held.bytes, p.cfg.MaxSenderBytes)
		case tx.Nonce() > next && fut.txs >= p.cfg.MaxFuturePerSender:
			return nil, fmt.Errorf("%w: %s has %d", ErrFutureLimit, from, fut.txs)
		}
	}
	if err := rules.CheckState(p.state, from, tx, false); err != nil {
		return nil, err
	}
	cost, err := rules.Cost(tx)
	if err != nil {
		return nil, err
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
			return nil, fmt.Errorf("%w: address %s have %v, pooled transactions want %v",
				rules.ErrInsufficientFunds, from, bal, spent)
		}
	}

	a := &admission{hash: hash, acc: acc, old: old, idx: idx, price: price, cost: cost, spent: spent,
		size: size, free: free, exec: exec}
	if acc != nil {
		a.sponsor = acc.sponsor.addr
	} else {
		a.sponsor = sponsorOf(p.state, from)
	}
	return a, nil
}

// add pools tx from a sender that passed the static checks. p.mu is held.
// The checks (admit) run cheapest first. The only work beyond a few state
// reads is making room: it scans the sponsors (members, whose number no
// sender chooses) and evicts at most as many transactions as fit in the
// size of the one arriving.
func (p *Pool) add(tx *types.Transaction, from common.Address) error {
	a, err := p.admit(tx, from)
	if err != nil {
		return err
	}
	hash, acc, old, idx, size := a.hash, a.acc, a.old, a.idx, a.size
	grow := usage{1, size}
	if old != nil {
		grow = usage{0, size}.minus(usage{0, old.size})
	}
	if err := p.makeRoom(acc, a.sponsor, a.exec, grow); err != nil {
		return err
	}
	if acc == nil {
		acc = newAccount(from, p.sponsor(a.sponsor), p.state.GetNonce(from))
		p.accounts[from] = acc
	}

	e := &entry{tx: tx, hash: hash, seq: p.seq, price: a.price, cost: a.cost, size: size, head: p.heads, free: a.free}
	p.seq++
	was := acc.holdings()
	if old != nil {
		delete(p.all, old.hash)
		acc.txs[idx] = e
		acc.bytes = acc.bytes - old.size + size
		if idx < acc.exec {
			acc.execBytes = acc.execBytes - old.size + size
		}
	} else {
		acc.insert(idx, e)
	}
	acc.spent = a.spent
	p.all[hash] = e
	acc.promote()
	p.settle(acc, was)
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

// raised reports whether next raises both fee cap and tip above prev's. A
// bump of a small or zero price rounds to no rise at all.
func raised(prev, next *types.Transaction) bool {
	return next.GasFeeCap().Cmp(prev.GasFeeCap()) > 0 && next.GasTipCap().Cmp(prev.GasTipCap()) > 0
}

// sponsor returns the pool's record of the sponsor addr, created if new.
func (p *Pool) sponsor(addr common.Address) *sponsor {
	sp := p.sponsors[addr]
	if sp == nil {
		sp = newSponsor(addr, p.caps)
		p.sponsors[addr] = sp
	}
	return sp
}

// settle brings the totals of acc's sponsor and of the pool, and the
// sponsor's rankings, up to date after acc changed from holding was. An
// account or sponsor left holding nothing is forgotten.
func (p *Pool) settle(acc *account, was [classes]usage) {
	sp := acc.sponsor
	for c := range classes {
		now := acc.held(c)
		if now == was[c] {
			continue
		}
		before := sp.held[c].txs
		sp.held[c] = sp.held[c].sub(was[c]).add(now)
		p.held[c] = p.held[c].sub(was[c]).add(now)
		switch after := sp.held[c].txs; {
		case before == 0 && after > 0:
			p.holders[c]++
		case before > 0 && after == 0:
			p.holders[c]--
		}
		sp.ranks[c].update(acc)
	}
	if len(acc.txs) == 0 {
		delete(p.accounts, acc.addr)
	}
	if sp.held[executable].txs == 0 && sp.held[future].txs == 0 {
		delete(p.sponsors, sp.addr)
	}
}

// bytes returns the encoded size of the pooled transactions. p.mu is held.
func (p *Pool) bytes() uint64 { return p.held[executable].bytes + p.held[future].bytes }

// PendingNonce returns the nonce the sender's next transaction should have:
// its state nonce plus its executable pooled transactions.
func (p *Pool) PendingNonce(addr common.Address) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if acc := p.accounts[addr]; acc != nil {
		return acc.next()
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

// GetMany returns the pooled transactions with the hashes, in their
// order, nil where one is not pooled: one lock for a whole proposal.
func (p *Pool) GetMany(hashes []common.Hash) []*types.Transaction {
	out := make([]*types.Transaction, len(hashes))
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, h := range hashes {
		if e := p.all[h]; e != nil {
			out[i] = e.tx
		}
	}
	return out
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
func (p *Pool) Stats() (exec, fut int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held[executable].txs, p.held[future].txs
}

// Dropped returns how many transactions the pool has evicted to make room
// for others and how many it dropped because they stayed non-executable
// for FutureHeads heads, since New.
func (p *Pool) Dropped() (evicted, expired uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.evicted, p.expired
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
	return p.bytes()
}

// SubscribeNewTxs delivers each batch of newly pooled transactions to ch.
// Delivery is synchronous: the subscriber must keep ch drained.
func (p *Pool) SubscribeNewTxs(ch chan<- []*types.Transaction) event.Subscription {
	return p.feed.Subscribe(ch)
}
