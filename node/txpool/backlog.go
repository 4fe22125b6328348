package txpool

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Defaults of the client backlog (see Submit).
const (
	DefaultBacklogWindow = 800 * time.Millisecond
	DefaultMinBacklog    = 1024
	DefaultBacklogWait   = time.Second
	// MaxBacklogWaiters bounds the clients' transactions of one sponsor
	// waiting for room at once; more are refused at once.
	MaxBacklogWaiters = 128
	// MaxSenderWaiters bounds those of one sender, so that one account
	// (a batch of its future nonces) cannot take every waiting place of
	// the sponsor it shares with others. A client sending one request at
	// a time has one transaction waiting.
	MaxSenderWaiters = MaxBacklogWaiters / 8
	// drainHeads is how many recent heads the drain rate is measured over
	// (drainHeads-1 intervals); heads more than drainSpan before the
	// latest, and all of them when the latest is more than drainSpan old,
	// do not count.
	drainHeads = 5
	drainSpan  = 30 * time.Second
	// recentIntervals is how many of the newest head intervals are
	// measured on their own as well (rate takes the faster).
	recentIntervals = 2
	// spanHeads is the least window in head intervals (the shortest of
	// the recent ones): blocks are built from the pool while the one
	// before is decided, so the pool holds about two blocks, and a window
	// of two intervals or less would let no block be larger than the one
	// before.
	spanHeads = 3
)

// ErrBacklog: a client's transaction found the pool holding more executable
// transactions than the chain includes in the backlog window, its sponsor
// holding its fair share of them, and no head made room within the wait. It
// wraps ErrPoolFull: the client backs off and sends it again.
var ErrBacklog = fmt.Errorf("%w: backlog", ErrPoolFull)

// drain measures how fast the chain includes the pool's transactions: how
// many each recent head included and when it came; and it keeps the
// clients waiting for room. Local admission policy only: it reads the wall
// clock, and nothing of it reaches a block.
type drain struct {
	at       [drainHeads]time.Time
	included [drainHeads]int
	next     int                         // ring position of the next head
	n        int                         // heads recorded, at most drainHeads
	room     chan struct{}               // closed at the next head; nil until a client waits
	sponsors map[common.Address]*waiting // sponsors with clients waiting, or stalled at this head
	senders  map[common.Address]int      // transactions waiting by sender
	txs      map[common.Hash]struct{}    // transactions waiting
	waits    uint64                      // client transactions that waited for room
	refused  uint64                      // client transactions refused with ErrBacklog
}

// waiting is what the backlog keeps of one sponsor's waiting clients.
type waiting struct {
	n       int    // transactions waiting
	stalled uint64 // Pool.heads+1 when a wait of this sponsor ran out without a head
}

// record notes a head at now that included included of the pool's
// transactions, and wakes the clients waiting for room.
func (d *drain) record(now time.Time, included int) {
	d.at[d.next], d.included[d.next] = now, included
	d.next = (d.next + 1) % drainHeads
	d.n = min(d.n+1, drainHeads)
	if d.room != nil {
		close(d.room)
		d.room = nil
	}
	for sp, w := range d.sponsors {
		if w.n == 0 {
			delete(d.sponsors, sp) // a stall holds for one head
		}
	}
}

// rate returns the transactions included per second over the recent heads
// (not counting the oldest head's own, which opens the interval) and the
// shortest interval between them; zeros before two heads, or when the
// latest is more than drainSpan before now (the chain has stopped).
func (d *drain) rate(now time.Time) (perSecond float64, shortest time.Duration) {
	if d.n < 2 {
		return 0, 0
	}
	last := (d.next + drainHeads - 1) % drainHeads
	if now.Sub(d.at[last]) > drainSpan {
		return 0, 0
	}
	var (
		sum, intervals, recentSum int
		recentSpan                time.Duration
		first                     = last
	)
	for k := 1; k < d.n; k++ {
		i := (last + drainHeads - k) % drainHeads
		if d.at[last].Sub(d.at[i]) > drainSpan {
			break
		}
		if gap := d.at[first].Sub(d.at[i]); shortest == 0 || gap < shortest {
			shortest = gap
		}
		sum += d.included[first]
		first = i
		intervals = k
		if k == recentIntervals {
			recentSum, recentSpan = sum, d.at[last].Sub(d.at[i])
		}
	}
	span := d.at[last].Sub(d.at[first])
	if span <= 0 {
		return 0, 0
	}
	perSecond = float64(sum) / span.Seconds()
	// The newest two intervals alone when they drained faster: a chain
	// whose blocks grow (the backlog ramping up) is measured at its new
	// pace, not held back by the heads before. Their span counts as at
	// least their share of the whole, so heads bunched together (a
	// catch-up importing several in a millisecond) raise the rate at most
	// twofold.
	if intervals > recentIntervals {
		recentSpan = max(recentSpan, span*recentIntervals/time.Duration(intervals))
		perSecond = max(perSecond, float64(recentSum)/recentSpan.Seconds())
	}
	return perSecond, shortest
}

// wait returns a channel closed at the next head.
func (d *drain) wait() <-chan struct{} {
	if d.room == nil {
		d.room = make(chan struct{})
	}
	return d.room
}

// sponsor returns sp's waiting record, made if need be.
func (d *drain) sponsor(sp common.Address) *waiting {
	if d.sponsors == nil {
		d.sponsors = make(map[common.Address]*waiting)
		d.senders = make(map[common.Address]int)
		d.txs = make(map[common.Hash]struct{})
	}
	w := d.sponsors[sp]
	if w == nil {
		w = &waiting{}
		d.sponsors[sp] = w
	}
	return w
}

// Backlog returns the number of executable transactions beyond which
// clients' new transactions wait (Submit): what the chain included at its
// recent rate (over its last drainHeads heads, or its newest two head
// intervals if those drained faster) in BacklogWindow, or in three of its
// recent head intervals if that is longer; at least MinBacklog per
// BacklogWindow (or DefaultBacklogWindow, if longer) of that time
// (math.MaxInt when the backlog is off).
func (p *Pool) Backlog() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.backlog()
}

// BacklogStats returns how many client transactions waited for room in the
// backlog and how many were refused with ErrBacklog.
func (p *Pool) BacklogStats() (waits, refused uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.drain.waits, p.drain.refused
}

func (p *Pool) backlog() int {
	if p.cfg.BacklogWindow < 0 {
		return math.MaxInt
	}
	rate, shortest := p.drain.rate(p.cfg.Clock())
	window := max(p.cfg.BacklogWindow, spanHeads*shortest)
	// The floor is MinBacklog per BacklogWindow of the window (per
	// DefaultBacklogWindow if BacklogWindow is shorter, so a small window
	// does not make the floor a large rate): a window stretched to three
	// long head intervals starts its ramp from as many transactions a
	// second as a short one, not from a third of a block.
	per := max(p.cfg.BacklogWindow, DefaultBacklogWindow)
	floor := float64(p.cfg.MinBacklog) * max(1, window.Seconds()/per.Seconds())
	n := rate * window.Seconds()
	if !(n >= floor) { // also a NaN rate
		n = floor
	}
	if n >= math.MaxInt32 {
		return math.MaxInt32 // beyond any pool; keeps the conversion defined
	}
	return int(n)
}

// Submit is Add for a transaction from a client of this node (RPC), with
// flow control: while the pool holds more executable transactions than the
// chain includes in the backlog window (Backlog), and the sender's sponsor holds at least
// its fair share of them (an equal part for every sponsor holding
// executable transactions), a new nonce waits for heads to make room, at
// most BacklogWait or two of the chain's recent head intervals, whichever
// is longer, in all or until ctx ends, and is then refused with
// ErrBacklog. A sponsor within its share is never held back by another's
// backlog, and transactions from peers (Add) never wait: they were admitted
// by the node their client sent them to.
//
// Only a transaction the pool would admit once there is room waits: one it
// would refuse (a replay of an included transaction, a sender not allowed,
// one its sender cannot pay for, one over the sender's limits) is refused
// at once with the pool's error, so replays of public transactions take no
// waiting place. What waiting costs is bounded per sponsor: at most
// MaxBacklogWaiters of its transactions wait at once, at most
// MaxSenderWaiters of one sender's, the same transaction waits once, and once
// a wait of the sponsor ran out without a new head, its other transactions
// are refused at once until the next head (a batch of requests, or a chain
// that has stopped, holds a client for one wait, not one per transaction).
//
// The wait keeps what a node has accepted close to what the chain finalizes
// within the window, so a client flooding faster than the chain
// includes sees its requests slow down instead of a queue of seconds behind
// them.
func (p *Pool) Submit(ctx context.Context, tx *types.Transaction) error {
	hash := tx.Hash()
	if p.Has(hash) {
		return ErrAlreadyKnown
	}
	if known, ok := p.senders.Sender(hash); ok {
		p.rules.KnownSender(tx, known)
	}
	from, err := p.rules.CheckStatic(tx)
	if err != nil {
		return err
	}
	var (
		timeout <-chan time.Time
		limit   time.Duration // how long it may wait
		w       *waiting      // the sponsor's record while this transaction waits
		heads   uint64        // Pool.heads when the wait began
	)
	for {
		p.mu.Lock()
		room, sp := p.mustWait(from, tx.Nonce())
		if room == nil {
			err = p.add(tx, from)
		} else if w == nil {
			// Not waiting yet: refuse at once what the pool would refuse
			// after the wait, and past the bounds.
			if _, aerr := p.admit(tx, from); aerr != nil {
				err = aerr
			} else if ws := p.drain.sponsors[sp]; ws != nil && (ws.stalled == p.heads+1 || ws.n >= MaxBacklogWaiters) {
				err = p.backlogError()
			} else if p.drain.senders[from] >= MaxSenderWaiters {
				err = p.backlogError()
			} else if _, dup := p.drain.txs[hash]; dup {
				err = p.backlogError()
			} else {
				w, heads = p.drain.sponsor(sp), p.heads
				_, shortest := p.drain.rate(p.cfg.Clock())
				limit = max(p.cfg.BacklogWait, 2*shortest)
				w.n++
				p.drain.senders[from]++
				p.drain.txs[hash] = struct{}{}
				p.drain.waits++
			}
		}
		if room == nil || err != nil {
			p.unwait(w, hash, from)
			p.mu.Unlock()
			break
		}
		p.mu.Unlock()
		if timeout == nil {
			t := time.NewTimer(limit)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-room:
			continue
		case <-timeout:
		case <-ctx.Done():
		}
		p.mu.Lock()
		if p.heads == heads && ctx.Err() == nil {
			w.stalled = p.heads + 1
		}
		p.unwait(w, hash, from)
		err = p.backlogError()
		p.mu.Unlock()
		break
	}
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

// unwait ends the wait of a transaction from from (nothing if w is nil).
// p.mu is held.
func (p *Pool) unwait(w *waiting, hash common.Hash, from common.Address) {
	if w == nil {
		return
	}
	w.n--
	if p.drain.senders[from]--; p.drain.senders[from] <= 0 {
		delete(p.drain.senders, from)
	}
	delete(p.drain.txs, hash)
}

// backlogError counts a refusal for the backlog and describes it. p.mu is
// held.
func (p *Pool) backlogError() error {
	p.drain.refused++
	return fmt.Errorf("%w: %d executable transactions pooled, backlog %d",
		ErrBacklog, p.held[executable].txs, p.backlog())
}

// mustWait returns a channel to wait on if a new transaction with this nonce
// from from must wait for room (see Submit), nil if it may be added now, and
// the sender's sponsor. A replacement of a pooled nonce adds nothing to the
// backlog and never waits. p.mu is held.
func (p *Pool) mustWait(from common.Address, nonce uint64) (<-chan struct{}, common.Address) {
	n := p.backlog()
	if p.held[executable].txs < n {
		return nil, common.Address{}
	}
	acc := p.accounts[from]
	var sp common.Address
	if acc != nil {
		if _, found := acc.find(nonce); found {
			return nil, common.Address{}
		}
		sp = acc.sponsor.addr
	} else if p.state != nil {
		sp = sponsorOf(p.state, from)
	}
	var theirs [classes]usage
	if s := p.sponsors[sp]; s != nil {
		theirs = s.held
	}
	// Within its share, n/k of the backlog among k sponsors, rounded up.
	if k := p.fairHolders(executable, theirs); theirs[executable].txs*k < n {
		return nil, sp
	}
	return p.drain.wait(), sp
}

// included records, at a new head, how many of the pool's transactions it
// included. p.mu is held.
func (p *Pool) included(n int) {
	p.drain.record(p.cfg.Clock(), n)
}
