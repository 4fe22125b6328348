package bridge

import (
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
)

// headCacheSize bounds the games whose newest record the badger store
// keeps in memory: far more than a bridge plays at once.
const headCacheSize = 4096

// headCache keeps the newest durable record of recently played games, so
// that validating a move does not read and decode its game's head from
// badger. Only the store's group commit writes heads, in this process
// (badger locks its directory), and it updates the cache after each group,
// before any of the group's appends returns and before the next group is
// written, so a cached head is the stored one and the cache follows the
// commit order.
type headCache struct {
	mu    sync.Mutex
	heads *lru.BasicLRU[common.Hash, Record]
}

func newHeadCache(size int) *headCache {
	l := lru.NewBasicLRU[common.Hash, Record](size)
	return &headCache{heads: &l}
}

// get returns a copy of the cached head of id.
func (c *headCache) get(id common.Hash) (Record, bool) {
	if c == nil {
		return Record{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.heads.Get(id)
	if !ok {
		return Record{}, false
	}
	return rec.copy(), true
}

// update records the outcome of a group commit: an append that succeeded
// is its game's head; a game with a failed append (a conflict, a write
// error after which badger may still show the write) is dropped, so its
// next read goes to badger. The group commit calls it before any append of
// the group returns and before the next group starts.
func (c *headCache) update(group []*appendReq) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range group {
		if r.err == nil {
			c.heads.Add(r.id, r.rec.copy())
		}
	}
	for _, r := range group {
		if r.err != nil {
			c.heads.Remove(r.id)
		}
	}
}
