package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/node/rules"
)

// RevertError is a contract call that reverted. Data is the ABI-encoded
// revert payload (Error(string) for a reason); the JSON-RPC layer returns it
// as error data with code 3, which ethclient and ethers.js decode.
type RevertError struct {
	Reason string
	Data   []byte
}

func (e *RevertError) Error() string {
	if e.Reason == "" {
		return "execution reverted"
	}
	return "execution reverted: " + e.Reason
}

// ErrorCode is the JSON-RPC error code for a revert.
func (e *RevertError) ErrorCode() int { return 3 }

// ErrorData is the hex revert payload.
func (e *RevertError) ErrorData() interface{} { return hexutil.Encode(e.Data) }

// NewRevert makes a RevertError with a standard Error(string) payload.
func NewRevert(reason string) *RevertError {
	data := append([]byte{}, revertSelector...)
	packed, err := abi.Arguments{{Type: stringType}}.Pack(reason)
	if err != nil {
		panic(err) // packing a string cannot fail
	}
	return &RevertError{Reason: reason, Data: append(data, packed...)}
}

var (
	revertSelector = []byte{0x08, 0xc3, 0x79, 0xa0} // keccak256("Error(string)")[:4]
	stringType, _  = abi.NewType("string", "", nil)

	errCallGas = errors.New("call gas below intrinsic cost")
)

// CallMsg is an unsigned message for eth_call and eth_estimateGas.
type CallMsg struct {
	From  common.Address
	To    *common.Address
	Gas   uint64
	Value *big.Int
	Data  []byte
}

// Call executes msg on a throwaway copy of the state after header and
// returns the output and the gas used. Nothing is written.
func (c *Chain) Call(ctx context.Context, msg CallMsg, header *types.Header) ([]byte, uint64, error) {
	if msg.To == nil {
		return nil, 0, rules.ErrContractCreation
	}
	st, err := c.StateAt(header.Root)
	if err != nil {
		return nil, 0, err
	}
	gas := msg.Gas
	if gas == 0 || gas > c.gen.GasLimit {
		gas = c.gen.GasLimit
	}
	intrinsic := rules.IntrinsicGas(types.NewTx(&types.LegacyTx{To: msg.To, Data: msg.Data}))
	if gas < intrinsic {
		return nil, 0, fmt.Errorf("%w: have %d, want %d", errCallGas, gas, intrinsic)
	}
	value := new(uint256.Int)
	if msg.Value != nil {
		var overflow bool
		if value, overflow = uint256.FromBig(msg.Value); overflow {
			return nil, 0, rules.ErrFeeTooHigh
		}
	}
	if st.GetBalance(msg.From).Cmp(value) < 0 {
		return nil, 0, rules.ErrInsufficientFunds
	}
	// As in a transaction, the sender's nonce is used before the call runs.
	st.SetNonce(msg.From, st.GetNonce(msg.From)+1, tracing.NonceChangeEoACall)
	st.SubBalance(msg.From, value, tracing.BalanceChangeTransfer)
	st.AddBalance(*msg.To, value, tracing.BalanceChangeTransfer)
	if c.contracts == nil || !c.contracts.Has(*msg.To) {
		if serr := st.Error(); serr != nil {
			return nil, 0, fmt.Errorf("%w: %v", ErrNoState, serr)
		}
		return nil, intrinsic, nil
	}
	env := Env{Number: header.Number.Uint64(), Time: header.Time, Coinbase: header.Coinbase, GasLimit: header.GasLimit}
	ret, used, err := c.runContract(env, st, msg.From, *msg.To, value, msg.Data, gas-intrinsic)
	if serr := st.Error(); serr != nil {
		// A trie node went missing under the call (the state was released
		// while it ran, decision 35): its answer read zeros.
		return nil, 0, fmt.Errorf("%w: %v", ErrNoState, serr)
	}
	return ret, intrinsic + used, err
}
