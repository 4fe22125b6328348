package staking_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/contracts"
	"github.com/arbiter-chain/arbiter/contracts/native"
	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
	"github.com/arbiter-chain/arbiter/node/rules"
)

// gasPerMicrosecond is the rate of native's gas schedule.
const gasPerMicrosecond = 66

// seeded returns a registry with the staking contract and a bare state
// seeded with n validators of 1 ether each, named v0, v1, ..., all members.
func seeded(tb testing.TB, n int) (*contracts.Registry, *state.StateDB) {
	tb.Helper()
	reg, err := contracts.New(chainID, staking.New())
	if err != nil {
		tb.Fatalf("registry: %v", err)
	}
	st, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	if err != nil {
		tb.Fatalf("state: %v", err)
	}
	g := &native.Genesis{}
	for i := range n {
		g.Members = append(g.Members, native.GenesisMember{Address: addr(fmt.Sprintf("v%d", i)), Stake: ether(1)})
	}
	if err := reg.SeedGenesis(g, st); err != nil {
		tb.Fatalf("seed: %v", err)
	}
	return reg, st
}

// BenchmarkSlash times a whole slash call (decoding, reading the set,
// verifying the evidence, snapshotting the set, burning) on a bare state,
// and reports its gas, for sets of 4 to MaxValidators validators.
func BenchmarkSlash(b *testing.B) {
	for _, n := range []int{4, 32, staking.MaxValidators} {
		b.Run(fmt.Sprintf("validators=%d", n), func(b *testing.B) {
			reg, st := seeded(b, n)
			data := chaintest.Pack(b, stakingABI, "slash", equivocation(b, "v0", 5))
			var gas uint64
			b.ResetTimer()
			for b.Loop() {
				snap := st.Snapshot()
				_, used, err := reg.Run(st, staking.Address, native.Call{Number: 10, Caller: addr("P"), Value: new(uint256.Int), Input: data, Gas: 30_000_000})
				if err != nil {
					b.Fatalf("slash: %v", err)
				}
				gas = used
				st.RevertToSnapshot(snap)
			}
			b.ReportMetric(float64(gas), "gas/op")
		})
	}
}

// BenchmarkVerifyEvidence times what GasVerifyEvidence prices: decoding
// the evidence and pos.VerifyEvidence, and reports the gas that time is
// worth at native's rate.
func BenchmarkVerifyEvidence(b *testing.B) {
	set, err := pos.NewValidatorSet(1, []pos.Validator{{Address: addr("v0"), Power: 1}, {Address: addr("v1"), Power: 1}})
	if err != nil {
		b.Fatal(err)
	}
	raw := equivocation(b, "v0", 5)
	start := time.Now()
	for b.Loop() {
		ev, err := pos.DecodeEvidence(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pos.VerifyEvidence(chainID, ev, set); err != nil {
			b.Fatal(err)
		}
	}
	us := float64(time.Since(start).Microseconds()) / float64(b.N)
	b.ReportMetric(us*gasPerMicrosecond, "gas-worth/op")
	b.ReportMetric(float64(staking.GasVerifyEvidence), "gas-charged/op")
}

// TestGasCost reports, from the receipts of mined transactions, the gas
// each method uses above the intrinsic gas, with four validators; run with
// -v to print the figures. The first change of an epoch copies the set
// into the history, about GasSstoreSet per validator more than later ones.
func TestGasCost(t *testing.T) {
	e := newChain(t, setup{stakes: []stake{{"A", 2}, {"B", 1}, {"C", 1}, {"D", 1}}})
	type row struct {
		name string
		gas  uint64
	}
	measure := func(name string, r chaintest.Result) row {
		return row{name, r.Receipt.GasUsed - rules.IntrinsicGas(r.Tx)}
	}
	rows := []row{
		measure("deposit, new validator, first change of the epoch", call(t, e, "P", "deposit", ether(1), "")),
		measure("deposit, top-up", call(t, e, "A", "deposit", ether(1), "")),
		measure("withdraw", call(t, e, "A", "withdraw", nil, "", ether(1))),
		measure("slash", call(t, e, "P", "slash", nil, "", equivocation(t, "D", 5))),
	}
	mineTo(t, e, 150)
	rows = append(rows, measure("slash, first change of the epoch", call(t, e, "P", "slash", nil, "", equivocation(t, "C", 120))))
	mineTo(t, e, 210)
	rows = append(rows, measure("claim", call(t, e, "A", "claim", nil, "")))
	vote(t, e, "B", false, "A", "C", "D", "P")
	rows = append(rows, measure("unbondFor", call(t, e, "A", "unbondFor", nil, "", addr("B"))))
	mineTo(t, e, 500)
	rows = append(rows, measure("claimFor", call(t, e, "P", "claimFor", nil, "", addr("B"))))
	for _, r := range rows {
		t.Logf("%-50s %7d gas", r.name, r.gas)
	}
	if have, least := rows[3].gas, native.GasCall+staking.GasVerifyEvidence; have <= least {
		t.Fatalf("slash used %d gas, want more than the call and the verification, %d", have, least)
	}
}
