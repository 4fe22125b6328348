package staking_test

import (
	"bytes"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/contracts/native"
	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
)

// TestABI checks that the ABI compiles against the handlers and that
// docs/abi/staking.json is a copy of it.
func TestABI(t *testing.T) {
	if _, err := native.Compile(staking.New()); err != nil {
		t.Fatalf("compile: %v", err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "abi", "staking.json"))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(doc, staking.ABIJSON) {
		t.Fatalf("docs/abi/staking.json differs from contracts/staking/abi.json")
	}
}

func TestGenesis(t *testing.T) {
	e := newChain(t, setup{stakes: []stake{{"A", 3}, {"B", 1}, {"D", 2}}})
	want := vals("A", 3, "B", 1, "D", 2)
	if have := setFor(t, e, 1); !reflect.DeepEqual(have, want) {
		t.Fatalf("set of height 1: have %v, want %v", have, want)
	}
	set, err := staking.ValidatorSetAt(stateAt(t, e, 0), 1)
	if err != nil {
		t.Fatalf("ValidatorSetAt: %v", err)
	}
	if have := set.Start(); have != 1 {
		t.Fatalf("set start: have %d, want 1", have)
	}
	out := view(t, e, "validators")
	addrs, stakes := out[0].([]common.Address), out[1].([]*big.Int)
	for i, v := range want {
		if addrs[i] != v.Address || stakes[i].Cmp(ether(int64(v.Power))) != 0 {
			t.Fatalf("validators()[%d]: have %s %v, want %s %v ether", i, addrs[i], stakes[i], v.Address, v.Power)
		}
	}
	if have, want := e.Balance(staking.Address), ether(6); have.Cmp(want) != 0 {
		t.Fatalf("contract balance: have %v, want %v (the minted stakes)", have, want)
	}
	for _, tt := range []struct {
		name string
		want int64
	}{{"A", 3}, {"B", 1}, {"C", 0}, {"D", 2}} {
		if b, u := stakeOf(t, e, tt.name); b.Cmp(ether(tt.want)) != 0 || u.Sign() != 0 {
			t.Errorf("stakeOf(%s): have %v %v, want %v 0", tt.name, b, u, ether(tt.want))
		}
	}
}

func TestGenesisErrors(t *testing.T) {
	tests := []struct {
		name string
		s    setup
		want error
	}{
		{"no stakes", setup{}, nil},
		{"stake below minimum", setup{stakes: []stake{{"A", 1}}, opts: []staking.Option{staking.WithMinStake(uint256.MustFromBig(ether(2)))}}, staking.ErrGenesisStake},
		{"stake above maximum", setup{stakes: []stake{{"A", 80_000_000_000}}}, staking.ErrGenesisStake},
		{"zero epoch length", setup{opts: []staking.Option{staking.WithEpochLength(0)}}, staking.ErrParams},
		{"delay below an epoch", setup{opts: []staking.Option{staking.WithEpochLength(10), staking.WithUnbondingDelay(9)}}, staking.ErrParams},
		{"zero min stake", setup{opts: []staking.Option{staking.WithMinStake(new(uint256.Int))}}, staking.ErrParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := open(t, tt.s)
			if !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			if _, err := staking.ValidatorsAt(stateAt(t, e, 0), 1); !errors.Is(err, staking.ErrNoValidators) {
				t.Fatalf("ValidatorsAt without stakes: have %v, want %v", err, staking.ErrNoValidators)
			}
		})
	}
}

func TestViews(t *testing.T) {
	e := newChain(t, setup{stakes: []stake{{"A", 1}}})
	out := view(t, e, "params")
	if out[0].(uint64) != 100 || out[1].(uint64) != 200 || out[2].(*big.Int).Cmp(ether(1)) != 0 {
		t.Fatalf("params: have %v, want [100 200 1e18]", out)
	}
	for _, tt := range []struct{ head, number, start uint64 }{{0, 0, 0}, {99, 0, 0}, {100, 1, 100}, {250, 2, 200}} {
		mineTo(t, e, tt.head)
		out := view(t, e, "epoch")
		if out[0].(uint64) != tt.number || out[1].(uint64) != tt.start {
			t.Errorf("epoch() at %d: have %v, want [%d %d]", tt.head, out, tt.number, tt.start)
		}
	}
	custom := newChain(t, setup{stakes: []stake{{"A", 5}}, opts: []staking.Option{staking.WithEpochLength(10), staking.WithMinStake(uint256.MustFromBig(ether(5)))}})
	out = view(t, custom, "params")
	if out[0].(uint64) != 10 || out[1].(uint64) != 20 || out[2].(*big.Int).Cmp(ether(5)) != 0 {
		t.Fatalf("custom params: have %v, want [10 20 5e18]", out)
	}
}

// TestDepositEpochBoundary checks that a deposit changes the set at the
// first block of the next epoch, not before.
func TestDepositEpochBoundary(t *testing.T) {
	e := newChain(t, setup{stakes: []stake{{"A", 1}, {"B", 1}}})
	old, next := vals("A", 1, "B", 1), vals("A", 1, "B", 1, "C", 2)

	r := call(t, e, "C", "deposit", ether(2), "")
	want := []logged{
		{"Deposited", []any{addr("C"), ether(2)}},
		{"ValidatorSetChanged", []any{uint64(1), uint64(100)}},
	}
	if have := events(t, r); !reflect.DeepEqual(have, want) {
		t.Fatalf("events: have %v, want %v", have, want)
	}
	if b, u := stakeOf(t, e, "C"); b.Cmp(ether(2)) != 0 || u.Sign() != 0 {
		t.Fatalf("stakeOf(C): have %v %v, want 2 ether, 0", b, u)
	}
	// A second change in the same epoch schedules no new set.
	call(t, e, "Q", "deposit", ether(1), "only consortium members may become validators")
	r = call(t, e, "P", "deposit", ether(1), "")
	if have := events(t, r); len(have) != 1 || have[0].name != "Deposited" {
		t.Fatalf("second deposit's events: have %v, want Deposited only", have)
	}
	call(t, e, "P", "withdraw", nil, "", ether(1))
	if have := e.Balance(staking.Address); have.Cmp(ether(5)) != 0 {
		t.Fatalf("contract balance: have %v, want 5 ether", have)
	}

	mineTo(t, e, 99)
	for h := uint64(1); h <= 99; h++ {
		if have := setFor(t, e, h); !reflect.DeepEqual(have, old) {
			t.Fatalf("set of height %d: have %v, want %v", h, have, old)
		}
	}
	// The state of block 99 gives both the set of 99 (from history) and
	// the set of 100.
	st := stateAt(t, e, 99)
	for _, tt := range []struct {
		height uint64
		want   []pos.Validator
	}{{99, old}, {100, next}} {
		have, err := staking.ValidatorsAt(st, tt.height)
		if err != nil {
			t.Fatalf("ValidatorsAt(%d): %v", tt.height, err)
		}
		if !reflect.DeepEqual(have, tt.want) {
			t.Fatalf("set of %d from state 99: have %v, want %v", tt.height, have, tt.want)
		}
	}
	if addrs := view(t, e, "validators")[0].([]common.Address); len(addrs) != 2 {
		t.Fatalf("validators() at 99: have %v, want A and B", addrs)
	}
	e.Mine()
	if have := setFor(t, e, 100); !reflect.DeepEqual(have, next) {
		t.Fatalf("set of height 100: have %v, want %v", have, next)
	}
	if addrs := view(t, e, "validators")[0].([]common.Address); len(addrs) != 3 {
		t.Fatalf("validators() at 100: have %v, want A, B and C", addrs)
	}
	// A change in epoch 1 is announced for epoch 2.
	r = call(t, e, "A", "deposit", ether(1), "")
	if have := events(t, r); len(have) != 2 || !reflect.DeepEqual(have[1].args, []any{uint64(2), uint64(200)}) {
		t.Fatalf("events in epoch 1: have %v, want Deposited, ValidatorSetChanged(2, 200)", have)
	}
	mineTo(t, e, 199)
	if have, want := setFor(t, e, 199), next; !reflect.DeepEqual(have, want) {
		t.Fatalf("set of height 199: have %v, want %v", have, want)
	}
	if have, want := setFor(t, e, 200), vals("A", 2, "B", 1, "C", 2); !reflect.DeepEqual(have, want) {
		t.Fatalf("set of height 200: have %v, want %v", have, want)
	}
}

func TestDepositErrors(t *testing.T) {
	tests := []struct {
		name, from string
		value      *big.Int
		want       string
	}{
		{"zero", "C", nil, "deposit of zero"},
		{"below minimum", "C", big.NewInt(1e17), "stake below the minimum: 1000000000000000000"},
		{"top-up below minimum is fine for a validator", "A", big.NewInt(1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newChain(t, setup{stakes: []stake{{"A", 1}}})
			call(t, e, tt.from, "deposit", tt.value, tt.want)
		})
	}
}

func TestNotPayable(t *testing.T) {
	e := newChain(t, setup{stakes: []stake{{"A", 2}}})
	tests := []struct {
		method string
		args   []any
	}{
		{"withdraw", []any{ether(1)}},
		{"claim", nil},
		{"unbondFor", []any{addr("D")}},
		{"claimFor", []any{addr("A")}},
		{"slash", []any{equivocation(t, "A", 1)}},
		{"validators", nil},
		{"stakeOf", []any{addr("A")}},
		{"epoch", nil},
		{"params", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			before := e.Balance(staking.Address)
			call(t, e, "A", tt.method, big.NewInt(1), "method is not payable: "+tt.method, tt.args...)
			if have := e.Balance(staking.Address); have.Cmp(before) != 0 {
				t.Fatalf("contract balance: have %v, want %v", have, before)
			}
		})
	}
	if b, u := stakeOf(t, e, "A"); b.Cmp(ether(2)) != 0 || u.Sign() != 0 {
		t.Fatalf("stakeOf(A): have %v %v, want 2 ether, 0", b, u)
	}
}

// TestWithdrawClaim withdraws in two blocks and claims each amount exactly
// when its delay has passed.
func TestWithdrawClaim(t *testing.T) {
	e := newChain(t, setup{stakes: []stake{{"A", 1}, {"B", 3}}})
	r := call(t, e, "B", "withdraw", nil, "", ether(1)) // block 1
	want := []logged{
		{"WithdrawalStarted", []any{addr("B"), ether(1), uint64(201)}},
		{"ValidatorSetChanged", []any{uint64(1), uint64(100)}},
	}
	if have := events(t, r); !reflect.DeepEqual(have, want) {
		t.Fatalf("events: have %v, want %v", have, want)
	}
	call(t, e, "B", "withdraw", nil, "", ether(1)) // block 2, claimable at 202
	if b, u := stakeOf(t, e, "B"); b.Cmp(ether(1)) != 0 || u.Cmp(ether(2)) != 0 {
		t.Fatalf("stakeOf(B): have %v %v, want 1 ether, 2 ether", b, u)
	}
	call(t, e, "B", "claim", nil, "withdrawal not claimable yet: claimable at block 201") // block 3
	mineTo(t, e, 99)
	if have := setFor(t, e, 99); !reflect.DeepEqual(have, vals("A", 1, "B", 3)) {
		t.Fatalf("set of 99: have %v, want A 1, B 3", have)
	}
	if have := setFor(t, e, 100); !reflect.DeepEqual(have, vals("A", 1, "B", 1)) {
		t.Fatalf("set of 100: have %v, want A 1, B 1", have)
	}

	mineTo(t, e, 199)
	call(t, e, "B", "claim", nil, "withdrawal not claimable yet: claimable at block 201") // block 200
	before := e.Balance(addr("B"))
	r = call(t, e, "B", "claim", nil, "") // block 201
	if have := events(t, r); !reflect.DeepEqual(have, []logged{{"Claimed", []any{addr("B"), ether(1)}}}) {
		t.Fatalf("events: have %v, want Claimed(B, 1 ether)", have)
	}
	if have, want := e.Balance(addr("B")), new(big.Int).Sub(new(big.Int).Add(before, ether(1)), e.Fee(r)); have.Cmp(want) != 0 {
		t.Fatalf("B's balance: have %v, want %v", have, want)
	}
	if b, u := stakeOf(t, e, "B"); b.Cmp(ether(1)) != 0 || u.Cmp(ether(1)) != 0 {
		t.Fatalf("stakeOf(B) after the first claim: have %v %v, want 1 ether, 1 ether", b, u)
	}
	before = e.Balance(addr("B"))
	r = call(t, e, "B", "claim", nil, "") // block 202
	if have, want := e.Balance(addr("B")), new(big.Int).Sub(new(big.Int).Add(before, ether(1)), e.Fee(r)); have.Cmp(want) != 0 {
		t.Fatalf("B's balance: have %v, want %v", have, want)
	}
	call(t, e, "B", "claim", nil, "nothing to claim")
	if have := e.Balance(staking.Address); have.Cmp(ether(2)) != 0 {
		t.Fatalf("contract balance: have %v, want 2 ether", have)
	}
	// The queue starts again from its first slot.
	call(t, e, "B", "deposit", ether(1), "")
	call(t, e, "B", "withdraw", nil, "", ether(1))
	if _, u := stakeOf(t, e, "B"); u.Cmp(ether(1)) != 0 {
		t.Fatalf("unbonding after a new withdrawal: have %v, want 1 ether", u)
	}
}

func TestWithdrawErrors(t *testing.T) {
	tests := []struct {
		name, from string
		stakes     []stake
		amount     *big.Int
		want       string
	}{
		{"zero", "A", []stake{{"A", 2}, {"B", 1}}, new(big.Int), "withdrawal of zero"},
		{"more than bonded", "A", []stake{{"A", 2}, {"B", 1}}, ether(3), "amount exceeds the bonded stake: 2000000000000000000"},
		{"no stake", "C", []stake{{"A", 2}}, ether(1), "amount exceeds the bonded stake: 0"},
		{"above 2^256", "A", []stake{{"A", 2}}, new(big.Int).Lsh(big.NewInt(1), 255), "amount exceeds the bonded stake: 2000000000000000000"},
		{"rest below minimum", "A", []stake{{"A", 2}, {"B", 1}}, big.NewInt(15e17), "stake below the minimum: 500000000000000000 would remain, want 0 or at least 1000000000000000000"},
		{"last validator", "A", []stake{{"A", 2}}, ether(2), "cannot withdraw the last validator's whole stake"},
		{"whole stake", "A", []stake{{"A", 2}, {"B", 1}}, ether(2), ""},
		{"partial stake of the last validator", "A", []stake{{"A", 2}}, ether(1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newChain(t, setup{stakes: tt.stakes})
			call(t, e, tt.from, "withdraw", nil, tt.want, tt.amount)
		})
	}
}

func TestTooManyWithdrawals(t *testing.T) {
	e := newChain(t, setup{stakes: []stake{{"A", 20}, {"B", 1}}})
	for i := 0; i < staking.MaxPendingWithdrawals; i++ {
		call(t, e, "A", "withdraw", nil, "", ether(1))
	}
	call(t, e, "A", "withdraw", nil, "more than 16 pending withdrawals", ether(1))
	// Two withdrawals in one block share an entry.
	e2 := newChain(t, setup{stakes: []stake{{"A", 20}, {"B", 1}}})
	data := chaintest.Pack(t, stakingABI, "withdraw", ether(1))
	_, receipts := e2.Mine(e2.SignTx("A", staking.Address, nil, data, 200_000), e2.SignTx("A", staking.Address, nil, data, 200_000))
	for i, r := range receipts {
		if r.Status != 1 {
			t.Fatalf("withdrawal %d failed", i)
		}
	}
	for i := 0; i < staking.MaxPendingWithdrawals-1; i++ {
		call(t, e2, "A", "withdraw", nil, "", ether(1))
	}
	if _, u := stakeOf(t, e2, "A"); u.Cmp(ether(int64(staking.MaxPendingWithdrawals+1))) != 0 {
		t.Fatalf("unbonding: have %v, want %d ether", u, staking.MaxPendingWithdrawals+1)
	}
	mineTo(t, e2, 300)
	call(t, e2, "A", "claim", nil, "")
	if b, u := stakeOf(t, e2, "A"); b.Cmp(ether(3)) != 0 || u.Sign() != 0 {
		t.Fatalf("after claim: have %v %v, want 3 ether, 0", b, u)
	}
}
