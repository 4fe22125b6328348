package pos

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func namedKeys(t *testing.T, n int) []*ecdsa.PrivateKey {
	keys := make([]*ecdsa.PrivateKey, n)
	for i := range keys {
		keys[i] = testKey(t, fmt.Sprintf("val-%d", i))
	}
	return keys
}

func TestNewValidatorSetRejects(t *testing.T) {
	a, b := common.Address{1}, common.Address{2}
	tests := []struct {
		name string
		vals []Validator
		want error
	}{
		{"empty", nil, errEmptySet},
		{"zero power", []Validator{{a, 1}, {b, 0}}, errZeroPower},
		{"duplicate", []Validator{{a, 1}, {a, 2}}, errDuplicateValidator},
		{"overflow", []Validator{{a, MaxTotalPower}, {b, 1}}, errPowerOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewValidatorSet(1, tt.vals); !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
		})
	}
}

func TestProposerRotationIsProportional(t *testing.T) {
	tests := []struct {
		name   string
		powers []uint64
	}{
		{"equal", []uint64{1, 1, 1, 1}},
		{"1 2 3 4", []uint64{1, 2, 3, 4}},
		{"one whale", []uint64{10, 1, 1}},
		{"uneven", []uint64{7, 3, 3, 1, 2}},
		{"large powers", []uint64{1_000_003, 999_983, 17}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := namedKeys(t, len(tt.powers))
			s := mustSet(t, 1, keys, tt.powers)
			total := s.TotalPower()
			const periods = 3
			heights := total * periods
			if heights > 200_000 {
				heights = 200_000
			}
			count := make(map[common.Address]uint64)
			for h := uint64(1); h <= heights; h++ {
				count[s.Proposer(h, 0)]++
			}
			for i, k := range keys {
				have := count[addrOf(k)]
				// Exact over whole periods; within one proposal per
				// validator otherwise.
				want := float64(tt.powers[i]) * float64(heights) / float64(total)
				if heights%total == 0 && float64(have) != want {
					t.Fatalf("validator %d (power %d): %d proposals in %d heights, want %v", i, tt.powers[i], have, heights, want)
				}
				if d := float64(have) - want; d > 1 || d < -1 {
					t.Fatalf("validator %d (power %d): %d proposals in %d heights, want about %.1f", i, tt.powers[i], have, heights, want)
				}
			}
		})
	}
}

func TestProposerTiesGoToLowerAddress(t *testing.T) {
	keys := namedKeys(t, 4)
	s := mustSet(t, 1, keys, nil)
	lowest := s.Validators()[0].Address
	for _, v := range s.Validators() {
		if bytes.Compare(v.Address[:], lowest[:]) < 0 {
			t.Fatal("Validators not sorted")
		}
	}
	if p := s.Proposer(1, 0); p != lowest {
		t.Fatalf("first proposer: have %v, want lowest address %v", p, lowest)
	}
	// Equal powers rotate in address order.
	for i, v := range s.Validators() {
		if p := s.Proposer(1+uint64(i), 0); p != v.Address {
			t.Fatalf("height %d: have %v, want %v", 1+i, p, v.Address)
		}
	}
}

func TestProposerRoundsAndCache(t *testing.T) {
	keys := namedKeys(t, 5)
	powers := []uint64{5, 1, 2, 9, 3}
	ref := mustSet(t, 1, keys, powers)
	const n = 3000 // crosses checkpoints
	seq := make([]common.Address, n+1)
	for h := uint64(1); h <= n; h++ {
		seq[h] = ref.Proposer(h, 0)
	}
	// Round r at height h is the validator r places after round 0's
	// proposer in address order, whatever r is.
	vals := ref.Validators()
	index := func(a common.Address) int {
		for i, v := range vals {
			if v.Address == a {
				return i
			}
		}
		t.Fatalf("%v is not a validator", a)
		return -1
	}
	for _, c := range []struct{ h, r uint64 }{{1, 1}, {7, 5}, {1000, 30}, {2500, 400}, {3, MaxRound}, {4, 1<<32 - 1}} {
		want := vals[(uint64(index(seq[c.h]))+c.r)%uint64(len(vals))].Address
		if have := ref.Proposer(c.h, uint32(c.r)); have != want {
			t.Fatalf("Proposer(%d, %d): have %v, want %v", c.h, c.r, have, want)
		}
	}
	// Any Len() consecutive rounds give every validator a turn.
	turns := make(map[common.Address]bool)
	for r := uint32(17); r < 17+uint32(len(vals)); r++ {
		turns[ref.Proposer(42, r)] = true
	}
	if len(turns) != len(vals) {
		t.Fatalf("%d consecutive rounds gave %d proposers, want %d", len(vals), len(turns), len(vals))
	}
	// Any access order gives the same answers as a forward walk.
	s := mustSet(t, 1, keys, powers)
	for _, h := range []uint64{n, 1, 2047, 2048, 1025, 3, n - 1, 1024, 2049, 500} {
		if have := s.Proposer(h, 0); have != seq[h] {
			t.Fatalf("Proposer(%d, 0) out of order: have %v, want %v", h, have, seq[h])
		}
	}
	if p := s.Proposer(0, 0); p != (common.Address{}) {
		t.Fatalf("Proposer before start: have %v", p)
	}
}

func TestScheduleChangesSetAtHeight(t *testing.T) {
	keys := namedKeys(t, 6)
	first := mustSet(t, 1, keys[:4], nil)
	second := mustSet(t, 10, keys[2:], []uint64{1, 1, 1, 5})
	s := mustSchedule(t, second, first)
	for _, c := range []struct {
		h    uint64
		want *ValidatorSet
	}{{1, first}, {9, first}, {10, second}, {1000, second}} {
		got, err := s.At(c.h)
		if err != nil || got != c.want {
			t.Fatalf("ValidatorSet(%d): have start %d, %v", c.h, got.Start(), err)
		}
	}
	if _, err := s.At(0); !errors.Is(err, errNoValidatorSet) {
		t.Fatalf("height 0: have %v", err)
	}
	// The new set's rotation starts fresh at its start height.
	fresh := mustSet(t, 1, keys[2:], []uint64{1, 1, 1, 5})
	for h := uint64(0); h < 20; h++ {
		if a, b := second.Proposer(10+h, 0), fresh.Proposer(1+h, 0); a != b {
			t.Fatalf("height %d: have %v, want %v", 10+h, a, b)
		}
	}
	if _, err := NewSchedule(mustSet(t, 5, keys[:1], nil)); err == nil {
		t.Fatal("schedule without a set for height 1 accepted")
	}
}

// TestSameValidators: certifiers are the same when the validators and
// their powers are, whatever the start height.
func TestSameValidators(t *testing.T) {
	keys := namedKeys(t, 5)
	base := mustSet(t, 1, keys[:4], []uint64{1, 2, 3, 4})
	for _, c := range []struct {
		name string
		o    *ValidatorSet
		want bool
	}{
		{"itself", base, true},
		{"another start", mustSet(t, 100, keys[:4], []uint64{1, 2, 3, 4}), true},
		{"another power", mustSet(t, 1, keys[:4], []uint64{1, 2, 3, 5}), false},
		{"another validator", mustSet(t, 1, keys[1:], []uint64{1, 2, 3, 4}), false},
		{"one fewer", mustSet(t, 1, keys[:3], []uint64{1, 2, 3}), false},
		{"nil", nil, false},
	} {
		if have := base.SameValidators(c.o); have != c.want {
			t.Errorf("%s: have %v, want %v", c.name, have, c.want)
		}
	}
}

func TestQuorumThresholds(t *testing.T) {
	s := mustSet(t, 1, namedKeys(t, 4), []uint64{1, 1, 1, 1})
	for _, c := range []struct {
		power           uint64
		quorum, oneThrd bool
	}{{1, false, false}, {2, false, true}, {3, true, true}, {4, true, true}} {
		if s.HasQuorum(c.power) != c.quorum || s.HasOneThird(c.power) != c.oneThrd {
			t.Fatalf("power %d of 4: quorum %v one-third %v", c.power, s.HasQuorum(c.power), s.HasOneThird(c.power))
		}
	}
}

func TestScalePowers(t *testing.T) {
	ether := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	mul := func(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), ether) }
	huge := new(big.Int).Lsh(big.NewInt(1), 200)
	tests := []struct {
		name   string
		stakes []*big.Int
		want   []uint64
		err    bool
	}{
		{"divided by gcd", []*big.Int{mul(100), mul(200), mul(300)}, []uint64{1, 2, 3}, false},
		{"coprime small", []*big.Int{big.NewInt(3), big.NewInt(5)}, []uint64{3, 5}, false},
		{"zero stake", []*big.Int{big.NewInt(3), big.NewInt(0)}, nil, true},
		{"rounds to zero", []*big.Int{huge, big.NewInt(1)}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ScalePowers(tt.stakes)
			if (err != nil) != tt.err {
				t.Fatalf("error: have %v, want error %v", err, tt.err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) && !tt.err {
				t.Fatalf("have %v, want %v", got, tt.want)
			}
		})
	}
	got, err := ScalePowers([]*big.Int{huge, new(big.Int).Add(huge, big.NewInt(12345))})
	if err != nil {
		t.Fatal(err)
	}
	if got[0]+got[1] > MaxTotalPower || got[0] == 0 {
		t.Fatalf("scaled huge stakes: %v", got)
	}
}
