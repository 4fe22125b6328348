package bridge

import (
	"context"
	"time"

	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum/common"
)

// watchBatch is how many states a watch reads from the Store at a time.
const watchBatch = 64

// MoveWatch delivers the accepted states of one game in ply order, without
// gaps or repeats, whichever Bridge instance over the Store accepted them.
type MoveWatch struct {
	b     *Bridge
	ctx   context.Context
	id    common.Hash
	wake  <-chan struct{}
	next  uint32
	since time.Time
}

// WatchMoves starts a watch of a game's accepted states from req.FromPly
// on (from the state after the newest accepted one if FromPly is nil). The
// watch holds Store resources until ctx is done; Run delivers. Errors:
// ErrUnknownGame.
func (b *Bridge) WatchMoves(ctx context.Context, req WatchRequest) (*MoveWatch, error) {
	if _, err := b.game(ctx, req.GameID); err != nil {
		return nil, err
	}
	// Register before reading the head: a state accepted after the read
	// then always wakes the watch.
	wake, err := b.store.Watch(ctx, req.GameID)
	if err != nil {
		return nil, err
	}
	w := &MoveWatch{b: b, ctx: ctx, id: req.GameID, wake: wake, since: time.Now()}
	if req.FromPly != nil {
		w.next = max(*req.FromPly, 1)
	} else {
		head, err := b.head(ctx, req.GameID)
		if err != nil {
			return nil, err
		}
		w.next = head.Ply + 1
	}
	return w, nil
}

// Run calls send with each state in turn until the watch's context is done
// (it then returns the context's error), or send or the Store fails. The
// relay latency metric observes, as each is handed to send, the states
// accepted after the watch started.
func (w *MoveWatch) Run(send func(channel.SignedState) error) error {
	for {
		recs, err := w.b.store.States(w.ctx, w.id, w.next, watchBatch)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.Accepted.After(w.since) {
				w.b.metrics.relay.Observe(time.Since(r.Accepted).Seconds())
			}
			if err := send(r.State); err != nil {
				return err
			}
			w.next = r.Ply() + 1
		}
		if len(recs) == watchBatch {
			continue
		}
		select {
		case <-w.ctx.Done():
			return w.ctx.Err()
		case <-w.wake:
		}
	}
}
