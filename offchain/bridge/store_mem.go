package bridge

import (
	"context"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"
)

// MemStore is a Store held in process memory, for tests. It keeps every
// guarantee of Store except surviving a restart.
type MemStore struct {
	feed Feed

	mu    sync.RWMutex
	games map[common.Hash]*memGame
}

type memGame struct {
	rec    GameRecord
	states []Record // states[i] is the state at ply i+1
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{games: make(map[common.Hash]*memGame)}
}

// Close implements ClosableStore; the data stays in memory.
func (s *MemStore) Close() error { return nil }

// CreateGame implements Store.
func (s *MemStore) CreateGame(_ context.Context, g GameRecord) (GameRecord, error) {
	if err := ValidateGame(g); err != nil {
		return GameRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.games[g.ID]; ok {
		return old.rec.copy(), nil
	}
	g = g.copy()
	if g.Stake == nil {
		g.Stake = new(big.Int) // as every store reads a nil stake back
	}
	s.games[g.ID] = &memGame{rec: g}
	return g.copy(), nil
}

// Game implements Store.
func (s *MemStore) Game(_ context.Context, id common.Hash) (GameRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.games[id]
	if !ok {
		return GameRecord{}, ErrNotFound
	}
	return g.rec.copy(), nil
}

// Head implements Store.
func (s *MemStore) Head(_ context.Context, id common.Hash) (Record, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.games[id]
	if !ok || len(g.states) == 0 {
		return Record{}, false, nil
	}
	return g.states[len(g.states)-1].copy(), true, nil
}

// States implements Store.
func (s *MemStore) States(_ context.Context, id common.Hash, from uint32, limit int) ([]Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.games[id]
	if !ok {
		return nil, nil
	}
	start := uint64(0)
	if from > 1 {
		start = uint64(from) - 1
	}
	var out []Record
	for i := start; i < uint64(len(g.states)) && len(out) < limit; i++ {
		out = append(out, g.states[i].copy())
	}
	return out, nil
}

// Append implements Store.
func (s *MemStore) Append(_ context.Context, rec Record) error {
	if err := ValidateRecord(rec); err != nil {
		return err
	}
	id := rec.State.State.GameID
	s.mu.Lock()
	g, ok := s.games[id]
	switch {
	case !ok:
		s.mu.Unlock()
		return ErrNotFound
	case uint64(rec.Ply()) != uint64(len(g.states))+1:
		s.mu.Unlock()
		return ErrConflict
	}
	g.states = append(g.states, rec.copy())
	s.mu.Unlock()
	s.feed.Notify(id)
	return nil
}

// Watch implements Store.
func (s *MemStore) Watch(ctx context.Context, id common.Hash) (<-chan struct{}, error) {
	return s.feed.Watch(ctx, id), nil
}
