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
// (badger locks its directory), so a cached head is the stored one. A
// record replaces a cached one only with a higher ply: appends of one game
// may return in any order.
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
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.heads.Get(id)
	if !ok {
		return Record{}, false
	}
	return rec.copy(), true
}

// put records rec, durably stored, as id's head unless a later one is
// cached.
func (c *headCache) put(id common.Hash, rec Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.heads.Peek(id); ok && old.Ply() >= rec.Ply() {
		return
	}
	c.heads.Add(id, rec)
}
