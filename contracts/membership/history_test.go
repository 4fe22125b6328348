package membership_test

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/contracts/native"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
)

func bareState(t *testing.T) *state.StateDB {
	t.Helper()
	st, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	return st
}

// TestMemberAt records changes at chosen blocks and asks for the status at
// the end of blocks before, at and after them.
func TestMemberAt(t *testing.T) {
	st := bareState(t)
	membership.AddMember(st, addr("G")) // genesis members
	membership.AddMember(st, addr("M"))
	membership.RemoveMemberAt(st, addr("G"), 10)
	membership.AddMemberAt(st, addr("G"), 10) // out and back in one block
	membership.RemoveMemberAt(st, addr("G"), 25)
	membership.AddMemberAt(st, addr("N"), 5)
	membership.RemoveMemberAt(st, addr("N"), 20)
	membership.AddMemberAt(st, addr("N"), 30)
	if membership.AddMemberAt(st, addr("N"), 31) || membership.RemoveMemberAt(st, addr("Z"), 31) {
		t.Fatalf("a change that changes nothing was made")
	}
	tests := []struct {
		name   string
		block  uint64
		member bool
		since  uint64
	}{
		{"G", 0, true, 0}, {"G", 9, true, 0}, {"G", 10, true, 10}, {"G", 24, true, 10}, {"G", 25, false, 25}, {"G", 1000, false, 25},
		{"N", 0, false, 0}, {"N", 4, false, 0}, {"N", 5, true, 5}, {"N", 19, true, 5}, {"N", 20, false, 20}, {"N", 29, false, 20}, {"N", 30, true, 30}, {"N", 31, true, 30},
		{"M", 7, true, 0},
		{"Z", 7, false, 0},
	}
	for _, tt := range tests {
		member, since := membership.MemberAt(st, addr(tt.name), tt.block)
		if member != tt.member || since != tt.since {
			t.Errorf("MemberAt(%s, %d): have %v since %d, want %v since %d", tt.name, tt.block, member, since, tt.member, tt.since)
		}
	}
}

// TestMemberAtSearch records many changes of one address, several in some
// blocks, and checks the binary search against a walk through them.
func TestMemberAtSearch(t *testing.T) {
	st := bareState(t)
	type change struct {
		block  uint64
		member bool
	}
	var changes []change
	member, block := false, uint64(3)
	for i := range 41 {
		member = !member
		if member {
			membership.AddMemberAt(st, addr("X"), block)
		} else {
			membership.RemoveMemberAt(st, addr("X"), block)
		}
		changes = append(changes, change{block, member})
		if i%5 != 0 { // every fifth change shares its block with the next
			block += uint64(1 + i%3)
		}
	}
	for b := uint64(0); b <= block+2; b++ {
		wantMember, wantSince := false, uint64(0)
		for _, c := range changes {
			if c.block <= b {
				wantMember, wantSince = c.member, c.block
			}
		}
		if member, since := membership.MemberAt(st, addr("X"), b); member != wantMember || since != wantSince {
			t.Fatalf("MemberAt(X, %d): have %v since %d, want %v since %d", b, member, since, wantMember, wantSince)
		}
	}
}

// TestProposeRecordsHistory checks that removals and admissions by vote
// are recorded at the block that executes them, and that a later state
// still answers for earlier blocks.
func TestProposeRecordsHistory(t *testing.T) {
	e := newChain(t, "A", "B", "C", "D")
	for _, from := range []string{"A", "C", "D"} {
		call(t, e, from, "propose", "", addr("B"), false)
	}
	removed := e.Number()
	e.MineEmpty(3)
	for _, from := range []string{"A", "C", "D"} {
		call(t, e, from, "propose", "", addr("B"), true)
	}
	readmitted := e.Number()
	st, err := e.Chain.State()
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	tests := []struct {
		block  uint64
		member bool
		since  uint64
	}{
		{0, true, 0}, {removed - 1, true, 0}, {removed, false, removed}, {readmitted - 1, false, removed}, {readmitted, true, readmitted},
	}
	for _, tt := range tests {
		if member, since := membership.MemberAt(st, addr("B"), tt.block); member != tt.member || since != tt.since {
			t.Errorf("MemberAt(B, %d): have %v since %d, want %v since %d", tt.block, member, since, tt.member, tt.since)
		}
	}
}

// TestRemovalCheck runs propose with a removal check that reads another
// contract's storage and refuses while a slot there is set.
func TestRemovalCheck(t *testing.T) {
	other, key := common.Address{0x99}, common.Hash{1}
	errVeto := errors.New("veto")
	c, err := native.Compile(membership.New(membership.WithRemovalCheck(func(st membership.Reader, m common.Address) error {
		if m == addr("C") && st.GetState(other, key) != (common.Hash{}) {
			return errVeto
		}
		return nil
	})))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	st := bareState(t)
	for _, n := range []string{"A", "B", "C", "D"} {
		membership.AddMember(st, addr(n))
	}
	st.SetState(other, key, common.Hash{1})
	propose := func(from, cand string, add bool) error {
		t.Helper()
		_, _, err := c.Execute(st, native.Call{ChainID: big.NewInt(chaintest.ChainID), Number: 7, Caller: addr(from),
			Input: chaintest.Pack(t, chaintest.MembershipABI, "propose", addr(cand), add), Gas: 1_000_000})
		return err
	}
	tests := []struct {
		from, cand string
		add        bool
		want       error
	}{
		{"A", "C", false, errVeto},
		{"A", "D", false, nil},
		{"A", "E", true, nil}, // admissions are not checked
	}
	for _, tt := range tests {
		if err := propose(tt.from, tt.cand, tt.add); !errors.Is(err, tt.want) {
			t.Fatalf("propose(%s, add %v) by %s: have %v, want %v", tt.cand, tt.add, tt.from, err, tt.want)
		}
	}
	if have := membership.Votes(st, membership.Proposal{Kind: membership.KindRemove, Subject: addr("C")}); have != 0 {
		t.Fatalf("votes to remove C: have %d, want 0", have)
	}
	st.SetState(other, key, common.Hash{})
	for _, from := range []string{"A", "B", "D"} {
		if err := propose(from, "C", false); err != nil {
			t.Fatalf("propose(C) by %s after the veto lifted: %v", from, err)
		}
	}
	if membership.IsMember(st, addr("C")) {
		t.Fatalf("C still a member after 3 of 4 votes")
	}
	if member, since := membership.MemberAt(st, addr("C"), 7); member || since != 7 {
		t.Fatalf("MemberAt(C, 7): have %v since %d, want false since 7", member, since)
	}
}
