package node

import (
	"errors"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common/lru"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/node/chain"
)

var errNoChain = errors.New("validator source: chain not opened yet")

// stakingSource gives the proof-of-stake engine the validator set for a
// height from the staking contract's storage. The set for height h is read
// from the state of block h-1 (its parent), or from the head when h-1 is not
// stored yet but the head is already in h's epoch; every node therefore
// derives it from the same committed state. Sets are cached per epoch.
type stakingSource struct {
	genesis *pos.ValidatorSet // height 1 and any height before the chain opens

	mu    sync.Mutex
	chain *chain.Chain
	cache *lru.Cache[uint64, *pos.ValidatorSet] // by epoch number
}

func newStakingSource(genesis *pos.ValidatorSet) *stakingSource {
	return &stakingSource{genesis: genesis, cache: lru.NewCache[uint64, *pos.ValidatorSet](64)}
}

func (s *stakingSource) bind(c *chain.Chain) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chain = c
}

// ValidatorSet implements pos.ValidatorSource.
func (s *stakingSource) ValidatorSet(height uint64) (*pos.ValidatorSet, error) {
	s.mu.Lock()
	c := s.chain
	s.mu.Unlock()
	if height <= 1 {
		return s.genesis, nil
	}
	if c == nil {
		return nil, errNoChain
	}
	head := c.CurrentHeader()
	at := height - 1
	if at > head.Number.Uint64() {
		at = head.Number.Uint64()
	}
	header := c.GetHeaderByNumber(at)
	if header == nil {
		return nil, fmt.Errorf("validator source: no block %d", at)
	}
	st, err := c.StateAt(header.Root)
	if err != nil {
		return nil, err
	}
	epoch, start, err := staking.EpochAt(st, height)
	if err != nil {
		return nil, err
	}
	if at+1 < start {
		// The state we hold is older than the epoch's first parent: the set
		// for that epoch is not determined yet.
		return nil, fmt.Errorf("validator source: height %d is in epoch %d, state only at %d", height, epoch, at)
	}
	if set, ok := s.cache.Get(epoch); ok {
		return set, nil
	}
	set, err := staking.ValidatorSetAt(st, height)
	if err != nil {
		return nil, err
	}
	s.cache.Add(epoch, set)
	return set, nil
}
