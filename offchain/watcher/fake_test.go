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
// Sent transactions wait in a pool until the next mine puts them in its
// block.
type fakeChain struct {
	chainID *big.Int

	mu       sync.Mutex
	headers  []*types.Header // index = number; 0 is genesis
	logs     [][]types.Log   // logs of each block
	txs      map[common.Hash]*types.Transaction
	pool     map[common.Hash]*types.Transaction // sent, not yet in a block
	blockOf  map[common.Hash]uint64             // block of each sent transaction mined
	sent     []*types.Transaction
	nonces   map[common.Address]uint64 // nonce after the account's mined transactions
	estimate func(ethereum.CallMsg) (uint64, error)
	logLimit int // eth_getLogs refuses to return more logs; 0 for no limit
	refuse   int // SendTransaction refuses this many more sends as a full pool would
	sends    int // SendTransaction calls
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
		pool:    make(map[common.Hash]*types.Transaction),
		blockOf: make(map[common.Hash]uint64),
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
	// Pooled transactions go in nonce order; one behind a gap stays.
	for progress := true; progress; {
		progress = false
		for hash, tx := range c.pool {
			if from, _ := types.Sender(types.LatestSignerForChainID(c.chainID), tx); tx.Nonce() == c.nonces[from] {
				c.nonces[from]++
				c.blockOf[hash] = n
				delete(c.pool, hash)
				progress = true
			}
		}
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

// evict drops a sent transaction from the pool, as a full pool drops its
// cheapest.
func (c *fakeChain) evict(h common.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pool, h)
	delete(c.txs, h)
}

// useNonce takes the account's next nonce, as another transaction of its
// own mined elsewhere would.
func (c *fakeChain) useNonce(a common.Address) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nonces[a]++
}

// minedIn returns the block a sent transaction is in; ok is false while
// it is pooled or unknown.
func (c *fakeChain) minedIn(h common.Hash) (n uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok = c.blockOf[h]
	return n, ok
}

func (c *fakeChain) TransactionByHash(_ context.Context, h common.Hash) (*types.Transaction, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tx, ok := c.pool[h]; ok {
		return tx, true, nil
	}
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

// PendingNonceAt is the account's nonce after its mined transactions and
// the pooled ones that follow them without a gap.
func (c *fakeChain) PendingNonceAt(_ context.Context, a common.Address) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pendingNonce(a), nil
}

func (c *fakeChain) pendingNonce(a common.Address) uint64 {
	n := c.nonces[a]
	for c.pooledAt(a, n) != nil {
		n++
	}
	return n
}

func (c *fakeChain) pooledAt(a common.Address, nonce uint64) *types.Transaction {
	for _, tx := range c.pool {
		if from, _ := types.Sender(types.LatestSignerForChainID(c.chainID), tx); from == a && tx.Nonce() == nonce {
			return tx
		}
	}
	return nil
}

// SendTransaction accepts a transaction once, like a pool: the same
// transaction again is "already known", a used nonce "nonce too low", a
// pooled one "replacement transaction underpriced"; while refuse is
// positive it refuses as a full pool.
func (c *fakeChain) SendTransaction(_ context.Context, tx *types.Transaction) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sends++
	if _, ok := c.txs[tx.Hash()]; ok {
		return &rpcError{code: -32000, msg: "already known"}
	}
	if c.refuse > 0 {
		c.refuse--
		return &rpcError{code: -32000, msg: "transaction pool is full"}
	}
	from, err := types.Sender(types.LatestSignerForChainID(c.chainID), tx)
	if err != nil {
		return &rpcError{code: -32000, msg: err.Error()}
	}
	switch {
	case tx.Nonce() < c.nonces[from]:
		return &rpcError{code: -32000, msg: "nonce too low"}
	case c.pooledAt(from, tx.Nonce()) != nil:
		return &rpcError{code: -32000, msg: "replacement transaction underpriced"}
	}
	c.txs[tx.Hash()] = tx
	c.pool[tx.Hash()] = tx
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
