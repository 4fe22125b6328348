package p2p

import (
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// relayedCap bounds how many transactions relayed tracks at once. A batch
// that would pass it is not marked, so it is not passed on as it is: its
// transactions go out in this node's own batches, as they would without
// marks. No mark is ever forgotten, so no announcement is ever lost.
const relayedCap = 1 << 15

// relayed tracks the transactions of peers' batches that gossipsub passes
// on as they are (their validation accepted the batch), so that this
// node's own batches do not announce them a second time. A batch's new
// transactions (those the pool did not hold; the others were announced
// when it took them) are marked before the pool takes them, because the
// pool announces each as it takes it; the publishing loop skips a marked
// transaction (take). A batch that is not passed on after all releases its
// marks, and a transaction whose announcement was already skipped is handed
// back for announcing; a batch that is passed on settles them, and a mark
// ends with the one announcement it suppresses. A mark belongs to one
// batch: a batch one of whose new transactions another batch has marked is
// not marked at all (and so not passed on). Every transaction the pool
// took is announced once: in the peer's batch or in one of this node's. Until
// activate (the publishing loop is subscribed to the pool) nothing is
// marked.
type relayed struct {
	// announce takes back transactions whose announcement was skipped for
	// a batch that was not passed on after all.
	announce func([]*types.Transaction)

	mu     sync.Mutex
	active bool
	marks  map[common.Hash]markState
}

// markState is where a marked transaction stands.
type markState uint8

const (
	markOpen    markState = iota // batch undecided, announcement not yet seen
	markSkipped                  // batch undecided, announcement skipped
	markSettled                  // batch passed on, announcement not yet seen
)

func newRelayed(announce func([]*types.Transaction)) *relayed {
	return &relayed{announce: announce, marks: make(map[common.Hash]markState)}
}

// activate starts marking: the publishing loop now sees the pool's
// announcements.
func (r *relayed) activate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active = true
}

// mark marks txs as about to be passed on as they are and reports whether
// it did: not before activate, not when one of them is marked already (by
// a batch still being checked) and not when the marks would pass
// relayedCap. A nil relayed marks nothing and reports true (no publishing
// loop to steer).
func (r *relayed) mark(txs []*types.Transaction) bool {
	if r == nil {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.active || len(r.marks)+len(txs) > relayedCap {
		return false
	}
	hashes := make([]common.Hash, len(txs))
	for i, tx := range txs {
		hashes[i] = tx.Hash()
		if _, ok := r.marks[hashes[i]]; ok {
			return false
		}
	}
	for _, h := range hashes {
		r.marks[h] = markOpen
	}
	return true
}

// take reports whether the announcement of hash is to be skipped, and
// records that it was.
func (r *relayed) take(hash common.Hash) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch st, ok := r.marks[hash]; {
	case !ok:
		return false
	case st == markSettled:
		delete(r.marks, hash)
	default:
		r.marks[hash] = markSkipped
	}
	return true
}

// settle records that the batch of txs was passed on: a skipped
// announcement's mark is done, the others end at their announcement.
func (r *relayed) settle(txs []*types.Transaction) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, tx := range txs {
		h := tx.Hash()
		switch st, ok := r.marks[h]; {
		case !ok:
		case st == markSkipped:
			delete(r.marks, h)
		default:
			r.marks[h] = markSettled
		}
	}
}

// release drops the marks of txs, whose batch is not passed on after all,
// and hands those of them whose announcement was already skipped to
// announce.
func (r *relayed) release(txs []*types.Transaction) {
	if r == nil {
		return
	}
	if back := r.unmark(txs); len(back) > 0 {
		r.announce(back)
	}
}

// unmark drops the marks of txs and returns those whose announcement was
// skipped.
func (r *relayed) unmark(txs []*types.Transaction) []*types.Transaction {
	r.mu.Lock()
	defer r.mu.Unlock()
	var back []*types.Transaction
	for _, tx := range txs {
		h := tx.Hash()
		if st, ok := r.marks[h]; ok {
			delete(r.marks, h)
			if st == markSkipped {
				back = append(back, tx)
			}
		}
	}
	return back
}

// size reports how many marks are held.
func (r *relayed) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.marks)
}
