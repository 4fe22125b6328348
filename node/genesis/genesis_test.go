package genesis

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arbiter-chain/arbiter/contracts/staking"
)

const valid = `{
  "chainId": 7,
  "engine": "pow",
  "pow": {"minDifficulty": 1, "initialDifficulty": 2},
  "blockTime": "2s",
  "blockGasLimit": 1000000,
  "members": [{"address": "0x0000000000000000000000000000000000000001", "name": "a", "stake": "100"}],
  "allowed": [{"account": "0x0000000000000000000000000000000000000009", "by": "0x0000000000000000000000000000000000000001"}],
  "alloc": {"0x0000000000000000000000000000000000000001": {"balance": "1000"}}
}`

func TestParse(t *testing.T) {
	g, err := Parse([]byte(valid))
	if err != nil {
		t.Fatalf("valid genesis: %v", err)
	}
	if g.ChainID != 7 || g.Members[0].Stake == nil || g.Alloc[g.Members[0].Address].BalanceBig().Int64() != 1000 {
		t.Fatalf("parsed wrongly: %+v", g)
	}
	tests := []struct {
		name, from, to string
		want           error
	}{
		{"no chain id", `"chainId": 7`, `"chainId": 0`, errNoChainID},
		{"unknown engine", `"engine": "pow"`, `"engine": "raft"`, errEngine},
		{"pow without params", `"pow": {"minDifficulty": 1, "initialDifficulty": 2},`, ``, errNoPoWParams},
		{"sub-second pow", `"blockTime": "2s"`, `"blockTime": "500ms"`, errPoWBlockTime},
		{"gas limit", `"blockGasLimit": 1000000`, `"blockGasLimit": 100`, errGasLimit},
		{"no members", `"members": [{"address": "0x0000000000000000000000000000000000000001", "name": "a", "stake": "100"}]`, `"members": []`, errNoMembers},
		{"voucher not a member", `"by": "0x0000000000000000000000000000000000000001"`, `"by": "0x0000000000000000000000000000000000000002"`, errVoucher},
		{"zero member", `"address": "0x0000000000000000000000000000000000000001", "name"`, `"address": "0x0000000000000000000000000000000000000000", "name"`, errZeroAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Replace(valid, tt.from, tt.to, 1)
			if in == valid {
				t.Fatalf("test setup: %q not found", tt.from)
			}
			if _, err := Parse([]byte(in)); !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
		})
	}
	for _, bad := range []string{
		strings.Replace(valid, `"blockGasLimit"`, `"gasLimit"`, 1), // misspelt field
		valid[:len(valid)/2], // truncated file
		strings.Replace(valid, `"2s"`, `"two seconds"`, 1),
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Fatalf("malformed genesis accepted: %.60q", bad)
		}
	}
}

func TestLoadRefusesOversizedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "g.json")
	if err := os.WriteFile(p, []byte(valid+strings.Repeat(" ", MaxFileSize)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); !errors.Is(err, errTooLarge) {
		t.Fatalf("have %v, want %v", err, errTooLarge)
	}
}

func TestHashCommitsToConfig(t *testing.T) {
	a, _ := Parse([]byte(valid))
	b, _ := Parse([]byte(strings.Replace(valid, `"chainId": 7`, `"chainId": 8`, 1)))
	c, _ := Parse([]byte(valid))
	if a.Hash() == b.Hash() {
		t.Fatal("different chain ids, same genesis hash")
	}
	if a.Hash() != c.Hash() {
		t.Fatal("same genesis, different hashes")
	}
	p := filepath.Join(t.TempDir(), "g.json")
	if err := a.Write(p); err != nil {
		t.Fatal(err)
	}
	d, err := Load(p)
	if err != nil || d.Hash() != a.Hash() {
		t.Fatalf("write/load round trip changed the hash: %v", err)
	}
}

func TestStakingSection(t *testing.T) {
	withStaking := func(section string) string {
		s := strings.Replace(valid, `"blockGasLimit": 1000000,`, `"blockGasLimit": 1000000, "contracts": ["membership", "staking"],`+section, 1)
		return s
	}
	g, err := Parse([]byte(withStaking(``)))
	if err != nil {
		t.Fatal(err)
	}
	if p := g.StakingParams(); p.EpochLength != staking.DefaultEpochLength || p.UnbondingDelay != staking.DefaultUnbondingDelay || !p.MinStake.Eq(staking.DefaultMinStake) {
		t.Fatalf("defaults: have %+v", p)
	}
	g, err = Parse([]byte(withStaking(`"staking": {"epochLength": 10, "unbondingDelay": 30, "minStake": "5"},`)))
	if err != nil {
		t.Fatal(err)
	}
	if p := g.StakingParams(); p.EpochLength != 10 || p.UnbondingDelay != 30 || p.MinStake.Uint64() != 5 {
		t.Fatalf("set: have %+v", p)
	}
	g, err = Parse([]byte(withStaking(`"staking": {"epochLength": 10},`)))
	if err != nil {
		t.Fatal(err)
	}
	if p := g.StakingParams(); p.UnbondingDelay != 20 {
		t.Fatalf("unbonding delay follows the epoch: have %d, want 20", p.UnbondingDelay)
	}
	for _, tt := range []struct {
		name, in string
		want     error
	}{
		{"delay below an epoch", withStaking(`"staking": {"epochLength": 10, "unbondingDelay": 5},`), staking.ErrParams},
		{"zero min stake", withStaking(`"staking": {"minStake": "0"},`), staking.ErrParams},
		{"negative min stake", withStaking(`"staking": {"minStake": "-1"},`), staking.ErrParams},
		{"huge epoch", withStaking(`"staking": {"epochLength": 99999999999},`), staking.ErrParams},
		{"section without the contract", strings.Replace(valid, `"blockGasLimit": 1000000,`, `"blockGasLimit": 1000000, "staking": {"epochLength": 10},`, 1), errStakingSection},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.in)); !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
		})
	}
	// The section is part of what the genesis hash commits to.
	plain, _ := Parse([]byte(withStaking(``)))
	if h := plain.Hash(); h == g.Hash() {
		t.Fatal("the staking section does not change the genesis hash")
	}
}
