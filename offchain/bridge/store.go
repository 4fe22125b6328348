package bridge

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"sync"
	"time"

	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum/common"
)

// Store holds the bridge's games and accepted signed states. It is the
// only place bridge state lives: every instance of the bridge over the
// same Store serves every request the same way.
//
// An implementation (embedded, in memory, or an external database shared
// by many instances) must guarantee:
//
//   - Durability: once CreateGame or Append returns nil, the write
//     survives a restart of the process (and, for a store meant for
//     production, of the machine).
//   - Atomicity: Append stores the state and advances the game's newest
//     ply together, or does neither.
//   - Compare-and-set: Append succeeds only if the game's newest stored
//     ply is the appended ply minus one, checked and written in one
//     transaction (a conditional write); of any number of concurrent
//     Appends of one ply, across all instances, exactly one succeeds and
//     the others return ErrConflict. A stored state is never overwritten.
//   - Read-your-writes: a read that starts after a write returned sees it.
//   - Watch: after Watch returns, every Append to the game that commits
//     afterwards, through any instance, is followed by a value on the
//     channel (values may coalesce and may be spurious). A store without
//     push notifications can implement it with PollWatch.
//   - Bounds: a game or state that ValidateGame or ValidateRecord refuses
//     is refused with ErrBadRecord and nothing is stored; anything they
//     accept reads back exactly as written, Accepted to the nanosecond.
//
// Values passed in and returned are copies; callers may keep them. The
// conformance suite in offchain/bridge/storetest checks all of this
// against a real instance of the store.
type Store interface {
	// CreateGame stores g if no game with its id exists. It returns the
	// stored game either way.
	CreateGame(ctx context.Context, g GameRecord) (GameRecord, error)
	// Game returns the stored game, or ErrNotFound.
	Game(ctx context.Context, id common.Hash) (GameRecord, error)
	// Head returns the newest stored state of the game; ok is false if it
	// has none (or the game is unknown).
	Head(ctx context.Context, id common.Hash) (rec Record, ok bool, err error)
	// States returns at most limit stored states of the game with ply >=
	// from, in ply order.
	States(ctx context.Context, id common.Hash, from uint32, limit int) ([]Record, error)
	// Append stores rec as the state at rec.State.State.Ply of its game if
	// the game's newest stored ply is that ply minus one (zero when it has
	// none). It returns ErrNotFound for an unknown game and ErrConflict,
	// storing nothing, if the newest ply is anything else.
	Append(ctx context.Context, rec Record) error
	// Watch returns a channel that receives a value after each Append to
	// the game that commits after Watch returns, until ctx is done. The
	// channel is never closed; select on ctx as well.
	Watch(ctx context.Context, id common.Hash) (<-chan struct{}, error)
}

// ClosableStore is a Store that holds connections or files until Close.
// Every store offchain/bridge/storeurl opens is one.
type ClosableStore interface {
	Store
	Close() error
}

// GameRecord is a game as the bridge registered it: the facts read from
// the arbiter that do not change once the game is active.
type GameRecord struct {
	ID          common.Hash
	White       common.Address
	Black       common.Address
	Stake       *big.Int
	MoveTimeout uint64
}

// maxStakeBits is the width of the arbiter's uint256 stake.
const maxStakeBits = 256

// ValidateGame returns an error wrapping ErrBadRecord if g cannot be
// stored: its stake is negative or wider than 256 bits. A nil stake is
// stored as zero.
func ValidateGame(g GameRecord) error {
	if g.Stake != nil && (g.Stake.Sign() < 0 || g.Stake.BitLen() > maxStakeBits) {
		return fmt.Errorf("%w: stake of game %s is not a uint256", ErrBadRecord, g.ID)
	}
	return nil
}

// ValidateRecord returns an error wrapping ErrBadRecord if r cannot be
// stored: a fen or move longer than channel.MaxFENLength or
// channel.MaxMoveLength, or a signature that is not
// channel.SignatureLength bytes (the bounds channel.SignedState's JSON
// decoding enforces, so a stored state always decodes), or an Accepted
// time outside what int64 unix nanoseconds hold.
func ValidateRecord(r Record) error {
	s := r.State
	switch {
	case len(s.State.FEN) > channel.MaxFENLength:
		return fmt.Errorf("%w: fen is %d bytes, at most %d", ErrBadRecord, len(s.State.FEN), channel.MaxFENLength)
	case len(s.State.Move) > channel.MaxMoveLength:
		return fmt.Errorf("%w: move is %d bytes, at most %d", ErrBadRecord, len(s.State.Move), channel.MaxMoveLength)
	case len(s.Signature) != channel.SignatureLength:
		return fmt.Errorf("%w: signature is %d bytes, want %d", ErrBadRecord, len(s.Signature), channel.SignatureLength)
	case r.Accepted.Before(minAccepted) || r.Accepted.After(maxAccepted):
		return fmt.Errorf("%w: accepted at %v, not representable in unix nanoseconds", ErrBadRecord, r.Accepted)
	}
	return nil
}

// The span of times int64 unix nanoseconds hold (1677 to 2262), the form
// stores keep Record.Accepted in.
var (
	minAccepted = time.Unix(0, math.MinInt64)
	maxAccepted = time.Unix(0, math.MaxInt64)
)

func (g GameRecord) copy() GameRecord {
	if g.Stake != nil {
		g.Stake = new(big.Int).Set(g.Stake)
	}
	return g
}

// Record is an accepted signed state and when the bridge accepted it.
type Record struct {
	State    channel.SignedState
	Accepted time.Time
}

// Ply returns the ply of the recorded state.
func (r Record) Ply() uint32 { return r.State.State.Ply }

func (r Record) copy() Record {
	r.State.Signature = append([]byte(nil), r.State.Signature...)
	return r
}

// Feed fans Append notifications out to the watchers of each game within
// one process. Stores use it to implement Watch: a store whose writes all
// go through one process (badger holds a directory lock; the in-memory
// store lives in one process) needs nothing more, and a shared database
// feeds it from its own change notifications. The zero Feed is ready to
// use.
type Feed struct {
	mu   sync.Mutex
	subs map[common.Hash]map[chan struct{}]struct{}
}

// Watch registers a watcher of id until ctx is done and returns its
// channel, which Notify never blocks on (a pending value absorbs more).
func (f *Feed) Watch(ctx context.Context, id common.Hash) <-chan struct{} {
	ch := make(chan struct{}, 1)
	f.mu.Lock()
	if f.subs == nil {
		f.subs = make(map[common.Hash]map[chan struct{}]struct{})
	}
	set := f.subs[id]
	if set == nil {
		set = make(map[chan struct{}]struct{})
		f.subs[id] = set
	}
	set[ch] = struct{}{}
	f.mu.Unlock()
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		// ch is in the current set of id while registered, so a set is
		// only ever dropped once empty.
		if set := f.subs[id]; set != nil {
			delete(set, ch)
			if len(set) == 0 {
				delete(f.subs, id)
			}
		}
		f.mu.Unlock()
	})
	return ch
}

// Notify wakes every watcher of id without blocking.
func (f *Feed) Notify(id common.Hash) {
	f.mu.Lock()
	for ch := range f.subs[id] {
		wake(ch)
	}
	f.mu.Unlock()
}

// NotifyAll wakes every watcher of every game, for a store that may have
// missed changes (a lost connection to its database).
func (f *Feed) NotifyAll() {
	f.mu.Lock()
	for _, set := range f.subs {
		for ch := range set {
			wake(ch)
		}
	}
	f.mu.Unlock()
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// PollWatch implements Store.Watch for a store that cannot push changes
// (an external database read by many instances): it reads the game's
// newest ply with headPly now and then every interval until ctx is done,
// and sends a value whenever it changed. headPly returns 0 for a game
// without states.
func PollWatch(ctx context.Context, interval time.Duration, headPly func(context.Context) (uint32, error)) (<-chan struct{}, error) {
	last, err := headPly(ctx)
	if err != nil {
		return nil, err
	}
	ch := make(chan struct{}, 1)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			ply, err := headPly(ctx)
			if err != nil || ply == last {
				continue // a failed read is retried at the next tick
			}
			last = ply
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	return ch, nil
}
