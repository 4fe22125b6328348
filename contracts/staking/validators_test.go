package staking_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
)

// short is a setup with 10-block epochs (unbonding 20 blocks, evidence of
// the current and the previous epoch, three sets kept).
func short(stakes ...stake) setup {
	return setup{stakes: stakes, opts: []staking.Option{staking.WithEpochLength(10)}}
}

// step is a transaction mined alone in block n.
type step struct {
	n            uint64
	from, method string
	ether        int64 // value of a deposit, amount of a withdrawal
	evidence     []byte
}

// play mines steps in order, with empty blocks between them, up to block end.
func play(t *testing.T, e *chaintest.Env, steps []step, end uint64) {
	t.Helper()
	for _, s := range steps {
		mineTo(t, e, s.n-1)
		switch s.method {
		case "deposit":
			call(t, e, s.from, s.method, ether(s.ether), "")
		case "withdraw":
			call(t, e, s.from, s.method, nil, "", ether(s.ether))
		case "slash":
			call(t, e, s.from, s.method, nil, "", s.evidence)
		default:
			call(t, e, s.from, s.method, nil, "")
		}
	}
	mineTo(t, e, end)
}

// TestValidatorsAtDeterminism runs deposits, withdrawals, claims and a
// slashing over seven epochs on one chain, imports its blocks into a
// second, and checks that both derive the same set for every height from
// the parent's state, that sets change only at epoch starts, and that the
// head's state gives the same sets for the heights it keeps.
func TestValidatorsAtDeterminism(t *testing.T) {
	s := short(stake{"A", 1}, stake{"B", 1}, stake{"C", 1}, stake{"D", 2})
	steps := []step{
		{n: 3, from: "P", method: "deposit", ether: 2},
		{n: 9, from: "P", method: "deposit", ether: 1},
		{n: 12, from: "B", method: "withdraw", ether: 1},
		{n: 15, from: "A", method: "slash", evidence: equivocation(t, "D", 11)},
		{n: 20, from: "C", method: "deposit", ether: 4},
		{n: 31, from: "A", method: "deposit", ether: 1},
		{n: 33, from: "B", method: "claim"},
		{n: 34, from: "P", method: "withdraw", ether: 3},
		{n: 41, from: "C", method: "withdraw", ether: 2},
		{n: 59, from: "B", method: "deposit", ether: 2},
	}
	const head = 70
	e1 := newChain(t, s)
	play(t, e1, steps, head)
	e2 := newChain(t, s)
	for n := uint64(1); n <= head; n++ {
		if err := e2.Chain.InsertBlock(e1.Chain.GetBlockByNumber(n)); err != nil {
			t.Fatalf("import block %d: %v", n, err)
		}
	}
	want := map[uint64][]pos.Validator{ // by epoch
		0: vals("A", 1, "B", 1, "C", 1, "D", 2),
		1: vals("A", 1, "B", 1, "C", 1, "D", 2, "P", 3),
		2: vals("A", 1, "C", 1, "P", 3),
		3: vals("A", 1, "C", 5, "P", 3),
		4: vals("A", 2, "C", 5),
		5: vals("A", 2, "C", 3),
		6: vals("A", 2, "C", 3, "B", 2),
		7: vals("A", 2, "C", 3, "B", 2),
	}
	headState := stateAt(t, e1, head)
	p, err := staking.ParamsOf(headState)
	if err != nil {
		t.Fatalf("params: %v", err)
	}
	var prev *pos.ValidatorSet
	for h := uint64(1); h <= head+1; h++ {
		s1, err := staking.ValidatorSetAt(stateAt(t, e1, h-1), h)
		if err != nil {
			t.Fatalf("chain 1, height %d: %v", h, err)
		}
		s2, err := staking.ValidatorSetAt(stateAt(t, e2, h-1), h)
		if err != nil {
			t.Fatalf("chain 2, height %d: %v", h, err)
		}
		if !reflect.DeepEqual(s1.Validators(), s2.Validators()) || s1.Start() != s2.Start() {
			t.Fatalf("height %d: chain 1 %v from %d, chain 2 %v from %d", h, s1.Validators(), s1.Start(), s2.Validators(), s2.Start())
		}
		if w := want[h/10]; !reflect.DeepEqual(s1.Validators(), w) {
			t.Fatalf("height %d: have %v, want %v", h, s1.Validators(), w)
		}
		if h%10 != 0 && prev != nil && s1.Start() != prev.Start() {
			t.Fatalf("height %d: set starts at %d, the previous height's at %d", h, s1.Start(), prev.Start())
		}
		prev = s1
		late, err := staking.ValidatorsAt(headState, h)
		switch {
		case err == nil && !reflect.DeepEqual(late, s1.Validators()):
			t.Fatalf("height %d from the head's state: have %v, want %v", h, late, s1.Validators())
		case errors.Is(err, staking.ErrHistory) && h/10+p.EvidenceEpochs() >= head/10:
			t.Fatalf("height %d from the head's state: %v, but its evidence is still admitted", h, err)
		case err != nil && !errors.Is(err, staking.ErrHistory):
			t.Fatalf("height %d from the head's state: %v", h, err)
		}
	}
	if _, err := staking.ValidatorsAt(headState, 5); !errors.Is(err, staking.ErrHistory) {
		t.Fatalf("height 5 from the head's state: have %v, want %v", err, staking.ErrHistory)
	}
}

func TestValidatorsAtNotSeeded(t *testing.T) {
	e := chaintest.New(t, chaintest.Config{Members: []string{"A"}, Contracts: []string{"membership"}})
	st, err := e.Chain.State()
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	if _, err := staking.ValidatorsAt(st, 1); !errors.Is(err, staking.ErrNotSeeded) {
		t.Fatalf("have %v, want %v", err, staking.ErrNotSeeded)
	}
}

// TestPowerScaling checks that powers are the stakes over their gcd.
func TestPowerScaling(t *testing.T) {
	tests := []struct {
		name   string
		stakes []stake
		want   []pos.Validator
	}{
		{"equal", []stake{{"A", 5}, {"B", 5}}, vals("A", 1, "B", 1)},
		{"gcd 2 ether", []stake{{"A", 4}, {"B", 6}, {"C", 2}}, vals("A", 2, "B", 3, "C", 1)},
		{"coprime", []stake{{"A", 7}, {"B", 3}}, vals("A", 7, "B", 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newChain(t, setup{stakes: tt.stakes})
			if have := setFor(t, e, 1); !reflect.DeepEqual(have, tt.want) {
				t.Fatalf("have %v, want %v", have, tt.want)
			}
		})
	}
}
