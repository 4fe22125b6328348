package rpc

import (
	"bytes"
	"context"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/arbiter-chain/arbiter/node/rules"
)

// callArgs are the transaction fields of eth_call and eth_estimateGas.
// Unknown fields are ignored.
type callArgs struct {
	From                 *common.Address   `json:"from"`
	To                   *common.Address   `json:"to"`
	Gas                  *hexutil.Uint64   `json:"gas"`
	GasPrice             *hexutil.Big      `json:"gasPrice"`
	MaxFeePerGas         *hexutil.Big      `json:"maxFeePerGas"`
	MaxPriorityFeePerGas *hexutil.Big      `json:"maxPriorityFeePerGas"`
	Value                *hexutil.Big      `json:"value"`
	Data                 *hexutil.Bytes    `json:"data"`
	Input                *hexutil.Bytes    `json:"input"`
	AccessList           *types.AccessList `json:"accessList"`
	ChainID              *hexutil.Big      `json:"chainId"`
}

// message turns args into a CallMsg. Gas defaults to, and is capped at,
// gasCap (the block gas limit).
func (a *callArgs) message(chainID *big.Int, gasCap uint64) (CallMsg, error) {
	if a.GasPrice != nil && (a.MaxFeePerGas != nil || a.MaxPriorityFeePerGas != nil) {
		return CallMsg{}, invalidParams("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")
	}
	if a.Data != nil && a.Input != nil && !bytes.Equal(*a.Data, *a.Input) {
		return CallMsg{}, invalidParams(`both "data" and "input" are set and not equal`)
	}
	if a.ChainID != nil && a.ChainID.ToInt().Cmp(chainID) != 0 {
		return CallMsg{}, invalidParams("chainId does not match: have %v, want %v", a.ChainID.ToInt(), chainID)
	}
	msg := CallMsg{To: a.To, Gas: gasCap, GasPrice: new(big.Int), Value: new(big.Int)}
	if a.From != nil {
		msg.From = *a.From
	}
	if a.Gas != nil && uint64(*a.Gas) < gasCap {
		msg.Gas = uint64(*a.Gas)
	}
	switch {
	case a.GasPrice != nil:
		msg.GasPrice.Set(a.GasPrice.ToInt())
	case a.MaxFeePerGas != nil:
		msg.GasPrice.Set(a.MaxFeePerGas.ToInt())
	}
	if msg.GasPrice.Sign() < 0 {
		return CallMsg{}, invalidParams("negative gas price")
	}
	if a.Value != nil {
		if a.Value.ToInt().Sign() < 0 {
			return CallMsg{}, invalidParams("negative value")
		}
		msg.Value.Set(a.Value.ToInt())
	}
	if a.Input != nil {
		msg.Data = *a.Input
	} else if a.Data != nil {
		msg.Data = *a.Data
	}
	return msg, nil
}

// intrinsicGas is the least gas a transaction carrying args can have, as
// the pool counts it.
func (a *callArgs) intrinsicGas(msg CallMsg) uint64 {
	var al types.AccessList
	if a.AccessList != nil {
		al = *a.AccessList
	}
	return rules.IntrinsicGas(types.NewTx(&types.DynamicFeeTx{To: msg.To, Data: msg.Data, AccessList: al}))
}

// Call is eth_call: execute read-only on the state after the given block
// (default latest). A revert comes back as error code 3 with the revert
// data, which ethclient decodes.
func (api *ethAPI) Call(ctx context.Context, args callArgs, bnh *gethrpc.BlockNumberOrHash) (hexutil.Bytes, error) {
	h, err := api.header(bnh)
	if err != nil {
		return nil, err
	}
	msg, err := args.message(api.chainID, h.GasLimit)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withRequestTimeout(ctx)
	defer cancel()
	ret, _, err := api.chain.Call(ctx, msg, h)
	if err != nil {
		return nil, err
	}
	if ret == nil {
		ret = []byte{}
	}
	return ret, nil
}

// EstimateGas is eth_estimateGas: the least gas with which the call
// succeeds, found by binary search between the intrinsic gas and the block
// gas limit (or the caller's gas, if lower). A call that fails even with
// the most gas returns that failure, so reverts carry their reason.
func (api *ethAPI) EstimateGas(ctx context.Context, args callArgs, bnh *gethrpc.BlockNumberOrHash) (hexutil.Uint64, error) {
	h, err := api.header(bnh)
	if err != nil {
		return 0, err
	}
	msg, err := args.message(api.chainID, h.GasLimit)
	if err != nil {
		return 0, err
	}
	ctx, cancel := withRequestTimeout(ctx)
	defer cancel()

	hi := msg.Gas
	lo := args.intrinsicGas(msg) - 1 // fails: below the intrinsic gas
	if hi <= lo {
		return 0, invalidParams("gas %d below intrinsic gas %d", hi, lo+1)
	}
	_, used, err := api.chain.Call(ctx, msg, h)
	if err != nil {
		return 0, err
	}
	// Less gas than was used cannot succeed; exactly what was used
	// usually does, so try it first.
	if used > lo+1 && used < hi {
		msg.Gas = used
		if _, _, err := api.chain.Call(ctx, msg, h); err == nil {
			return hexutil.Uint64(used), nil
		}
		lo = used
	}
	for lo+1 < hi {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		msg.Gas = lo + (hi-lo)/2
		if _, _, err := api.chain.Call(ctx, msg, h); err != nil {
			lo = msg.Gas
		} else {
			hi = msg.Gas
		}
	}
	return hexutil.Uint64(hi), nil
}
