package pos

import (
	"crypto/ecdsa"
	"fmt"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// TestProposerRoundsRepeat checks Proposer against a plain replay of the
// rotation from genesis for every round up to three periods: reducing the
// round modulo TotalPower must not change any proposer.
func TestProposerRoundsRepeat(t *testing.T) {
	tests := [][]uint64{{1}, {1, 1, 1, 1}, {1, 2, 3}, {5, 3}, {7, 1, 1, 2, 9}}
	for _, powers := range tests {
		t.Run(fmt.Sprint(powers), func(t *testing.T) {
			vals := make([]Validator, len(powers))
			for i, p := range powers {
				vals[i] = Validator{Address: common.Address{byte(i + 1)}, Power: p}
			}
			s, err := NewValidatorSet(3, vals)
			if err != nil {
				t.Fatal(err)
			}
			for height := uint64(3); height < 3+2*s.TotalPower(); height++ {
				for round := uint32(0); round < uint32(3*s.TotalPower()); round++ {
					p := make([]int64, len(powers))
					for range height - 3 + uint64(round) {
						s.rotate(p)
					}
					want := s.vals[s.pick(p)].Address
					if have := s.Proposer(height, round); have != want {
						t.Fatalf("height %d round %d: have %v, want %v", height, round, have, want)
					}
				}
			}
		})
	}
}

// TestVerifyHeaderHugeRound verifies a header sealed by the proposer of
// the highest round: finding that proposer must not replay the rotation
// round by round. Before rounds were reduced modulo the total power, each
// lookup took seconds (for four validators) with the set locked.
func TestVerifyHeaderHugeRound(t *testing.T) {
	c := newFuzzChain(t)
	var proposer common.Address
	within(t, "Proposer", func() { proposer = c.vals.Proposer(2, MaxRound) })
	var key *ecdsa.PrivateKey
	for _, k := range c.keys {
		if addrOf(k) == proposer {
			key = k
		}
	}
	e := New(testChainID, mustSchedule(t, c.vals), key, WithClock(func() time.Time { return testNow }))
	b := buildBlock(t, e, c.b1, MaxRound, commitOf(t, c.keys[:3], 1, 0, c.b1.Hash()), 0)
	var err error
	within(t, "VerifyHeader", func() { err = c.verify.VerifyHeader(nil, b.Header(), c.b1.Header()) })
	if err != nil {
		t.Fatalf("have %v, want nil", err)
	}
}
