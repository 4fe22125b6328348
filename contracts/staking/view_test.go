package staking_test

import (
	"math/big"
	"testing"

	"github.com/arbiter-chain/arbiter/contracts/staking"
)

// TestBonded checks the bonded stakes Bonded lists after deposits and a
// full withdrawal: every account with a stake, ordered by address, pending
// changes included.
func TestBonded(t *testing.T) {
	e := newChain(t, short(stake{"A", 1}, stake{"B", 2}, stake{"C", 1}))
	call(t, e, "P", "deposit", ether(3), "")
	call(t, e, "A", "deposit", ether(1), "")
	call(t, e, "C", "withdraw", nil, "", ether(1))
	got := staking.Bonded(stateAt(t, e, e.Number()))
	want := map[string]int64{"A": 2, "B": 2, "P": 3}
	if len(got) != len(want) {
		t.Fatalf("have %d bonded accounts %v, want %d", len(got), got, len(want))
	}
	for i, s := range got {
		if i > 0 && string(got[i-1].Account[:]) >= string(s.Account[:]) {
			t.Errorf("accounts not ordered by address: %s before %s", got[i-1].Account, s.Account)
		}
		found := false
		for name, eth := range want {
			if addr(name) == s.Account {
				found = true
				if s.Bonded.Cmp(new(big.Int).Set(ether(eth))) != 0 {
					t.Errorf("%s bonded: have %v, want %v", name, s.Bonded, ether(eth))
				}
			}
		}
		if !found {
			t.Errorf("unexpected bonded account %s", s.Account)
		}
	}
}
