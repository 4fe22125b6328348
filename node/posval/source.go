package posval

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/node/chain"
)

var errNoChain = errors.New("validator source: chain not opened yet")

// Cache sizes of StakingSource.
const (
	// setsByParent holds the sets of the children of recent blocks.
	setsByParent = 1024
	// sharedSets holds distinct sets by content.
	sharedSets = 64
)

// StakingSource gives the proof-of-stake engine the validator set that
// decides a block, read from the staking contract's storage in the state of
// the block's parent: the parent named by hash, stored on any branch, never
// "the canonical block at that height". Every node holding the parent thus
// derives the same set, and a block on a branch that loses (or a proposal
// never decided) cannot change the set another branch sees. Results are
// cached by parent hash; sets with the same content and start share one
// *pos.ValidatorSet, so the proposer rotation is computed once per run of
// unchanged epochs.
type StakingSource struct {
	genesis *pos.ValidatorSet // decides block 1

	mu       sync.Mutex
	chain    *chain.Chain
	byParent *lru.Cache[common.Hash, *pos.ValidatorSet] // parent hash -> set deciding its child
	shared   *lru.Cache[common.Hash, *pos.ValidatorSet] // content key -> set
}

// NewStakingSource returns a source that gives genesis for block 1 and reads
// later sets from the chain it is bound to (Bind).
func NewStakingSource(genesis *pos.ValidatorSet) *StakingSource {
	return &StakingSource{
		genesis:  genesis,
		byParent: lru.NewCache[common.Hash, *pos.ValidatorSet](setsByParent),
		shared:   lru.NewCache[common.Hash, *pos.ValidatorSet](sharedSets),
	}
}

// Bind makes s read sets from c; the chain is opened after its engine.
func (s *StakingSource) Bind(c *chain.Chain) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chain = c
}

// ValidatorSet implements pos.ValidatorSource: the set deciding block
// number on top of the stored block parent.
func (s *StakingSource) ValidatorSet(number uint64, parent common.Hash) (*pos.ValidatorSet, error) {
	if number <= 1 {
		return s.genesis, nil
	}
	if set, ok := s.byParent.Get(parent); ok {
		return set, nil
	}
	s.mu.Lock()
	c := s.chain
	s.mu.Unlock()
	if c == nil {
		return nil, errNoChain
	}
	header := c.GetHeader(parent, number-1)
	if header == nil {
		return nil, fmt.Errorf("validator source: parent %x of block %d is not stored", parent, number)
	}
	st, err := c.StateOf(header)
	if err != nil {
		return nil, err
	}
	set, err := staking.ValidatorSetAt(st, number)
	if err == nil {
		// A node of the state dropped while it was read (a state being
		// released) reads as empty: never cache what it gave.
		err = st.Error()
	}
	if err != nil {
		return nil, err
	}
	key := setKey(set)
	if shared, ok := s.shared.Get(key); ok {
		set = shared
	} else {
		s.shared.Add(key, set)
	}
	s.byParent.Add(parent, set)
	return set, nil
}

// setKey identifies a set by its start and its validators with their powers:
// two sets with equal keys choose the same proposers.
func setKey(set *pos.ValidatorSet) common.Hash {
	vals := set.Validators()
	enc, err := rlp.EncodeToBytes([]any{set.Start(), slices.Clip(vals)})
	if err != nil {
		panic(fmt.Sprintf("validator source: encode set: %v", err)) // addresses and integers only
	}
	return crypto.Keccak256Hash(enc)
}
