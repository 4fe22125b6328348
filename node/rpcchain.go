package node

import (
	"context"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/rpc"
)

// rpcChain adapts the chain to the RPC layer's Chain interface.
type rpcChain struct{ *chain.Chain }

func (c rpcChain) Call(ctx context.Context, msg rpc.CallMsg, header *types.Header) ([]byte, uint64, error) {
	return c.Chain.Call(ctx, chain.CallMsg{From: msg.From, To: msg.To, Gas: msg.Gas, Value: msg.Value, Data: msg.Data}, header)
}
