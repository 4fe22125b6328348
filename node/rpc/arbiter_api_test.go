package rpc

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// fakeRegistry names one address and knows one validator and member.
type fakeRegistry struct{}

var fakeMember = common.HexToAddress("0x00000000000000000000000000000000000000aa")

func (fakeRegistry) Validators(*types.Header) ([]Validator, error) {
	return []Validator{{Address: fakeMember, Power: 1, Active: true}}, nil
}
func (fakeRegistry) Members(*types.Header) ([]Member, error)   { return nil, nil }
func (fakeRegistry) Accounts(*types.Header) ([]Account, error) { return nil, nil }
func (fakeRegistry) Author(*types.Header) (common.Address, error) {
	return fakeMember, nil
}
func (fakeRegistry) Name(a common.Address) string {
	if a == fakeMember {
		return "alpha"
	}
	return ""
}

// TestArbiterAPIOverFakes checks the arbiter_ namespace's own logic over
// a fake chain: status without consensus, network or pool; block
// arguments; empty lists as []; the bounds of arbiter_blocks.
func TestArbiterAPIOverFakes(t *testing.T) {
	e := newTestEnv(t, Config{})
	if err := e.srv.RegisterArbiter(ArbiterSources{}); !errors.Is(err, errNoArbiter) {
		t.Fatalf("RegisterArbiter without a registry: have %v, want %v", err, errNoArbiter)
	}
	if err := e.srv.RegisterArbiter(ArbiterSources{Engine: "pow", Registry: fakeRegistry{}}); err != nil {
		t.Fatal(err)
	}
	var st Status
	if err := e.raw.Call(&st, "arbiter_status"); err != nil {
		t.Fatal(err)
	}
	if st.Engine != "pow" || st.Head.Number != 3 || st.Final == nil || st.Final.Number != 2 || st.FinalityLag != 1 || st.Consensus != nil || st.Self != nil || st.Peers != 0 {
		t.Errorf("status: have %+v, want pow, head 3, final 2, lag 1, no consensus, self or peers", st)
	}
	tests := []struct {
		name    string
		method  string
		args    []any
		wantErr bool
		wantLen int
	}{
		{"validators latest", "arbiter_validators", []any{"latest"}, false, 1},
		{"validators default", "arbiter_validators", nil, false, 1},
		{"validators finalized", "arbiter_validators", []any{"finalized"}, false, 1},
		{"validators at 1", "arbiter_validators", []any{"0x1"}, false, 1},
		{"validators past the head", "arbiter_validators", []any{"0x63"}, true, 0},
		{"members empty", "arbiter_members", nil, false, 0},
		{"peers without a network", "arbiter_peers", nil, false, 0},
		{"rounds without consensus", "arbiter_rounds", nil, false, 0},
		{"all blocks", "arbiter_blocks", []any{10}, false, 4},
		{"blocks zero", "arbiter_blocks", []any{0}, true, 0},
		{"blocks too many", "arbiter_blocks", []any{MaxRecentBlocks + 1}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out []map[string]any
			err := e.raw.Call(&out, tt.method, tt.args...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("have error %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (out == nil || len(out) != tt.wantLen) {
				t.Errorf("have %v, want %d entries (an empty list, not null)", out, tt.wantLen)
			}
		})
	}
	var blocks []RecentBlock
	if err := e.raw.Call(&blocks, "arbiter_blocks", 2); err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || blocks[0].Number != 3 || blocks[1].Number != 2 || blocks[0].Name != "alpha" {
		t.Errorf("blocks: have %+v, want 3 then 2, proposed by alpha", blocks)
	}
}
