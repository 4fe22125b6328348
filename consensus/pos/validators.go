package pos

import (
	"bytes"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"sync"

	"github.com/ethereum/go-ethereum/common"
)

// MaxTotalPower bounds the sum of voting powers so that quorum arithmetic
// (3*power) and proposer priorities fit in 64 bits.
const MaxTotalPower = 1 << 60

// MaxValidators bounds a validator set, so that a commit (one signature
// per validator) fits a header's Extra (MaxExtraSize) and verifying one
// costs a bounded number of signature recoveries. The staking contract
// caps its set at the same number.
const MaxValidators = 128

// checkpointEvery is how many proposer-rotation steps lie between two saved
// priority vectors; a lookup behind the cache replays at most this many.
const checkpointEvery = 1024

// Validator is a member with voting power (its stake, scaled).
type Validator struct {
	Address common.Address
	Power   uint64
}

// ValidatorSource gives the validator set that decides a block. The set of
// block number h on top of parent p is fixed by p's branch (genesis seeds
// it; a staking contract may change it, read from p's state), so every node
// that holds p computes it before voting on h, and a block on a losing
// branch can never change the set another branch sees. Implementations
// should return the same *ValidatorSet for every block of a run of heights
// with an unchanged set: the set caches proposer priorities.
type ValidatorSource interface {
	ValidatorSet(number uint64, parent common.Hash) (*ValidatorSet, error)
}

// ValidatorSet is an immutable set of validators in force from a start
// height. It is safe for concurrent use.
type ValidatorSet struct {
	start uint64
	vals  []Validator // sorted by address
	index map[common.Address]int
	total uint64

	mu    sync.Mutex
	cache proposerCache
}

// proposerCache holds the proposer priorities after k rotation steps and a
// checkpoint every checkpointEvery steps.
type proposerCache struct {
	k           uint64
	prio        []int64
	checkpoints [][]int64
}

// NewValidatorSet returns the set of vals in force from height start (1 for
// the genesis set). Powers must be positive, addresses distinct and the total
// at most MaxTotalPower.
func NewValidatorSet(start uint64, vals []Validator) (*ValidatorSet, error) {
	if len(vals) == 0 {
		return nil, errEmptySet
	}
	if len(vals) > MaxValidators {
		return nil, fmt.Errorf("%w: %d validators", errTooManyValidators, len(vals))
	}
	s := &ValidatorSet{
		start: start,
		vals:  slices.Clone(vals),
		index: make(map[common.Address]int, len(vals)),
	}
	sort.Slice(s.vals, func(i, j int) bool {
		return bytes.Compare(s.vals[i].Address[:], s.vals[j].Address[:]) < 0
	})
	for i, v := range s.vals {
		if v.Power == 0 {
			return nil, fmt.Errorf("%w: %v", errZeroPower, v.Address)
		}
		if _, dup := s.index[v.Address]; dup {
			return nil, fmt.Errorf("%w: %v", errDuplicateValidator, v.Address)
		}
		if v.Power > MaxTotalPower-s.total {
			return nil, errPowerOverflow
		}
		s.index[v.Address] = i
		s.total += v.Power
	}
	zero := make([]int64, len(s.vals))
	s.cache = proposerCache{prio: slices.Clone(zero), checkpoints: [][]int64{zero}}
	return s, nil
}

// ScalePowers turns stakes (in wei, say) into voting powers that fit
// MaxTotalPower: it divides every stake by their greatest common divisor and,
// if the total is still too large, by the smallest factor that makes it fit
// (rounding down). It fails if a stake is not positive or rounds to zero.
func ScalePowers(stakes []*big.Int) ([]uint64, error) {
	if len(stakes) == 0 {
		return nil, errEmptySet
	}
	gcd := new(big.Int)
	total := new(big.Int)
	for _, s := range stakes {
		if s == nil || s.Sign() <= 0 {
			return nil, errZeroPower
		}
		gcd.GCD(nil, nil, gcd, s)
		total.Add(total, s)
	}
	div := new(big.Int).Set(gcd)
	maxTotal := big.NewInt(MaxTotalPower)
	if scaled := new(big.Int).Div(total, gcd); scaled.Cmp(maxTotal) > 0 {
		// ceil(total / MaxTotalPower) keeps the rounded-down total in range.
		div.Add(total, maxTotal).Sub(div, common.Big1).Div(div, maxTotal)
	}
	out := make([]uint64, len(stakes))
	for i, s := range stakes {
		p := new(big.Int).Div(s, div)
		if p.Sign() == 0 {
			return nil, fmt.Errorf("%w: stake %v rounds to zero", errZeroPower, s)
		}
		out[i] = p.Uint64()
	}
	return out, nil
}

// Start returns the first height the set is in force.
func (s *ValidatorSet) Start() uint64 { return s.start }

// Len returns the number of validators.
func (s *ValidatorSet) Len() int { return len(s.vals) }

// TotalPower returns the sum of all voting powers.
func (s *ValidatorSet) TotalPower() uint64 { return s.total }

// Validators returns a copy of the validators, sorted by address.
func (s *ValidatorSet) Validators() []Validator { return slices.Clone(s.vals) }

// Power returns the voting power of addr and whether it is a validator.
func (s *ValidatorSet) Power(addr common.Address) (uint64, bool) {
	i, ok := s.index[addr]
	if !ok {
		return 0, false
	}
	return s.vals[i].Power, true
}

// SameValidators reports whether s and o hold the same validators with the
// same powers, whatever their start heights.
func (s *ValidatorSet) SameValidators(o *ValidatorSet) bool {
	if s == o {
		return true
	}
	return s != nil && o != nil && slices.Equal(s.vals, o.vals)
}

// Has reports whether addr is a validator.
func (s *ValidatorSet) Has(addr common.Address) bool {
	_, ok := s.index[addr]
	return ok
}

// HasQuorum reports whether power is more than 2/3 of the total ("2f+1").
func (s *ValidatorSet) HasQuorum(power uint64) bool { return 3*power > 2*s.total }

// HasOneThird reports whether power is more than 1/3 of the total ("f+1"):
// at least one correct validator is among its holders.
func (s *ValidatorSet) HasOneThird(power uint64) bool { return 3*power > s.total }

// Proposer returns the proposer of round at height. Round 0 follows the
// stake-weighted rotation with integer priorities (the CometBFT / smooth
// weighted round-robin rule): starting from all-zero priorities at the
// set's start height, one rotation step adds each validator's power to its
// priority, picks the highest priority (ties to the lower address) and
// subtracts the total power from the pick; height h takes step h - start,
// so over any window of TotalPower consecutive heights every validator
// proposes round 0 exactly Power times. A later round r passes the turn on
// in address order: the validator r places after round 0's proposer. Any
// Len() consecutive rounds thus give every validator a turn (what liveness
// needs), and the cost of a lookup does not depend on the round, which a
// header or message from outside chooses. It returns the zero address for
// a height before the set's start.
func (s *ValidatorSet) Proposer(height uint64, round uint32) common.Address {
	if height < s.start {
		return common.Address{}
	}
	s.mu.Lock()
	s.seek(height - s.start)
	first := s.pick(s.cache.prio)
	s.mu.Unlock()
	return s.vals[(uint64(first)+uint64(round))%uint64(len(s.vals))].Address
}

// seek moves the cache to exactly k steps, from the nearest checkpoint at or
// below k when k is behind the cache.
func (s *ValidatorSet) seek(k uint64) {
	c := &s.cache
	if k < c.k {
		i := min(k/checkpointEvery, uint64(len(c.checkpoints)-1))
		c.k = i * checkpointEvery
		c.prio = slices.Clone(c.checkpoints[i])
	}
	for c.k < k {
		s.rotate(c.prio)
		c.k++
		if c.k%checkpointEvery == 0 && c.k/checkpointEvery == uint64(len(c.checkpoints)) {
			c.checkpoints = append(c.checkpoints, slices.Clone(c.prio))
		}
	}
}

// pick returns the index with the highest priority after the next increment;
// ties go to the lower index, i.e. the lower address.
func (s *ValidatorSet) pick(p []int64) int {
	best := 0
	for i := 1; i < len(p); i++ {
		if p[i]+int64(s.vals[i].Power) > p[best]+int64(s.vals[best].Power) {
			best = i
		}
	}
	return best
}

// rotate applies one rotation step to p in place.
func (s *ValidatorSet) rotate(p []int64) {
	i := s.pick(p)
	for j := range p {
		p[j] += int64(s.vals[j].Power)
	}
	p[i] -= int64(s.total)
}

// Schedule is a ValidatorSource for sets that change at fixed heights: each
// set is in force from its start height until the next set's.
type Schedule struct {
	sets []*ValidatorSet // ascending start
}

// NewSchedule returns a schedule of sets with distinct start heights. The
// earliest start must be at most 1 so that every block height has a set.
func NewSchedule(sets ...*ValidatorSet) (*Schedule, error) {
	if len(sets) == 0 {
		return nil, errEmptySet
	}
	s := &Schedule{sets: slices.Clone(sets)}
	sort.Slice(s.sets, func(i, j int) bool { return s.sets[i].start < s.sets[j].start })
	for i := 1; i < len(s.sets); i++ {
		if s.sets[i].start == s.sets[i-1].start {
			return nil, fmt.Errorf("pos: two validator sets start at height %d", s.sets[i].start)
		}
	}
	if s.sets[0].start > 1 {
		return nil, fmt.Errorf("pos: first validator set starts at %d, want at most 1", s.sets[0].start)
	}
	return s, nil
}

// ValidatorSet returns the set in force at height number; the schedule
// does not depend on the branch, so parent is not used.
func (s *Schedule) ValidatorSet(number uint64, _ common.Hash) (*ValidatorSet, error) {
	return s.At(number)
}

// At returns the set in force at height.
func (s *Schedule) At(height uint64) (*ValidatorSet, error) {
	i := sort.Search(len(s.sets), func(i int) bool { return s.sets[i].start > height })
	if i == 0 {
		return nil, fmt.Errorf("%w %d", errNoValidatorSet, height)
	}
	return s.sets[i-1], nil
}
