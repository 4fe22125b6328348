package staking_test

import (
	"math/big"
	"testing"

	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
)

// FuzzStakingCalls executes fuzzed call data in the staking contract (see
// chaintest.FuzzCalls for the invariants) on a chain where A, B and C
// stake from genesis, D has deposited since and A has asked to withdraw;
// callers are validators, a member without stake, an allowed account and
// an outsider.
func FuzzStakingCalls(f *testing.F) {
	e, err := open(f, setup{stakes: []stake{{"A", 10}, {"B", 10}, {"C", 5}}})
	if err != nil {
		f.Fatal(err)
	}
	pack := func(method string, args ...any) []byte { return chaintest.Pack(f, stakingABI, method, args...) }
	for _, tx := range []struct {
		from   string
		value  *big.Int
		method string
		args   []any
	}{
		{"D", ether(3), "deposit", nil},
		{"A", nil, "withdraw", []any{ether(2)}},
	} {
		if r := e.Exec(tx.from, staking.Address, tx.value, pack(tx.method, tx.args...)); r.Reason != "" {
			f.Fatalf("%s by %s: %s", tx.method, tx.from, r.Reason)
		}
	}
	chaintest.FuzzCalls(f, e, staking.New(), []string{"A", "B", "C", "D", "P", "Q", "X"},
		pack("deposit"),
		pack("withdraw", ether(1)),
		pack("withdraw", uint256.MustFromDecimal("115792089237316195423570985008687907853269984665640564039457584007913129639935").ToBig()),
		pack("claim"),
		pack("slash", equivocation(f, "B", 1)),
		pack("slash", equivocation(f, "X", 1)),
		pack("slash", []byte{0xde, 0xad}),
		pack("stakeOf", addr("A")),
		pack("validators"),
	)
}
