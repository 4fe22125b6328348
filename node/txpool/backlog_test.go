package txpool

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/node/rules"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestSubmitBacklog fills the client backlog from the accounts one member
// vouches for: its next transaction waits and is pooled when a head makes
// room; meanwhile another member's client, a peer's copy (Add) and a
// replacement go in at once.
func TestSubmitBacklog(t *testing.T) {
	e := newEnv(t, 0)
	keys := e.sybils(t, 4) // mallory and four vouched accounts
	p := e.pool(Config{MinBacklog: 4, BacklogWait: time.Minute})
	ctx := context.Background()

	for i := range 4 {
		if err := p.Submit(ctx, sign(t, keys[1+i], legacy(0, 0))); err != nil {
			t.Fatalf("submit %d below the backlog: %v", i, err)
		}
	}

	// The fifth waits for a head.
	late := sign(t, keys[1], legacy(1, 0))
	done := make(chan error, 1)
	go func() { done <- p.Submit(ctx, late) }()
	waitFor(t, p, 1)

	// Another member holds nothing: within its share, it is not held back.
	honest := sign(t, e.alice, legacy(0, 0))
	if err := p.Submit(ctx, honest); err != nil {
		t.Fatalf("alice's submit while mallory's backlog is full: %v", err)
	}
	// A peer's copy was admitted by the peer's node: it never waits.
	gossip := sign(t, keys[2], legacy(1, 0))
	if err := p.Add(gossip); err != nil {
		t.Fatalf("a peer's transaction while the backlog is full: %v", err)
	}
	// A replacement adds nothing to the backlog.
	repl := sign(t, keys[3], legacy(0, 0, func(tx *types.LegacyTx) { tx.Data, tx.Gas = []byte{1}, 21016 }))
	if err := p.Submit(ctx, repl); err != nil {
		t.Fatalf("replacement while the backlog is full: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("submit beyond the backlog returned before a head: %v", err)
	default:
	}
	if p.Has(late.Hash()) {
		t.Fatal("the waiting transaction is pooled before a head made room")
	}

	// A block includes mallory's accounts' pooled transactions.
	head := e.chain.advance(t, func(st *state.StateDB) {
		for i, n := range []uint64{1, 2, 1, 1} {
			st.SetNonce(addrOf(keys[1+i]), n, tracing.NonceChangeUnspecified)
		}
	})
	p.Reset(head, nil)
	if err := <-done; err != nil {
		t.Fatalf("submit after a head made room: %v", err)
	}
	pooled(t, p, "transaction", late, honest)
	checkPool(t, p)
	if waits, refused := p.BacklogStats(); waits != 1 || refused != 0 {
		t.Errorf("BacklogStats: have %d waits, %d refused; want 1, 0", waits, refused)
	}
}

// waitFor returns once n client transactions have begun to wait.
func waitFor(t *testing.T, p *Pool, n uint64) {
	t.Helper()
	for {
		if waits, _ := p.BacklogStats(); waits >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSubmitBacklogRefused: a transaction that found no room within the
// wait, or whose request ended, is refused with ErrBacklog, which a client
// backing off on ErrPoolFull backs off on, and is not pooled.
func TestSubmitBacklogRefused(t *testing.T) {
	e := newEnv(t, 3)
	p := e.pool(Config{MinBacklog: 2, BacklogWait: 20 * time.Millisecond})
	ctx := context.Background()
	for i := range 2 {
		if err := p.Submit(ctx, sign(t, e.alice, legacy(uint64(i), 0))); err != nil {
			t.Fatal(err)
		}
	}
	late := sign(t, e.alice, legacy(2, 0))
	err := p.Submit(ctx, late)
	if !errors.Is(err, ErrBacklog) || !errors.Is(err, ErrPoolFull) {
		t.Fatalf("submit beyond the backlog, no head: have %v, want ErrBacklog (an ErrPoolFull)", err)
	}
	// Until a head comes, later transactions are refused without a wait of
	// their own (were they to wait, this one would wait an hour).
	p.cfg.BacklogWait = time.Hour
	if err := p.Submit(ctx, late); !errors.Is(err, ErrBacklog) {
		t.Fatalf("submit at the head a wait ran out at: have %v, want ErrBacklog", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	p2 := e.pool(Config{MinBacklog: 2, BacklogWait: time.Hour})
	for i := range 2 {
		if err := p2.Submit(ctx, sign(t, e.bob, legacy(uint64(i), 0))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p2.Submit(cancelled, sign(t, e.bob, legacy(2, 0))); !errors.Is(err, ErrBacklog) {
		t.Fatalf("submit beyond the backlog, request ended: have %v, want ErrBacklog", err)
	}
	if p.Has(late.Hash()) {
		t.Error("a refused transaction is pooled")
	}
	if waits, refused := p.BacklogStats(); waits != 1 || refused != 2 {
		t.Errorf("BacklogStats: have %d waits, %d refused; want 1 (the second was refused without one), 2", waits, refused)
	}
	// The refusal is no loss: the same transaction goes in once a head
	// makes room.
	head := e.chain.advance(t, func(st *state.StateDB) {
		st.SetNonce(addrOf(e.alice), 1, tracing.NonceChangeUnspecified)
	})
	p.Reset(head, nil)
	if err := p.Submit(ctx, late); err != nil {
		t.Fatalf("resubmit after a head: %v", err)
	}
}

// TestBacklogFollowsDrain: the backlog is what the chain included per
// second over the recent heads, times the window or three of the shortest
// recent head intervals, at least MinBacklog.
func TestBacklogFollowsDrain(t *testing.T) {
	e := newEnv(t, 0)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p := e.pool(Config{MinBacklog: 1, BacklogWindow: 2 * time.Second, Clock: clock.now})
	if have := p.Backlog(); have != 1 {
		t.Fatalf("backlog before any head: have %d, want MinBacklog 1", have)
	}
	p.Reset(e.chain.advance(t, func(*state.StateDB) {}), nil)
	for i := range 6 {
		mustAdd(t, p, sign(t, e.bob, legacy(uint64(i), 0)))
	}
	// Two heads, half a second apart, include three of bob's each: six
	// in one second, twelve in the two-second window.
	for k := 1; k <= 2; k++ {
		clock.add(500 * time.Millisecond)
		p.Reset(e.chain.advance(t, func(st *state.StateDB) {
			st.SetNonce(addrOf(e.bob), uint64(3*k), tracing.NonceChangeUnspecified)
		}), nil)
	}
	if have := p.Backlog(); have != 12 {
		t.Errorf("backlog: have %d, want 12 (6 per second over a 2 s window)", have)
	}
	// A head that drops transactions it did not include (the poor member
	// can no longer pay) includes nothing.
	mustAdd(t, p, sign(t, e.poor, legacy(0, 1)))
	clock.add(500 * time.Millisecond)
	p.Reset(e.chain.advance(t, func(st *state.StateDB) {
		st.SetBalance(addrOf(e.poor), new(uint256.Int), tracing.BalanceChangeUnspecified)
	}), nil)
	if exec, _ := p.Stats(); exec != 0 {
		t.Fatalf("the poor member's transaction is still pooled")
	}
	if have := p.Backlog(); have != 8 {
		t.Errorf("backlog after a head that included nothing: have %d, want 8 (6 in 1.5 s over 2 s)", have)
	}
	// A chain that stopped includes nothing.
	clock.add(drainSpan + time.Millisecond)
	if have := p.Backlog(); have != 1 {
		t.Errorf("backlog long after the last head: have %d, want MinBacklog 1", have)
	}
	// Heads further apart than the window: the window is three intervals.
	// Two heads 4 s apart, the second including 4 of bob's: 1 per second
	// for 12 s.
	p.Reset(e.chain.advance(t, func(*state.StateDB) {}), nil)
	for i := range 4 {
		mustAdd(t, p, sign(t, e.bob, legacy(uint64(6+i), 0)))
	}
	clock.add(4 * time.Second)
	p.Reset(e.chain.advance(t, func(st *state.StateDB) {
		st.SetNonce(addrOf(e.bob), 10, tracing.NonceChangeUnspecified)
	}), nil)
	if have := p.Backlog(); have != 12 {
		t.Errorf("backlog at heads 4 s apart: have %d, want 12 (1/s over 3 intervals of 4 s)", have)
	}
	// Only the last few heads count.
	for range drainHeads {
		clock.add(time.Second)
		p.Reset(e.chain.advance(t, func(*state.StateDB) {}), nil)
	}
	if have := p.Backlog(); have != 1 {
		t.Errorf("backlog after empty heads: have %d, want MinBacklog 1", have)
	}
}

// TestBacklogFollowsGrowth: when the newest two head intervals drained
// faster than the recent heads together, the backlog follows them, so a
// backlog ramping up from its floor is not held back by the small blocks
// it started from.
func TestBacklogFollowsGrowth(t *testing.T) {
	e := newEnv(t, 0)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p := e.pool(Config{MinBacklog: 1, BacklogWindow: 4 * time.Second, Clock: clock.now})
	p.Reset(e.chain.advance(t, func(*state.StateDB) {}), nil)
	for i := range 7 {
		mustAdd(t, p, sign(t, e.bob, legacy(uint64(i), 0)))
	}
	// Heads a second apart including 1, 1, 1, then 4 of bob's: 7 in 4 s
	// over all, 5 in the newest 2 s.
	nonce := uint64(0)
	for _, n := range []uint64{1, 1, 1, 4} {
		nonce += n
		clock.add(time.Second)
		p.Reset(e.chain.advance(t, func(st *state.StateDB) {
			st.SetNonce(addrOf(e.bob), nonce, tracing.NonceChangeUnspecified)
		}), nil)
	}
	if have := p.Backlog(); have != 10 {
		t.Errorf("backlog: have %d, want 10 (2.5 per second over a 4 s window, not 1.75)", have)
	}
	// Then heads including nothing. After one, the newest two intervals
	// (4 in 2 s) still drained faster than the four (6 in 4 s); after two
	// and three, the four (5, then 4, in 4 s) drained faster than the
	// newest two (none).
	for k, want := range []int{8, 5, 4} {
		clock.add(time.Second)
		p.Reset(e.chain.advance(t, func(*state.StateDB) {}), nil)
		if have := p.Backlog(); have != want {
			t.Errorf("backlog after %d empty heads: have %d, want %d", k+1, have, want)
		}
	}
	// Heads bunched together, as a catch-up imports them: three heads a
	// second apart, then two a millisecond apart, each including one.
	// The newest two intervals count as at least half of the span, so
	// their rate is at most twice the rate over all.
	for i := range 5 {
		mustAdd(t, p, sign(t, e.bob, legacy(uint64(7+i), 0)))
	}
	for k, gap := range []time.Duration{time.Second, time.Second, time.Second, time.Millisecond, time.Millisecond} {
		nonce := uint64(8 + k)
		clock.add(gap)
		p.Reset(e.chain.advance(t, func(st *state.StateDB) {
			st.SetNonce(addrOf(e.bob), nonce, tracing.NonceChangeUnspecified)
		}), nil)
	}
	// The ring holds the last five heads: four intervals of 1 s, 1 s,
	// 1 ms, 1 ms including 1 each, 4 in 2.002 s; the newest two, 2 in
	// 2 ms, count as 2 in 1.001 s.
	if have := p.Backlog(); have != 7 {
		t.Errorf("backlog after bunched heads: have %d, want 7 (2 in 1.001 s over 4 s), not thousands", have)
	}
}

// TestBacklogFloorFollowsWindow: the floor is MinBacklog per BacklogWindow,
// so when heads come further apart than the window allows for (the window
// is then three head intervals) an idle chain still starts from the same
// rate, not from a fraction of one block.
func TestBacklogFloorFollowsWindow(t *testing.T) {
	e := newEnv(t, 0)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p := e.pool(Config{MinBacklog: 100, BacklogWindow: time.Second, Clock: clock.now})
	if have := p.Backlog(); have != 100 {
		t.Fatalf("backlog before any head: have %d, want MinBacklog 100", have)
	}
	// Empty heads 250 ms apart: three intervals are shorter than the
	// window, which stays 1 s.
	for range 3 {
		clock.add(250 * time.Millisecond)
		p.Reset(e.chain.advance(t, func(*state.StateDB) {}), nil)
	}
	if have := p.Backlog(); have != 100 {
		t.Errorf("backlog at heads 250 ms apart: have %d, want 100", have)
	}
	// Empty heads 2 s apart (the ring forgets the short ones): the window
	// is 6 s, the floor 100 per second of it.
	for range drainHeads {
		clock.add(2 * time.Second)
		p.Reset(e.chain.advance(t, func(*state.StateDB) {}), nil)
	}
	if have := p.Backlog(); have != 600 {
		t.Errorf("backlog at empty heads 2 s apart: have %d, want 600 (100 per 1 s window over 6 s)", have)
	}
	// A chain that drains faster than the floor is measured as before:
	// two heads 1 s apart including 200 each. The window is 3 s, the
	// floor 300; the newest two intervals, 400 in 2 s counted as 3 s (half
	// the 6 s span), drained 133 a second: 400.
	for i := range 400 {
		mustAdd(t, p, sign(t, e.bob, legacy(uint64(i), 0)))
	}
	for k := 1; k <= 2; k++ {
		clock.add(time.Second)
		p.Reset(e.chain.advance(t, func(st *state.StateDB) {
			st.SetNonce(addrOf(e.bob), uint64(200*k), tracing.NonceChangeUnspecified)
		}), nil)
	}
	if have := p.Backlog(); have != 400 {
		t.Errorf("backlog: have %d, want 400 (133 per second over a 3 s window, above the floor of 300)", have)
	}
	// A window shorter than DefaultBacklogWindow counts the floor per
	// DefaultBacklogWindow: 100 per 800 ms over 6 s, not per 100 ms.
	short := e.pool(Config{MinBacklog: 100, BacklogWindow: 100 * time.Millisecond, Clock: clock.now})
	for range drainHeads {
		clock.add(2 * time.Second)
		short.Reset(e.chain.advance(t, func(*state.StateDB) {}), nil)
	}
	if have := short.Backlog(); have != 750 {
		t.Errorf("backlog of a 100 ms window at empty heads 2 s apart: have %d, want 750 (100 per 800 ms over 6 s)", have)
	}
}

// TestSubmitBacklogOff: a negative window turns the backlog off.
func TestSubmitBacklogOff(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(Config{MinBacklog: 2, BacklogWindow: -1, BacklogWait: time.Hour})
	for i := range 5 {
		if err := p.Submit(context.Background(), sign(t, e.alice, legacy(uint64(i), 0))); err != nil {
			t.Fatalf("submit %d with the backlog off: %v", i, err)
		}
	}
	if have := p.Backlog(); have != math.MaxInt {
		t.Errorf("Backlog off: have %d, want math.MaxInt", have)
	}
}

// TestSubmitBacklogBounds: one sponsor has at most MaxBacklogWaiters
// transactions waiting, and the same transaction waits once; beyond that
// they are refused at once.
func TestSubmitBacklogBounds(t *testing.T) {
	e := newEnv(t, 0)
	keys := e.sybils(t, 9) // mallory and nine accounts she vouches for
	p := e.pool(Config{MinBacklog: 1, BacklogWait: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := p.Submit(ctx, sign(t, keys[1], legacy(0, 0))); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, MaxBacklogWaiters)
	wait := func(tx *types.Transaction) { go func() { done <- p.Submit(ctx, tx) }() }
	first := sign(t, keys[1], legacy(1, 0))
	wait(first)
	waitFor(t, p, 1)
	if err := p.Submit(ctx, first); !errors.Is(err, ErrBacklog) {
		t.Fatalf("the same transaction while it waits: have %v, want ErrBacklog at once", err)
	}
	// One sender: at most MaxSenderWaiters wait.
	for n := 2; n <= MaxSenderWaiters; n++ {
		wait(sign(t, keys[1], legacy(uint64(n), 0)))
	}
	waitFor(t, p, MaxSenderWaiters)
	if err := p.Submit(ctx, sign(t, keys[1], legacy(MaxSenderWaiters+1, 0))); !errors.Is(err, ErrBacklog) {
		t.Fatalf("one more than MaxSenderWaiters from one sender: have %v, want ErrBacklog at once", err)
	}
	// Her other accounts still wait, up to MaxBacklogWaiters in all.
	waiting := MaxSenderWaiters
	for k := 2; waiting < MaxBacklogWaiters; k++ {
		for n := range MaxSenderWaiters {
			wait(sign(t, keys[k], legacy(uint64(n), 0)))
			waiting++
		}
	}
	waitFor(t, p, MaxBacklogWaiters)
	if err := p.Submit(ctx, sign(t, keys[9], legacy(0, 0))); !errors.Is(err, ErrBacklog) {
		t.Fatalf("one more than MaxBacklogWaiters of one sponsor: have %v, want ErrBacklog at once", err)
	}
	// Another member is not held back by mallory's waiting clients.
	if err := p.Submit(ctx, sign(t, e.bob, legacy(0, 0))); err != nil {
		t.Fatalf("bob while mallory's clients wait: %v", err)
	}
	cancel()
	for range MaxBacklogWaiters {
		if err := <-done; !errors.Is(err, ErrBacklog) {
			t.Errorf("a waiting transaction whose request ended: have %v, want ErrBacklog", err)
		}
	}
	if waits, refused := p.BacklogStats(); waits != MaxBacklogWaiters || refused != MaxBacklogWaiters+3 {
		t.Errorf("BacklogStats: have %d waits, %d refused; want %d, %d", waits, refused, MaxBacklogWaiters, MaxBacklogWaiters+3)
	}
}

// TestSubmitBacklogRefusesAtOnce: while the backlog is full, a transaction
// the pool would refuse anyway (here replays of transactions already
// included, which anyone can copy from the chain) gets the pool's own
// error at once and takes no waiting place: the sender's next nonce
// still waits for room.
func TestSubmitBacklogRefusesAtOnce(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(Config{MinBacklog: 1, BacklogWait: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Carol's account is at nonce 3: nonces 0-2 are in blocks.
	if err := p.Submit(ctx, sign(t, e.carol, legacy(3, 0))); err != nil {
		t.Fatal(err)
	}
	// The replays come with requests already ended: one that waited would
	// be refused with ErrBacklog at once instead of the pool's error.
	ended, end := context.WithCancel(ctx)
	end()
	for range 2 * MaxBacklogWaiters {
		for n := range uint64(3) {
			if err := p.Submit(ended, sign(t, e.carol, legacy(n, 0))); !errors.Is(err, rules.ErrNonceTooLow) {
				t.Fatalf("replay of nonce %d while the backlog is full: have %v, want ErrNonceTooLow at once", n, err)
			}
		}
	}
	if waits, refused := p.BacklogStats(); waits != 0 || refused != 0 {
		t.Fatalf("BacklogStats after replays: have %d waits, %d refused; want 0, 0", waits, refused)
	}
	next := sign(t, e.carol, legacy(4, 0))
	done := make(chan error, 1)
	go func() { done <- p.Submit(ctx, next) }()
	waitFor(t, p, 1)
	cancel()
	if err := <-done; !errors.Is(err, ErrBacklog) {
		t.Fatalf("carol's next nonce: have %v, want a wait ended by its request (ErrBacklog)", err)
	}
}
