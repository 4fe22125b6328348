package staking_test

import (
	"errors"
	"math/big"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
)

// vote sends propose(candidate, add) from each voter, each in a block of
// its own, and checks that the last vote executed it.
func vote(t *testing.T, e *chaintest.Env, candidate string, add bool, voters ...string) {
	t.Helper()
	for _, v := range voters {
		r := e.Exec(v, membership.Address, nil, chaintest.Pack(t, chaintest.MembershipABI, "propose", addr(candidate), add))
		if r.Reason != "" {
			t.Fatalf("propose(%s, %v) by %s at block %d: %s", candidate, add, v, r.Receipt.BlockNumber, r.Reason)
		}
	}
	st, err := e.Chain.State()
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	if have := membership.IsMember(st, addr(candidate)); have != add {
		t.Fatalf("%s member after the votes: have %v, want %v", candidate, have, add)
	}
}

// TestRemovedValidatorLeavesSet removes validator D by membership vote in
// epoch 1: D keeps its power to the end of epoch 1 and loses it from
// epoch 2, read from any state. A member then unbonds D's stake, and after
// the unbonding delay a non-member pays it to D, which sends nothing.
func TestRemovedValidatorLeavesSet(t *testing.T) {
	e := newChain(t, short(stake{"A", 1}, stake{"B", 1}, stake{"C", 1}, stake{"D", 2}))
	mineTo(t, e, 12)
	vote(t, e, "D", false, "A", "B", "C", "P") // blocks 13-16: 4 of 5 members
	if have := e.Number(); have != 16 {
		t.Fatalf("removal executed at block %d, want 16", have)
	}
	mineTo(t, e, 20)
	with, without := vals("A", 1, "B", 1, "C", 1, "D", 2), vals("A", 1, "B", 1, "C", 1)
	for h := uint64(1); h <= 21; h++ {
		want := with
		if h >= 20 {
			want = without
		}
		if have := setFor(t, e, h); !reflect.DeepEqual(have, want) {
			t.Fatalf("set of height %d: have %v, want %v", h, have, want)
		}
	}
	head := stateAt(t, e, 20)
	for _, tt := range []struct {
		height uint64
		want   []pos.Validator
	}{{15, with}, {19, with}, {20, without}, {25, without}} {
		have, err := staking.ValidatorsAt(head, tt.height)
		if err != nil || !reflect.DeepEqual(have, tt.want) {
			t.Fatalf("set of height %d from state 20: have %v (%v), want %v", tt.height, have, err, tt.want)
		}
	}
	if addrs := view(t, e, "validators")[0].([]common.Address); len(addrs) != 3 {
		t.Fatalf("validators() in epoch 2: have %v, want A, B and C", addrs)
	}
	if b, u := stakeOf(t, e, "D"); b.Cmp(ether(2)) != 0 || u.Sign() != 0 {
		t.Fatalf("stakeOf(D) after removal: have %v %v, want 2 ether, 0", b, u)
	}

	r := call(t, e, "B", "unbondFor", nil, "", addr("D")) // block 21
	want := []logged{
		{"WithdrawalStarted", []any{addr("D"), ether(2), uint64(41)}},
		{"ValidatorSetChanged", []any{uint64(3), uint64(30)}},
	}
	if have := events(t, r); !reflect.DeepEqual(have, want) {
		t.Fatalf("events: have %v, want %v", have, want)
	}
	if b, u := stakeOf(t, e, "D"); b.Sign() != 0 || u.Cmp(ether(2)) != 0 {
		t.Fatalf("stakeOf(D) after unbondFor: have %v %v, want 0, 2 ether", b, u)
	}
	call(t, e, "A", "claimFor", nil, "withdrawal not claimable yet: claimable at block 41", addr("D"))
	mineTo(t, e, 40)
	before := e.Balance(addr("D"))
	r = call(t, e, "Q", "claimFor", nil, "", addr("D")) // block 41, by a vouched non-member
	if have := events(t, r); !reflect.DeepEqual(have, []logged{{"Claimed", []any{addr("D"), ether(2)}}}) {
		t.Fatalf("events: have %v, want Claimed(D, 2 ether)", have)
	}
	if have, want := e.Balance(addr("D")), new(big.Int).Add(before, ether(2)); have.Cmp(want) != 0 {
		t.Fatalf("D's balance: have %v, want %v", have, want)
	}
	call(t, e, "A", "claimFor", nil, "nothing to claim", addr("D"))
	if have, want := setFor(t, e, 41), without; !reflect.DeepEqual(have, want) {
		t.Fatalf("set of height 41: have %v, want %v", have, want)
	}
}

// TestRemovedMemberOwnCalls checks what a removed validator may do itself
// once a member vouches for it: withdraw, but not deposit.
func TestRemovedMemberOwnCalls(t *testing.T) {
	e := newChain(t, setup{stakes: []stake{{"A", 1}, {"D", 2}}})
	vote(t, e, "D", false, "A", "B", "C", "P")
	e.Exec("A", membership.Address, nil, chaintest.Pack(t, chaintest.MembershipABI, "allowAccount", addr("D")))
	call(t, e, "D", "deposit", ether(1), "only consortium members may become validators")
	call(t, e, "D", "withdraw", nil, "", ether(2))
	if b, u := stakeOf(t, e, "D"); b.Sign() != 0 || u.Cmp(ether(2)) != 0 {
		t.Fatalf("stakeOf(D): have %v %v, want 0, 2 ether", b, u)
	}
}

// TestUnbondForErrors calls unbondFor with each reason to refuse it, after
// D's removal.
func TestUnbondForErrors(t *testing.T) {
	tests := []struct {
		name, from, account string
		want                string
	}{
		{"caller not a member", "Q", "D", "only members may unbond another account's stake"},
		{"account still a member", "A", "B", "account is a member: only it may withdraw its stake: " + addr("B").Hex()},
		{"account without stake", "A", "X", "account has no bonded stake: " + addr("X").Hex()},
		{"removed validator", "A", "D", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newChain(t, setup{stakes: []stake{{"A", 1}, {"B", 1}, {"D", 2}}})
			vote(t, e, "D", false, "A", "B", "C", "P")
			call(t, e, tt.from, "unbondFor", nil, tt.want, addr(tt.account))
		})
	}
}

// TestLastMemberValidator runs the chain the node runs (the registry's
// built-in contracts, default parameters) with B the only validator: the
// members cannot remove B until another member stakes, and then that
// member cannot withdraw its whole stake while B's stays bonded.
func TestLastMemberValidator(t *testing.T) {
	e := chaintest.New(t, chaintest.Config{
		Members:   []string{"A", "B", "C", "D"},
		Contracts: []string{"membership", "staking"},
		Stakes:    map[string]int64{"B": 1},
	})
	removeB := chaintest.Pack(t, chaintest.MembershipABI, "propose", addr("B"), false)
	want := "removal refused: staking: last validator that is a member: " + addr("B").Hex() + "; another member must stake first"
	if r := e.Exec("A", membership.Address, nil, removeB); r.Reason != want {
		t.Fatalf("first vote to remove B: have reason %q, want %q", r.Reason, want)
	}
	vote(t, e, "D", false, "A", "B", "C") // not a validator: no check applies
	call(t, e, "C", "deposit", ether(3), "")
	vote(t, e, "B", false, "A", "B", "C") // 3 of the 3 members left
	call(t, e, "C", "withdraw", nil, "cannot withdraw the whole stake of the last validator that is a member", ether(3))
	call(t, e, "C", "withdraw", nil, "", ether(2))
	mineTo(t, e, 99)
	if have, want := setFor(t, e, 99), vals("B", 1); !reflect.DeepEqual(have, want) {
		t.Fatalf("set of height 99: have %v, want %v", have, want)
	}
	if have, want := setFor(t, e, 100), vals("C", 1); !reflect.DeepEqual(have, want) {
		t.Fatalf("set of height 100: have %v, want %v", have, want)
	}
}

// TestSetWithoutMembers slashes A, the last member validator, after D's
// removal: the set of the next epoch keeps D rather than become empty, and
// D cannot be unbonded.
func TestSetWithoutMembers(t *testing.T) {
	e := newChain(t, short(stake{"A", 1}, stake{"D", 2}))
	vote(t, e, "D", false, "A", "B", "C", "P") // blocks 1-4
	call(t, e, "P", "slash", nil, "", equivocation(t, "A", 3))
	call(t, e, "B", "unbondFor", nil, "cannot unbond the last validator", addr("D"))
	mineTo(t, e, 10)
	if have, want := setFor(t, e, 10), vals("D", 1); !reflect.DeepEqual(have, want) {
		t.Fatalf("set of height 10: have %v, want %v", have, want)
	}
}

// TestSlashRemovedValidator checks evidence against a removed validator:
// admitted for the epoch it still had power in, refused for the next.
func TestSlashRemovedValidator(t *testing.T) {
	e := newChain(t, short(stake{"A", 1}, stake{"B", 1}, stake{"C", 1}, stake{"D", 2}))
	mineTo(t, e, 12)
	vote(t, e, "D", false, "A", "B", "C", "P") // blocks 13-16
	mineTo(t, e, 21)
	call(t, e, "P", "slash", nil, "invalid evidence: pos: signer is not a validator: "+addr("D").Hex(), equivocation(t, "D", 21))
	r := call(t, e, "P", "slash", nil, "", equivocation(t, "D", 15))
	if have := events(t, r); len(have) == 0 || !reflect.DeepEqual(have[0], logged{"Slashed", []any{addr("D"), ether(2), uint64(15)}}) {
		t.Fatalf("events: have %v, want Slashed(D, 2 ether, 15) first", have)
	}
}

// TestValidatorsAtMembership runs removals and re-admissions of validators
// over seven 10-block epochs on one chain, imports its blocks into a
// second, and checks that both derive the same set and start for every
// height from the parent's state, and the head's state the same for the
// heights it keeps. D is removed in epoch 1 and re-admitted in epoch 2; C
// is removed and re-admitted within epoch 3, which keeps it in the set
// but starts a new run; B is removed and unbonded in epoch 4.
func TestValidatorsAtMembership(t *testing.T) {
	s := short(stake{"A", 1}, stake{"B", 1}, stake{"C", 1}, stake{"D", 2})
	const head = 70
	e1 := newChain(t, s)
	mineTo(t, e1, 12)
	vote(t, e1, "D", false, "A", "B", "C", "P") // removed at 16
	mineTo(t, e1, 24)
	vote(t, e1, "D", true, "A", "B", "C") // re-admitted at 27
	mineTo(t, e1, 31)
	vote(t, e1, "C", false, "A", "B", "D", "P") // removed at 35
	vote(t, e1, "C", true, "A", "B", "D")       // re-admitted at 38
	mineTo(t, e1, 44)
	vote(t, e1, "B", false, "A", "C", "D", "P") // removed at 48
	call(t, e1, "A", "unbondFor", nil, "", addr("B"))
	mineTo(t, e1, head)
	e2 := newChain(t, s)
	for n := uint64(1); n <= head; n++ {
		if err := e2.Chain.InsertBlock(e1.Chain.GetBlockByNumber(n)); err != nil {
			t.Fatalf("import block %d: %v", n, err)
		}
	}
	all, noD, noB := vals("A", 1, "B", 1, "C", 1, "D", 2), vals("A", 1, "B", 1, "C", 1), vals("A", 1, "C", 1, "D", 2)
	want := []struct {
		set   []pos.Validator
		start uint64
	}{ // by epoch
		{all, 1}, {all, 1}, {noD, 20}, {all, 30}, {all, 40}, {noB, 50}, {noB, 50}, {noB, 50},
	}
	headState := stateAt(t, e1, head)
	for h := uint64(1); h <= head+1; h++ {
		w := want[h/10]
		for i, e := range []*chaintest.Env{e1, e2} {
			set, err := staking.ValidatorSetAt(stateAt(t, e, h-1), h)
			if err != nil {
				t.Fatalf("chain %d, height %d: %v", i+1, h, err)
			}
			if !reflect.DeepEqual(set.Validators(), w.set) || set.Start() != w.start {
				t.Fatalf("chain %d, height %d: have %v from %d, want %v from %d", i+1, h, set.Validators(), set.Start(), w.set, w.start)
			}
		}
		late, err := staking.ValidatorSetAt(headState, h)
		switch {
		case errors.Is(err, staking.ErrHistory):
		case err != nil:
			t.Fatalf("height %d from the head's state: %v", h, err)
		case !reflect.DeepEqual(late.Validators(), w.set) || late.Start() != w.start:
			t.Fatalf("height %d from the head's state: have %v from %d, want %v from %d", h, late.Validators(), late.Start(), w.set, w.start)
		}
	}
}
