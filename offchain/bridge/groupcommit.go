package bridge

import (
	"errors"
	"fmt"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
)

// maxGroup bounds the appends one group commit writes in one badger
// transaction, far below badger's transaction size limit for records of
// a few kilobytes.
const maxGroup = 128

// appendReq is one Append waiting for its group commit.
type appendReq struct {
	id  common.Hash
	ply uint32
	val []byte
	rec Record // what val encodes, as a read decodes it, for the head cache
	err error
	// wake receives false when the request is done (err set) and true
	// when its goroutine is to lead the next group commit.
	wake chan bool
}

// groupCommit writes concurrent appends to badger in shared transactions,
// so one write and one sync of the write-ahead log serve every append
// waiting at that moment. There is no committer goroutine: the first
// append to find the committer idle leads; after its group it hands the
// lead to the oldest waiting append, so no caller serves others for
// longer than one group beyond its own. The queue holds at most one
// entry per blocked Append call.
type groupCommit struct {
	db *badger.DB
	// heads, if not nil, learns each group's outcome before any of its
	// appends returns and before the next group starts, so its order is
	// the commit order.
	heads *headCache
	mu    sync.Mutex
	queue []*appendReq
	busy  bool
}

// append stores r once its compare-and-set holds and returns when the
// write is durable (or has failed).
func (g *groupCommit) append(r *appendReq) error {
	r.wake = make(chan bool, 1)
	g.mu.Lock()
	g.queue = append(g.queue, r)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if !lead {
		if !<-r.wake {
			return r.err
		}
	}
	// Leading: r is at the head of the queue, so the group below holds it.
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	group := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()

	g.commit(group)
	g.heads.update(group)

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].wake <- true
	} else {
		g.busy = false
		g.queue = nil
	}
	g.mu.Unlock()
	for _, o := range group {
		if o != r {
			o.wake <- false
		}
	}
	return r.err
}

// commit writes group in one transaction, each append checked against
// the stored head as extended by the appends before it in the group. A
// badger conflict (a concurrent CreateGame) re-runs the whole group.
func (g *groupCommit) commit(group []*appendReq) {
	var err error
	for range maxTxnRetries {
		err = g.db.Update(func(txn *badger.Txn) error {
			for _, r := range group {
				r.err = checkAndSet(txn, r)
				if r.err != nil && !errors.Is(r.err, ErrConflict) && !errors.Is(r.err, ErrNotFound) {
					return r.err
				}
			}
			return nil
		})
		if !errors.Is(err, badger.ErrConflict) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, badger.ErrConflict) {
			err = fmt.Errorf("bridge: store transaction: %w", err)
		}
		for _, r := range group {
			r.err = err
		}
	}
}

// checkAndSet writes r's state and head in txn if r's game exists and r
// extends its head by one ply.
func checkAndSet(txn *badger.Txn, r *appendReq) error {
	if _, err := txn.Get(gameKey(r.id)); errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	} else if err != nil {
		return err
	}
	head, err := readHead(txn, r.id)
	if err != nil {
		return err
	}
	if uint64(head)+1 != uint64(r.ply) {
		return ErrConflict
	}
	if err := txn.Set(stateKey(r.id, r.ply), r.val); err != nil {
		return err
	}
	return txn.Set(headKey(r.id), encodePly(r.ply))
}
