package contracts_test

import (
	"bytes"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/contracts"
	"github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/contracts/native"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
)

// TestABIDocs checks that docs/abi/NAME.json is the ABI each contract embeds.
func TestABIDocs(t *testing.T) {
	for _, c := range contracts.Builtin() {
		t.Run(c.Name(), func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join("..", "docs", "abi", c.Name()+".json"))
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(doc, c.ABI()) {
				t.Fatalf("docs/abi/%s.json differs from the embedded ABI", c.Name())
			}
		})
	}
}

func TestNew(t *testing.T) {
	id := big.NewInt(chaintest.ChainID)
	tests := []struct {
		name    string
		chainID *big.Int
		names   []string
		want    error
	}{
		{"all", id, []string{"membership", "chess"}, nil},
		{"none", id, nil, nil},
		{"chess only", id, []string{"chess"}, nil},
		{"unknown", id, []string{"membership", "poker"}, contracts.ErrUnknownContract},
		{"twice", id, []string{"chess", "chess"}, contracts.ErrDuplicate},
		{"no chain id", nil, []string{"chess"}, contracts.ErrNoChainID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := contracts.NewByName(tt.chainID, tt.names...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			if have := len(r.Contracts()); have != len(tt.names) {
				t.Fatalf("contracts: have %d, want %d", have, len(tt.names))
			}
			for _, c := range contracts.Builtin() {
				want := false
				for _, n := range tt.names {
					want = want || n == c.Name()
				}
				if have := r.Has(c.Address()); have != want {
					t.Errorf("Has(%s): have %v, want %v", c.Name(), have, want)
				}
			}
		})
	}
}

// clash is a contract at the arbiter's address under another name.
type clash struct{ native.Contract }

func (clash) Name() string { return "clash" }

func TestNewDuplicateAddress(t *testing.T) {
	if _, err := contracts.New(big.NewInt(1), chess.New(), clash{chess.New()}); !errors.Is(err, contracts.ErrDuplicate) {
		t.Fatalf("have %v, want %v", err, contracts.ErrDuplicate)
	}
}

// TestDispatchReverts sends malformed calls as transactions: each reverts
// with its reason, charges gas and returns the value sent.
func TestDispatchReverts(t *testing.T) {
	e := chaintest.New(t, chaintest.Config{Members: []string{"A", "B", "C"}, Allowed: []string{"P"}})
	propose := chaintest.Pack(t, chaintest.MembershipABI, "propose", chaintest.Addr("Q"), true)
	tests := []struct {
		name  string
		to    common.Address
		value *big.Int
		data  []byte
		want  string
	}{
		{"empty input", membership.Address, nil, nil, "input shorter than a 4-byte selector: 0 bytes"},
		{"plain transfer", chess.Address, big.NewInt(7), nil, "input shorter than a 4-byte selector: 0 bytes"},
		{"three bytes", membership.Address, nil, []byte{1, 2, 3}, "input shorter than a 4-byte selector: 3 bytes"},
		{"unknown selector", membership.Address, nil, []byte{0xde, 0xad, 0xbe, 0xef}, "unknown method selector: 0xdeadbeef"},
		{"truncated arguments", membership.Address, nil, propose[:40], "cannot decode arguments: propose: "},
		{"value to a view", membership.Address, big.NewInt(1), chaintest.Pack(t, chaintest.MembershipABI, "members"), "method is not payable: members"},
		{"value to a non-payable method", membership.Address, big.NewInt(1), propose, "method is not payable: propose"},
		{"contract's own refusal", membership.Address, nil, propose, "caller is not a member"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.Balance(chaintest.Addr("P"))
			r := e.Exec("P", tt.to, tt.value, tt.data)
			if len(r.Reason) < len(tt.want) || r.Reason[:len(tt.want)] != tt.want {
				t.Fatalf("reason: have %q, want %q", r.Reason, tt.want)
			}
			if !r.Failed() || len(r.Receipt.Logs) != 0 {
				t.Fatalf("receipt: status %d, %d logs", r.Receipt.Status, len(r.Receipt.Logs))
			}
			if have, want := e.Balance(chaintest.Addr("P")), new(big.Int).Sub(before, e.Fee(r)); have.Cmp(want) != 0 {
				t.Fatalf("balance: have %v, want %v", have, want)
			}
		})
	}
}

// TestGenesisAccounts checks that every enabled contract's account exists
// with nonce 1 after genesis is committed, and that a disabled contract's
// address is an ordinary account.
func TestGenesisAccounts(t *testing.T) {
	e := chaintest.New(t, chaintest.Config{Members: []string{"A"}, Contracts: []string{"chess"}})
	st, err := e.Chain.State()
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	for _, a := range []common.Address{chess.Address, membership.Address} {
		if have := st.GetNonce(a); have != 1 {
			t.Errorf("nonce of %s: have %d, want 1", a, have)
		}
	}
	if !membership.IsMember(st, chaintest.Addr("A")) {
		t.Fatalf("genesis member lost")
	}
	// Membership is not enabled: a call to it is a plain transfer.
	r := e.Exec("A", membership.Address, big.NewInt(5), chaintest.Pack(t, chaintest.MembershipABI, "members"))
	if r.Failed() {
		t.Fatalf("transfer to a disabled contract reverted: %q", r.Reason)
	}
	if have := e.Balance(membership.Address); have.Cmp(big.NewInt(5)) != 0 {
		t.Fatalf("balance: have %v, want 5", have)
	}
}
