package membership_test

import (
	"testing"

	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
)

// FuzzMembershipCalls executes fuzzed call data in the membership contract
// from members, an allowed account and an outsider (see
// chaintest.FuzzCalls for the invariants), on a chain where a proposal to
// add a member is already open.
func FuzzMembershipCalls(f *testing.F) {
	e := chaintest.New(f, chaintest.Config{Members: []string{"A", "B", "C"}, Allowed: []string{"P"}, Funded: []string{"X"}})
	a := chaintest.MembershipABI
	open := chaintest.Pack(f, a, "propose", addr("X"), true)
	if r := e.Exec("A", membership.Address, nil, open); r.Reason != "" {
		f.Fatalf("propose: %s", r.Reason)
	}
	chaintest.FuzzCalls(f, e, membership.New(), []string{"A", "B", "C", "P", "X"},
		open,
		chaintest.Pack(f, a, "propose", addr("C"), false),
		chaintest.Pack(f, a, "allowAccount", addr("X")),
		chaintest.Pack(f, a, "revokeAccount", addr("P")),
		chaintest.Pack(f, a, "isMember", addr("A")),
		chaintest.Pack(f, a, "members"),
	)
}
