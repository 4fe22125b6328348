package native

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
)

const toyABI = `[
 {"type":"function","name":"put","stateMutability":"nonpayable","inputs":[{"name":"key","type":"bytes32"},{"name":"value","type":"bytes32"}],"outputs":[]},
 {"type":"function","name":"get","stateMutability":"view","inputs":[{"name":"key","type":"bytes32"}],"outputs":[{"name":"","type":"bytes32"}]},
 {"type":"function","name":"putThenFail","stateMutability":"nonpayable","inputs":[{"name":"key","type":"bytes32"}],"outputs":[]},
 {"type":"function","name":"putThenBurn","stateMutability":"nonpayable","inputs":[{"name":"gas","type":"uint64"}],"outputs":[]},
 {"type":"function","name":"pay","stateMutability":"payable","inputs":[{"name":"to","type":"address"},{"name":"amount","type":"uint256"}],"outputs":[]},
 {"type":"function","name":"badEvent","stateMutability":"nonpayable","inputs":[],"outputs":[]},
 {"type":"function","name":"nonce","stateMutability":"view","inputs":[],"outputs":[{"name":"","type":"uint64"}]},
 {"type":"event","name":"Put","anonymous":false,"inputs":[{"name":"key","type":"bytes32","indexed":true},{"name":"value","type":"bytes32","indexed":false}]}
]`

var (
	toyAddr = common.HexToAddress("0x00000000000000000000000000000000000000f0")
	errToy  = errors.New("toy refuses")
	keyOne  = common.Hash{1}
)

type toy struct {
	abi      string
	handlers map[string]Handler
}

func (c toy) Name() string                 { return "toy" }
func (c toy) Address() common.Address      { return toyAddr }
func (c toy) ABI() []byte                  { return []byte(c.abi) }
func (c toy) Handlers() map[string]Handler { return c.handlers }

func toyHandlers() map[string]Handler {
	return map[string]Handler{
		"put": func(ctx *Context, args Args) ([]any, error) {
			var in struct{ Key, Value [32]byte }
			if err := args.Decode(&in); err != nil {
				return nil, err
			}
			ctx.Set(in.Key, in.Value)
			ctx.Emit("Put", common.Hash(in.Key), in.Value)
			return nil, nil
		},
		"get": func(ctx *Context, args Args) ([]any, error) {
			return []any{[32]byte(ctx.Get(args.Values()[0].([32]byte)))}, nil
		},
		"putThenFail": func(ctx *Context, args Args) ([]any, error) {
			ctx.Set(keyOne, common.Hash{2})
			return nil, errToy
		},
		"putThenBurn": func(ctx *Context, args Args) ([]any, error) {
			ctx.Set(keyOne, common.Hash{2})
			if err := ctx.UseGas(args.Values()[0].(uint64)); err != nil {
				return nil, errToy // out of gas must win over this
			}
			return nil, nil
		},
		"pay": func(ctx *Context, args Args) ([]any, error) {
			var in struct {
				To     common.Address
				Amount *big.Int
			}
			if err := args.Decode(&in); err != nil {
				return nil, err
			}
			return nil, ctx.Transfer(in.To, uint256.MustFromBig(in.Amount))
		},
		"badEvent": func(ctx *Context, args Args) ([]any, error) {
			ctx.Emit("Missing")
			return nil, nil
		},
		"nonce": func(ctx *Context, args Args) ([]any, error) { return []any{ctx.TxNonce()}, nil },
	}
}

func newToy(t *testing.T) (*Compiled, *state.StateDB, abi.ABI) {
	t.Helper()
	c, err := Compile(toy{abi: toyABI, handlers: toyHandlers()})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	st, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	return c, st, c.ABI()
}

func pack(t *testing.T, a abi.ABI, method string, args ...any) []byte {
	t.Helper()
	data, err := a.Pack(method, args...)
	if err != nil {
		t.Fatalf("pack: %v", err)
	}
	return data
}

func TestCompile(t *testing.T) {
	missing := toyHandlers()
	delete(missing, "get")
	extra := toyHandlers()
	extra["unused"] = extra["get"]
	tests := []struct {
		name string
		c    toy
		want error
	}{
		{"complete", toy{toyABI, toyHandlers()}, nil},
		{"bad ABI", toy{"[{", toyHandlers()}, ErrBadABI},
		{"missing handler", toy{toyABI, missing}, ErrHandlers},
		{"extra handler", toy{toyABI, extra}, ErrHandlers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Compile(tt.c); !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
		})
	}
}

// TestExecute checks the gas charged and that every failure reverts the
// call's writes.
func TestExecute(t *testing.T) {
	c, st, a := newToy(t)
	put := pack(t, a, "put", keyOne, [32]byte{9})
	putGas := GasCall + GasCopyWord*words(len(put)) + GasSstoreSet + GasLog + 2*GasLogTopic + 32*GasLogByte
	tests := []struct {
		name     string
		data     []byte
		gas      uint64
		value    uint64
		want     error
		wantUsed uint64
	}{
		{"put", put, 100_000, 0, nil, putGas},
		{"put with exactly enough gas", put, putGas, 0, nil, putGas},
		{"put one gas short", put, putGas - 1, 0, ErrOutOfGas, putGas - 1},
		{"handler error", pack(t, a, "putThenFail", keyOne), 100_000, 0, errToy, GasCall + 2*GasCopyWord + GasSstoreSet},
		{"out of gas beats the handler's error", pack(t, a, "putThenBurn", uint64(1_000_000)), 100_000, 0, ErrOutOfGas, 100_000},
		{"transfer above balance", pack(t, a, "pay", common.Address{7}, big.NewInt(11)), 100_000, 10, ErrInsufficientBalance, GasCall + 3*GasCopyWord + GasTransfer},
		{"event not in the ABI", pack(t, a, "badEvent"), 100_000, 0, ErrInternal, GasCall + GasCopyWord},
		{"gas below the call cost", put, 10, 0, ErrOutOfGas, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := st.Snapshot()
			defer st.RevertToSnapshot(snap)
			value := uint256.NewInt(tt.value)
			st.AddBalance(toyAddr, value, tracing.BalanceChangeTransfer)
			_, used, err := c.Execute(st, Call{ChainID: big.NewInt(1), Caller: common.Address{5}, Value: value, Input: tt.data, Gas: tt.gas})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error: have %v, want %v", err, tt.want)
			}
			if used != tt.wantUsed {
				t.Fatalf("gas used: have %d, want %d", used, tt.wantUsed)
			}
			stored := st.GetState(toyAddr, keyOne)
			if tt.want == nil && stored != (common.Hash{9}) {
				t.Fatalf("slot: have %x, want 09...", stored)
			}
			if tt.want != nil && (stored != common.Hash{} || len(st.Logs()) != 0) {
				t.Fatalf("failed call left slot %x and %d logs", stored, len(st.Logs()))
			}
			if tt.want != nil && st.GetBalance(toyAddr).Uint64() != tt.value {
				t.Fatalf("failed call moved the contract's balance")
			}
		})
	}
}

func TestTransferAndNonce(t *testing.T) {
	c, st, a := newToy(t)
	st.AddBalance(toyAddr, uint256.NewInt(10), tracing.BalanceChangeTransfer)
	if _, _, err := c.Execute(st, Call{ChainID: big.NewInt(1), Input: pack(t, a, "pay", common.Address{7}, big.NewInt(4)), Gas: 100_000}); err != nil {
		t.Fatalf("pay: %v", err)
	}
	if have, want := st.GetBalance(common.Address{7}).Uint64(), uint64(4); have != want {
		t.Fatalf("payee balance: have %d, want %d", have, want)
	}
	if have, want := st.GetBalance(toyAddr).Uint64(), uint64(6); have != want {
		t.Fatalf("contract balance: have %d, want %d", have, want)
	}
	for _, tt := range []struct{ account, want uint64 }{{0, 0}, {1, 0}, {6, 5}} {
		st.SetNonce(common.Address{5}, tt.account, tracing.NonceChangeUnspecified)
		ret, _, err := c.Execute(st, Call{ChainID: big.NewInt(1), Caller: common.Address{5}, Input: pack(t, a, "nonce"), Gas: 100_000})
		if err != nil {
			t.Fatalf("nonce: %v", err)
		}
		if have := new(big.Int).SetBytes(ret).Uint64(); have != tt.want {
			t.Errorf("TxNonce at account nonce %d: have %d, want %d", tt.account, have, tt.want)
		}
	}
}
