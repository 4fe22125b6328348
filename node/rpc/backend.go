package rpc

import (
	"context"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/params"
)

// Chain is what the APIs read from the ledger.
type Chain interface {
	Config() *params.ChainConfig
	CurrentHeader() *types.Header
	// FinalizedHeader may return nil when nothing is final yet.
	FinalizedHeader() *types.Header
	GetHeaderByNumber(number uint64) *types.Header
	GetHeaderByHash(hash common.Hash) *types.Header
	// GetBlockByNumber returns the canonical block at number, nil if none.
	GetBlockByNumber(number uint64) *types.Block
	// GetBlockByHash returns any stored block, nil if none.
	GetBlockByHash(hash common.Hash) *types.Block
	// GetReceipts returns a block's receipts with their derived fields filled.
	GetReceipts(blockHash common.Hash) (types.Receipts, error)
	// GetTransaction looks a transaction up on the canonical chain only.
	GetTransaction(txHash common.Hash) (tx *types.Transaction, blockHash common.Hash, blockNumber uint64, index uint64, found bool)
	StateAt(root common.Hash) (*state.StateDB, error)
	// Call executes a message read-only on the state after header (no
	// signature, no nonce check). A revert returns an error that implements
	// rpc.DataError (ErrorData() returns the 0x-hex ABI-encoded revert data)
	// and rpc.Error with code 3, so ethclient shows the reason.
	Call(ctx context.Context, msg CallMsg, header *types.Header) (ret []byte, gasUsed uint64, err error)
	SubscribeNewHeads(ch chan<- *types.Header) event.Subscription
	SubscribeLogs(ch chan<- []*types.Log) event.Subscription
}

// CallMsg is a message for Chain.Call. Value and GasPrice are never nil.
type CallMsg struct {
	From     common.Address
	To       *common.Address
	Gas      uint64
	GasPrice *big.Int
	Value    *big.Int
	Data     []byte
}

// TxPool is what eth_sendRawTransaction and pending queries need.
type TxPool interface {
	// Submit validates tx from a client and queues it, or refuses it;
	// it may hold the request while the pool drains a backlog (until ctx
	// ends at the latest). Its error is returned to the client with its
	// message unchanged.
	Submit(ctx context.Context, tx *types.Transaction) error
	// PendingNonce is the next nonce of addr counting queued transactions.
	PendingNonce(addr common.Address) uint64
	// Get returns a queued transaction, nil if unknown.
	Get(hash common.Hash) *types.Transaction
}

// PeerCounter reports the number of connected peers for net_peerCount.
type PeerCounter interface {
	PeerCount() int
}
