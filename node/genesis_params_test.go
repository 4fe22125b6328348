package node

import (
	"testing"

	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/node/genesis"
)

// TestStakingParamsFromGenesis: genesis.json's staking section reaches the
// contract's storage, which every node reads its epochs from.
func TestStakingParamsFromGenesis(t *testing.T) {
	net := newPosNet(t, 4, "membership", "staking")
	net.g.Staking = &genesis.Staking{EpochLength: 7, UnbondingDelay: 21}
	if err := net.g.Validate(); err != nil {
		t.Fatal(err)
	}
	c := net.open(t, nil)
	st, err := c.State()
	if err != nil {
		t.Fatal(err)
	}
	p, err := staking.ParamsOf(st)
	if err != nil {
		t.Fatal(err)
	}
	if p.EpochLength != 7 || p.UnbondingDelay != 21 || !p.MinStake.Eq(staking.DefaultMinStake) {
		t.Fatalf("params in state: have %d, %d, %v; want 7, 21, %v", p.EpochLength, p.UnbondingDelay, p.MinStake, staking.DefaultMinStake)
	}
}
