package watcher

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// fakeChain is a ChainClient over blocks held in memory. Blocks are
// appended with mine and replaced from a height with fork; every block's
// hash depends on its fork label, so a replaced block gets a new hash.
type fakeChain struct {
	chainID *big.Int

	mu       sync.Mutex
	headers  []*types.Header // index = number; 0 is genesis
	logs     [][]types.Log   // logs of each block
	txs      map[common.Hash]*types.Transaction
	sent     []*types.Transaction
	nonces   map[common.Address]uint64
	estimate func(ethereum.CallMsg) (uint64, error)
	logLimit int // eth_getLogs refuses to return more logs; 0 for no limit
}

// rpcError is a JSON-RPC error as the node returns it (a revert, a
// refusal).
type rpcError struct {
	code int
	msg  string
}

func (e *rpcError) Error() string  { return e.msg }
func (e *rpcError) ErrorCode() int { return e.code }

func newFakeChain(chainID int64) *fakeChain {
	c := &fakeChain{
		chainID: big.NewInt(chainID),
		txs:     make(map[common.Hash]*types.Transaction),
		nonces:  make(map[common.Address]uint64),
	}
	c.headers = []*types.Header{{Number: big.NewInt(0), Extra: []byte("genesis")}}
	c.logs = [][]types.Log{nil}
	return c
}

// mine appends a block on fork label holding logs (their block fields and
// indices are filled in) and the transactions txs, and returns its number.
func (c *fakeChain) mine(label string, logs []types.Log, txs ...*types.Transaction) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	parent := c.headers[len(c.headers)-1]
	h := &types.Header{Number: big.NewInt(int64(len(c.headers))), ParentHash: parent.Hash(), Extra: []byte(label)}
	n := h.Number.Uint64()
	out := make([]types.Log, len(logs))
	for i, l := range logs {
		l.BlockNumber, l.BlockHash, l.Index = n, h.Hash(), uint(i)
		if l.TxHash == (common.Hash{}) {
			l.TxHash = common.BytesToHash([]byte(fmt.Sprintf("tx %d/%d %s", n, i, label)))
		}
		out[i] = l
	}
	for _, tx := range txs {
		c.txs[tx.Hash()] = tx
	}
	c.headers = append(c.headers, h)
	c.logs = append(c.logs, out)
	return n
}

// fork drops the blocks from height on; mine then builds the new branch.
func (c *fakeChain) fork(height uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.headers, c.logs = c.headers[:height], c.logs[:height]
}

// sentTxs returns the transactions sent so far.
func (c *fakeChain) sentTxs() []*types.Transaction {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*types.Transaction(nil), c.sent...)
}

func (c *fakeChain) ChainID(context.Context) (*big.Int, error) {
	return new(big.Int).Set(c.chainID), nil
}

func (c *fakeChain) BlockNumber(context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return uint64(len(c.headers) - 1), nil
}

func (c *fakeChain) HeaderByNumber(_ context.Context, n *big.Int) (*types.Header, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n == nil {
		return types.CopyHeader(c.headers[len(c.headers)-1]), nil
	}
	if !n.IsUint64() || n.Uint64() >= uint64(len(c.headers)) {
		return nil, ethereum.NotFound
	}
	return types.CopyHeader(c.headers[n.Uint64()]), nil
}

func (c *fakeChain) FilterLogs(_ context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	from, to := q.FromBlock.Uint64(), q.ToBlock.Uint64()
	var out []types.Log
	for n := from; n <= to && n < uint64(len(c.logs)); n++ {
		for _, l := range c.logs[n] {
			if len(q.Addresses) == 0 || l.Address == q.Addresses[0] {
				out = append(out, l)
			}
		}
	}
	if c.logLimit > 0 && len(out) > c.logLimit {
		return nil, &rpcError{code: -32005, msg: "query returned too many logs"}
	}
	return out, nil
}

func (c *fakeChain) TransactionByHash(_ context.Context, h common.Hash) (*types.Transaction, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tx, ok := c.txs[h]; ok {
		return tx, false, nil
	}
	return nil, false, ethereum.NotFound
}

func (c *fakeChain) EstimateGas(_ context.Context, msg ethereum.CallMsg) (uint64, error) {
	if c.estimate != nil {
		return c.estimate(msg)
	}
	return 100_000, nil
}

func (c *fakeChain) SuggestGasPrice(context.Context) (*big.Int, error) { return big.NewInt(1), nil }

func (c *fakeChain) PendingNonceAt(_ context.Context, a common.Address) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nonces[a], nil
}

// SendTransaction accepts a transaction once, like a pool: the same
// transaction again is "already known", a used nonce "nonce too low".
func (c *fakeChain) SendTransaction(_ context.Context, tx *types.Transaction) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.txs[tx.Hash()]; ok {
		return &rpcError{code: -32000, msg: "already known"}
	}
	from, err := types.Sender(types.LatestSignerForChainID(c.chainID), tx)
	if err != nil {
		return &rpcError{code: -32000, msg: err.Error()}
	}
	if tx.Nonce() != c.nonces[from] {
		return &rpcError{code: -32000, msg: "nonce too low"}
	}
	c.nonces[from]++
	c.txs[tx.Hash()] = tx
	c.sent = append(c.sent, tx)
	return nil
}

var _ ChainClient = (*fakeChain)(nil)

// requireNoErr fails the test on err.
func requireNoErr(tb testing.TB, what string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: have %v, want nil", what, err)
	}
}
