package p2p

import (
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// relayedCap bounds how many transactions relayed tracks at once: far more
// than the batches validated concurrently can hold between a mark and the
// announcement it suppresses.
const relayedCap = 1 << 15

// relayed tracks the transactions of peers' batches that gossipsub passes
// on as they are (their validation accepted the batch), so that this
// node's own batches do not announce them a second time. A batch's
// transactions are marked before the pool takes them, because the pool
// announces each as it takes it; the publishing loop skips a marked
// transaction (take). A batch that is not passed on after all releases its
// marks, and a transaction whose announcement was already skipped is handed
// back for announcing; a batch that is passed on settles them, and a mark
// ends with the one announcement it suppresses. Every transaction the pool
// took is announced once: in the peer's batch or in one of this node's.
type relayed struct {
	// announce takes back transactions whose announcement was skipped for
	// a batch that was not passed on after all.
	announce func([]*types.Transaction)

	mu    sync.Mutex
	marks map[common.Hash]markState
	ring  []common.Hash // marks in order, for the bound
	next  int
}

// markState is where a marked transaction stands.
type markState uint8

const (
	markOpen    markState = iota // batch undecided, announcement not yet seen
	markSkipped                  // batch undecided, announcement skipped
	markSettled                  // batch passed on, announcement not yet seen
)

func newRelayed(announce func([]*types.Transaction)) *relayed {
	return &relayed{announce: announce, marks: make(map[common.Hash]markState), ring: make([]common.Hash, relayedCap)}
}

// mark marks txs as about to be passed on as they are. At the bound the
// oldest mark is forgotten: its transaction is at worst announced twice.
func (r *relayed) mark(txs []*types.Transaction) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, tx := range txs {
		h := tx.Hash()
		if old := r.ring[r.next]; old != (common.Hash{}) {
			delete(r.marks, old)
		}
		r.ring[r.next] = h
		r.next = (r.next + 1) % len(r.ring)
		r.marks[h] = markOpen
	}
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
