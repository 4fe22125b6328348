package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/arbiter-chain/arbiter/node/rules"
)

func TestChainInfo(t *testing.T) {
	e := newTestEnv(t, Config{Peers: fixedPeers(7)})
	ctx := context.Background()
	rawString := func(method string) func() (any, error) {
		return func() (any, error) {
			var s any
			err := e.raw.CallContext(ctx, &s, method)
			return s, err
		}
	}
	tests := []struct {
		name string
		call func() (any, error)
		want any
	}{
		{"eth_chainId", func() (any, error) { return e.client.ChainID(ctx) }, testChainID},
		{"net_version", func() (any, error) { return e.client.NetworkID(ctx) }, testChainID},
		{"net_version decimal", rawString("net_version"), "4242"},
		{"eth_blockNumber", func() (any, error) { return e.client.BlockNumber(ctx) }, uint64(3)},
		{"eth_syncing", func() (any, error) { return e.client.SyncProgress(ctx) }, (*ethereum.SyncProgress)(nil)},
		{"net_peerCount", func() (any, error) { return e.client.PeerCount(ctx) }, uint64(7)},
		{"net_listening", rawString("net_listening"), true},
		{"web3_clientVersion", rawString("web3_clientVersion"), "arbiter/test"},
		{"eth_accounts", rawString("eth_accounts"), []any{}},
		{"web3_sha3", func() (any, error) {
			var h hexutil.Bytes
			err := e.raw.CallContext(ctx, &h, "web3_sha3", hexutil.Bytes("abc"))
			return common.BytesToHash(h), err
		}, crypto.Keccak256Hash([]byte("abc"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have, err := tt.call()
			if err != nil {
				t.Fatal(err)
			}
			if !equal(have, tt.want) {
				t.Errorf("have %v, want %v", have, tt.want)
			}
		})
	}
}

// equal compares big.Ints by value and everything else by JSON.
func equal(a, b any) bool {
	if x, ok := a.(*big.Int); ok {
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestGetBlock(t *testing.T) {
	e := newTestEnv(t, Config{})
	ctx := context.Background()
	blocks := e.chain.blocks
	tests := []struct {
		name string
		get  func() (*types.Block, error)
		want *types.Block // nil: not found
	}{
		{"number 0", func() (*types.Block, error) { return e.client.BlockByNumber(ctx, big.NewInt(0)) }, blocks[0]},
		{"number 1 with txs", func() (*types.Block, error) { return e.client.BlockByNumber(ctx, big.NewInt(1)) }, blocks[1]},
		{"number 2 empty", func() (*types.Block, error) { return e.client.BlockByNumber(ctx, big.NewInt(2)) }, blocks[2]},
		{"latest", func() (*types.Block, error) { return e.client.BlockByNumber(ctx, nil) }, blocks[3]},
		{"pending is latest", func() (*types.Block, error) {
			return e.client.BlockByNumber(ctx, big.NewInt(int64(gethrpc.PendingBlockNumber)))
		}, blocks[3]},
		{"earliest", func() (*types.Block, error) {
			return e.client.BlockByNumber(ctx, big.NewInt(int64(gethrpc.EarliestBlockNumber)))
		}, blocks[0]},
		{"finalized", func() (*types.Block, error) {
			return e.client.BlockByNumber(ctx, big.NewInt(int64(gethrpc.FinalizedBlockNumber)))
		}, blocks[2]},
		{"safe is finalized", func() (*types.Block, error) {
			return e.client.BlockByNumber(ctx, big.NewInt(int64(gethrpc.SafeBlockNumber)))
		}, blocks[2]},
		{"by hash", func() (*types.Block, error) { return e.client.BlockByHash(ctx, blocks[1].Hash()) }, blocks[1]},
		{"by hash non-canonical", func() (*types.Block, error) { return e.client.BlockByHash(ctx, e.chain.side.Hash()) }, e.chain.side},
		{"unknown number", func() (*types.Block, error) { return e.client.BlockByNumber(ctx, big.NewInt(99)) }, nil},
		{"unknown hash", func() (*types.Block, error) { return e.client.BlockByHash(ctx, common.HexToHash("0x1")) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have, err := tt.get()
			if tt.want == nil {
				if !errors.Is(err, ethereum.NotFound) {
					t.Fatalf("have %v, %v; want NotFound", have, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if have.Hash() != tt.want.Hash() {
				t.Errorf("hash: have %s, want %s", have.Hash(), tt.want.Hash())
			}
			haveTxs, wantTxs := txHashes(have.Transactions()), txHashes(tt.want.Transactions())
			if !slices.Equal(haveTxs, wantTxs) {
				t.Errorf("txs: have %v, want %v", haveTxs, wantTxs)
			}
			for i, tx := range have.Transactions() {
				from, err := types.Sender(e.signer, tx)
				if err != nil || from != mustSender(t, e.signer, tt.want.Transactions()[i]) {
					t.Errorf("tx %d sender: have %s (%v)", i, from, err)
				}
			}
		})
	}
	t.Run("header by number", func(t *testing.T) {
		h, err := e.client.HeaderByNumber(ctx, big.NewInt(3))
		if err != nil || h.Hash() != blocks[3].Hash() {
			t.Fatalf("have %v, %v; want %s", h, err, blocks[3].Hash())
		}
	})
}

func txHashes(txs types.Transactions) []common.Hash {
	out := make([]common.Hash, len(txs))
	for i, tx := range txs {
		out[i] = tx.Hash()
	}
	return out
}

func mustSender(t testing.TB, s types.Signer, tx *types.Transaction) common.Address {
	from, err := types.Sender(s, tx)
	if err != nil {
		t.Fatal(err)
	}
	return from
}

func TestFinalizedMissing(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.chain.mu.Lock()
	e.chain.finalized = nil
	e.chain.mu.Unlock()
	_, err := e.client.HeaderByNumber(context.Background(), big.NewInt(int64(gethrpc.FinalizedBlockNumber)))
	if err == nil || !strings.Contains(err.Error(), "finalized block not found") {
		t.Fatalf("have %v, want finalized block not found", err)
	}
}

// TestBlockJSON checks the fields ethclient does not look at.
func TestBlockJSON(t *testing.T) {
	e := newTestEnv(t, Config{})
	var block struct {
		Hash         common.Hash       `json:"hash"`
		Size         hexutil.Uint64    `json:"size"`
		Uncles       []common.Hash     `json:"uncles"`
		Transactions []json.RawMessage `json:"transactions"`
	}
	if err := e.raw.Call(&block, "eth_getBlockByNumber", "0x1", true); err != nil {
		t.Fatal(err)
	}
	want := e.chain.blocks[1]
	if block.Hash != want.Hash() || uint64(block.Size) != want.Size() || block.Uncles == nil || len(block.Uncles) != 0 {
		t.Errorf("have hash %s size %d uncles %v, want %s %d []", block.Hash, block.Size, block.Uncles, want.Hash(), want.Size())
	}
	var tx struct {
		From             common.Address `json:"from"`
		BlockHash        common.Hash    `json:"blockHash"`
		BlockNumber      hexutil.Uint64 `json:"blockNumber"`
		TransactionIndex hexutil.Uint64 `json:"transactionIndex"`
		GasPrice         *hexutil.Big   `json:"gasPrice"`
	}
	if err := json.Unmarshal(block.Transactions[1], &tx); err != nil {
		t.Fatal(err)
	}
	wantPrice := big.NewInt(3 * params.GWei) // tip 2 + base fee 1
	if tx.From != e.addr1 || tx.BlockHash != want.Hash() || tx.BlockNumber != 1 || tx.TransactionIndex != 1 || tx.GasPrice.ToInt().Cmp(wantPrice) != 0 {
		t.Errorf("have %+v, want from %s block %s #1 index 1 price %v", tx, e.addr1, want.Hash(), wantPrice)
	}
	var hashes struct {
		Transactions []common.Hash `json:"transactions"`
	}
	if err := e.raw.Call(&hashes, "eth_getBlockByNumber", "0x2", false); err != nil {
		t.Fatal(err)
	}
	if hashes.Transactions == nil {
		t.Error("empty block: transactions is null, want []")
	}
}

func TestBlockIndexMethods(t *testing.T) {
	e := newTestEnv(t, Config{})
	ctx := context.Background()
	b1 := e.chain.blocks[1]
	n, err := e.client.TransactionCount(ctx, b1.Hash())
	if err != nil || n != 2 {
		t.Errorf("TransactionCount: have %d, %v; want 2", n, err)
	}
	tx, err := e.client.TransactionInBlock(ctx, b1.Hash(), 1)
	if err != nil || tx.Hash() != e.txs[1].Hash() {
		t.Errorf("TransactionInBlock: have %v, %v; want %s", tx, err, e.txs[1].Hash())
	}
	if _, err := e.client.TransactionInBlock(ctx, b1.Hash(), 5); !errors.Is(err, ethereum.NotFound) {
		t.Errorf("TransactionInBlock out of range: have %v, want NotFound", err)
	}
	var byNumber *types.Transaction
	if err := e.raw.Call(&byNumber, "eth_getTransactionByBlockNumberAndIndex", "0x3", "0x0"); err != nil || byNumber.Hash() != e.txs[2].Hash() {
		t.Errorf("by number and index: have %v, %v; want %s", byNumber, err, e.txs[2].Hash())
	}
	var count hexutil.Uint
	if err := e.raw.Call(&count, "eth_getBlockTransactionCountByNumber", "latest"); err != nil || count != 1 {
		t.Errorf("count by number: have %d, %v; want 1", count, err)
	}
	receipts, err := e.client.BlockReceipts(ctx, gethrpc.BlockNumberOrHashWithNumber(1))
	if err != nil || len(receipts) != 2 || receipts[1].TxHash != e.txs[1].Hash() {
		t.Errorf("BlockReceipts: have %v, %v", receipts, err)
	}
}

func TestState(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.pool.nonces[e.addr1] = 9
	ctx := context.Background()
	genesisBalance := new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether))
	b1 := e.chain.blocks[1]
	tests := []struct {
		name string
		call func() (any, error)
		want any
	}{
		{"balance genesis", func() (any, error) { return e.client.BalanceAt(ctx, e.addr1, big.NewInt(0)) }, genesisBalance},
		{"balance latest", func() (any, error) { return e.client.BalanceAt(ctx, e.addr2, nil) }, e.stateBalance(t, 3, e.addr2)},
		{"balance by hash", func() (any, error) { return e.client.BalanceAtHash(ctx, e.addr1, b1.Hash()) }, e.stateBalance(t, 1, e.addr1)},
		{"balance pending", func() (any, error) { return e.client.PendingBalanceAt(ctx, e.addr1) }, e.stateBalance(t, 3, e.addr1)},
		{"nonce genesis", func() (any, error) { return e.client.NonceAt(ctx, e.addr1, big.NewInt(0)) }, uint64(0)},
		{"nonce latest", func() (any, error) { return e.client.NonceAt(ctx, e.addr1, nil) }, uint64(2)},
		{"nonce by hash", func() (any, error) { return e.client.NonceAtHash(ctx, e.addr2, b1.Hash()) }, uint64(0)},
		{"nonce pending from pool", func() (any, error) { return e.client.PendingNonceAt(ctx, e.addr1) }, uint64(9)},
		{"code empty", func() (any, error) { return e.client.CodeAt(ctx, contractAddr, nil) }, []byte{}},
		{"storage", func() (any, error) { return e.client.StorageAt(ctx, contractAddr, storageSlot, nil) }, storageValue.Bytes()},
		{"storage short slot", func() (any, error) {
			var v hexutil.Bytes
			err := e.raw.Call(&v, "eth_getStorageAt", contractAddr, "0x1", "latest")
			return []byte(v), err
		}, storageValue.Bytes()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have, err := tt.call()
			if err != nil {
				t.Fatal(err)
			}
			if !equal(have, tt.want) {
				t.Errorf("have %v, want %v", have, tt.want)
			}
		})
	}
	t.Run("code is 0x", func(t *testing.T) {
		var s string
		if err := e.raw.Call(&s, "eth_getCode", e.addr1, "latest"); err != nil || s != "0x" {
			t.Errorf("have %q, %v; want 0x", s, err)
		}
	})
	t.Run("non-canonical hash", func(t *testing.T) {
		side := e.chain.side.Hash()
		var bal hexutil.Big
		if err := e.raw.Call(&bal, "eth_getBalance", e.addr1, map[string]any{"blockHash": side}); err != nil {
			t.Errorf("any stored block: %v", err)
		}
		err := e.raw.Call(&bal, "eth_getBalance", e.addr1, map[string]any{"blockHash": side, "requireCanonical": true})
		if err == nil || !strings.Contains(err.Error(), "not currently canonical") {
			t.Errorf("requireCanonical: have %v, want not canonical", err)
		}
	})
	t.Run("unknown block", func(t *testing.T) {
		_, err := e.client.BalanceAt(ctx, e.addr1, big.NewInt(50))
		if err == nil || !strings.Contains(err.Error(), "header not found") {
			t.Errorf("have %v, want header not found", err)
		}
	})
	t.Run("bad slot", func(t *testing.T) {
		var v hexutil.Bytes
		err := e.raw.Call(&v, "eth_getStorageAt", contractAddr, "zz", "latest")
		if code := errorCode(err); code != codeInvalidParams {
			t.Errorf("have %v (code %d), want %d", err, code, codeInvalidParams)
		}
	})
}

func (e *testEnv) stateBalance(t testing.TB, block uint64, a common.Address) *big.Int {
	st, err := e.chain.StateAt(e.chain.blocks[block].Root())
	if err != nil {
		t.Fatal(err)
	}
	return st.GetBalance(a).ToBig()
}

func errorCode(err error) int {
	var ec gethrpc.Error
	if errors.As(err, &ec) {
		return ec.ErrorCode()
	}
	return 0
}

func TestTransactions(t *testing.T) {
	e := newTestEnv(t, Config{})
	ctx := context.Background()
	pending, err := types.SignNewTx(e.key2, e.signer, &types.DynamicFeeTx{ChainID: testChainID, Nonce: 1, To: &e.addr1, Gas: 21000,
		GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(5 * params.GWei)})
	if err != nil {
		t.Fatal(err)
	}
	e.pool.txs[pending.Hash()] = pending

	tests := []struct {
		name        string
		hash        common.Hash
		wantPending bool
		wantFrom    common.Address
		notFound    bool
	}{
		{"mined legacy", e.txs[0].Hash(), false, e.addr1, false},
		{"mined dynamic fee", e.txs[2].Hash(), false, e.addr2, false},
		{"pending from pool", pending.Hash(), true, e.addr2, false},
		{"unknown", common.HexToHash("0x42"), false, common.Address{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, isPending, err := e.client.TransactionByHash(ctx, tt.hash)
			if tt.notFound {
				if !errors.Is(err, ethereum.NotFound) {
					t.Fatalf("have %v, want NotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tx.Hash() != tt.hash || isPending != tt.wantPending {
				t.Errorf("have %s pending=%v, want %s pending=%v", tx.Hash(), isPending, tt.hash, tt.wantPending)
			}
			if from := mustSender(t, e.signer, tx); from != tt.wantFrom {
				t.Errorf("from: have %s, want %s", from, tt.wantFrom)
			}
		})
	}
	t.Run("pending has null block fields", func(t *testing.T) {
		var m map[string]any
		if err := e.raw.Call(&m, "eth_getTransactionByHash", pending.Hash()); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"blockHash", "blockNumber", "transactionIndex"} {
			if v, ok := m[k]; !ok || v != nil {
				t.Errorf("%s: have %v (present %v), want null", k, v, ok)
			}
		}
	})
	t.Run("sender from server", func(t *testing.T) {
		from, err := e.client.TransactionSender(ctx, e.txs[1], e.chain.blocks[1].Hash(), 1)
		if err != nil || from != e.addr1 {
			t.Errorf("have %s, %v; want %s", from, err, e.addr1)
		}
	})
}

func TestReceipts(t *testing.T) {
	e := newTestEnv(t, Config{})
	ctx := context.Background()
	for i, tx := range e.txs {
		t.Run(tx.Hash().Hex()[:10], func(t *testing.T) {
			_, blockHash, number, index, _ := e.chain.GetTransaction(tx.Hash())
			receipts, _ := e.chain.GetReceipts(blockHash)
			want := receipts[index]
			have, err := e.client.TransactionReceipt(ctx, tx.Hash())
			if err != nil {
				t.Fatal(err)
			}
			if have.TxHash != want.TxHash || have.BlockHash != blockHash || have.BlockNumber.Uint64() != number ||
				have.TransactionIndex != uint(index) || have.Status != types.ReceiptStatusSuccessful ||
				have.GasUsed != want.GasUsed || have.CumulativeGasUsed != want.CumulativeGasUsed ||
				have.Bloom != want.Bloom || have.Type != tx.Type() ||
				have.EffectiveGasPrice.Cmp(effectiveGasPrice(tx, testBaseFee)) != 0 || len(have.Logs) != len(want.Logs) {
				t.Errorf("receipt %d:\nhave %+v\nwant %+v", i, have, want)
			}
			for j, l := range have.Logs {
				if l.Index != want.Logs[j].Index || l.TxHash != tx.Hash() || l.BlockHash != blockHash || l.Address != want.Logs[j].Address {
					t.Errorf("log %d: have %+v, want %+v", j, l, want.Logs[j])
				}
			}

			var m map[string]json.RawMessage
			if err := e.raw.Call(&m, "eth_getTransactionReceipt", tx.Hash()); err != nil {
				t.Fatal(err)
			}
			checks := map[string]string{
				"from":            `"` + strings.ToLower(mustSender(t, e.signer, tx).Hex()) + `"`,
				"to":              `"` + strings.ToLower(tx.To().Hex()) + `"`,
				"contractAddress": "null",
				"type":            `"` + hexutil.EncodeUint64(uint64(tx.Type())) + `"`,
			}
			for k, v := range checks {
				if string(m[k]) != v {
					t.Errorf("%s: have %s, want %s", k, m[k], v)
				}
			}
			if string(m["logs"]) == "null" {
				t.Error("logs: null, want []")
			}
			if _, ok := m["root"]; ok {
				t.Error("status receipt carries root")
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		if _, err := e.client.TransactionReceipt(ctx, common.HexToHash("0x42")); !errors.Is(err, ethereum.NotFound) {
			t.Errorf("have %v, want NotFound", err)
		}
	})
}

func TestSendRawTransaction(t *testing.T) {
	e := newTestEnv(t, Config{})
	ctx := context.Background()
	tx, err := types.SignNewTx(e.key1, e.signer, &types.DynamicFeeTx{ChainID: testChainID, Nonce: 2, To: &e.addr2, Gas: 21000,
		GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(5 * params.GWei), Value: big.NewInt(7)})
	if err != nil {
		t.Fatal(err)
	}
	valid, _ := tx.MarshalBinary()
	tests := []struct {
		name    string
		raw     hexutil.Bytes
		poolErr error
		wantErr string // empty: accepted
		code    int
	}{
		{"valid", valid, nil, "", 0},
		{"pool refuses", valid, rules.ErrNonceTooLow, rules.ErrNonceTooLow.Error(), -32000},
		{"pool wrapped error", valid, errWrapped, errWrapped.Error(), -32000},
		{"malformed", hexutil.Bytes{0x02, 0xc0, 0xff}, nil, "invalid raw transaction", codeInvalidParams},
		{"truncated", valid[:len(valid)-3], nil, "invalid raw transaction", codeInvalidParams},
		{"empty", hexutil.Bytes{}, nil, "invalid raw transaction: empty", codeInvalidParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.pool.setErr(tt.poolErr)
			var hash common.Hash
			err := e.raw.CallContext(ctx, &hash, "eth_sendRawTransaction", tt.raw)
			if tt.wantErr == "" {
				if err != nil || hash != tx.Hash() || e.pool.Get(tx.Hash()) == nil {
					t.Fatalf("have %s, %v; want %s in pool", hash, err, tx.Hash())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errorCode(err) != tt.code {
				t.Fatalf("have %v (code %d), want %q (code %d)", err, errorCode(err), tt.wantErr, tt.code)
			}
		})
	}
	t.Run("ethclient SendTransaction", func(t *testing.T) {
		e.pool.setErr(nil)
		if err := e.client.SendTransaction(ctx, tx); err != nil {
			t.Fatal(err)
		}
	})
}

var errWrapped = fmt.Errorf("%w: have 1, want 2", rules.ErrInsufficientFunds)

func TestFees(t *testing.T) {
	tip := big.NewInt(params.GWei / 10)
	e := newTestEnv(t, Config{GasPrice: tip})
	ctx := context.Background()
	price, err := e.client.SuggestGasPrice(ctx)
	if want := new(big.Int).Add(tip, testBaseFee); err != nil || price.Cmp(want) != 0 {
		t.Errorf("gasPrice: have %v, %v; want %v", price, err, want)
	}
	gotTip, err := e.client.SuggestGasTipCap(ctx)
	if err != nil || gotTip.Cmp(tip) != 0 {
		t.Errorf("maxPriorityFeePerGas: have %v, %v; want %v", gotTip, err, tip)
	}

	t.Run("zero price", func(t *testing.T) {
		z := newTestEnv(t, Config{GasPrice: new(big.Int)})
		tip, err := z.client.SuggestGasTipCap(ctx)
		if err != nil || tip.Sign() != 0 {
			t.Errorf("have %v, %v; want 0", tip, err)
		}
	})

	hist, err := e.client.FeeHistory(ctx, 3, nil, []float64{0, 50, 100})
	if err != nil {
		t.Fatal(err)
	}
	if hist.OldestBlock.Uint64() != 1 || len(hist.BaseFee) != 4 || len(hist.GasUsedRatio) != 3 || len(hist.Reward) != 3 {
		t.Fatalf("have %+v, want oldest 1, 4 base fees, 3 ratios, 3 rewards", hist)
	}
	for i, b := range hist.BaseFee {
		if b.Cmp(testBaseFee) != 0 {
			t.Errorf("base fee %d: have %v, want %v", i, b, testBaseFee)
		}
	}
	b1 := e.chain.blocks[1]
	if want := float64(b1.GasUsed()) / float64(b1.GasLimit()); hist.GasUsedRatio[0] != want {
		t.Errorf("gas used ratio: have %v, want %v", hist.GasUsedRatio[0], want)
	}
	// Block 1 tips: legacy 3 gwei - 1 base = 2 gwei; dynamic min(2, 10-1) = 2 gwei.
	// Block 2 empty. Block 3: min(1, 1.5-1) = 0.5 gwei.
	wantRewards := [][]int64{{2 * params.GWei, 2 * params.GWei, 2 * params.GWei}, {0, 0, 0}, {params.GWei / 2, params.GWei / 2, params.GWei / 2}}
	for i, r := range hist.Reward {
		for j, v := range r {
			if v.Int64() != wantRewards[i][j] {
				t.Errorf("reward[%d][%d]: have %v, want %d", i, j, v, wantRewards[i][j])
			}
		}
	}
	if _, err := e.client.FeeHistory(ctx, 1, nil, []float64{50, 10}); errorCode(err) != codeInvalidParams {
		t.Errorf("descending percentiles: have %v, want invalid params", err)
	}
}

func TestCall(t *testing.T) {
	e := newTestEnv(t, Config{})
	ctx := context.Background()
	data := []byte{0xde, 0xad}
	tests := []struct {
		name       string
		call       func() ([]byte, error)
		want       []byte
		wantRevert bool
		wantErr    string
	}{
		{"latest", func() ([]byte, error) {
			return e.client.CallContract(ctx, ethereum.CallMsg{From: e.addr1, To: &contractAddr, Data: data}, nil)
		}, append(common.BigToHash(big.NewInt(3)).Bytes(), data...), false, ""},
		{"at block 1", func() ([]byte, error) {
			return e.client.CallContract(ctx, ethereum.CallMsg{To: &contractAddr, Data: data}, big.NewInt(1))
		}, append(common.BigToHash(big.NewInt(1)).Bytes(), data...), false, ""},
		{"at hash", func() ([]byte, error) {
			return e.client.CallContractAtHash(ctx, ethereum.CallMsg{To: &contractAddr}, e.chain.blocks[2].Hash())
		}, common.BigToHash(big.NewInt(2)).Bytes(), false, ""},
		{"revert", func() ([]byte, error) {
			return e.client.CallContract(ctx, ethereum.CallMsg{To: &revertAddr, Data: data}, nil)
		}, nil, true, "execution reverted"},
		{"too little gas", func() ([]byte, error) {
			return e.client.CallContract(ctx, ethereum.CallMsg{To: &contractAddr, Gas: 25_000}, nil)
		}, nil, false, "out of gas"},
		{"gas price and fee cap", func() ([]byte, error) {
			return e.client.CallContract(ctx, ethereum.CallMsg{To: &contractAddr, GasPrice: big.NewInt(1), GasFeeCap: big.NewInt(1)}, nil)
		}, nil, false, "both gasPrice and"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have, err := tt.call()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("have %x, %v; want error %q", have, err, tt.wantErr)
				}
				if tt.wantRevert {
					if data, ok := ethclient.RevertErrorData(err); !ok || !slices.Equal(data, revertData) {
						t.Errorf("revert data: have %x (%v), want %x", data, ok, revertData)
					}
				}
				return
			}
			if err != nil || !slices.Equal(have, tt.want) {
				t.Errorf("have %x, %v; want %x", have, err, tt.want)
			}
		})
	}
}

func TestEstimateGas(t *testing.T) {
	e := newTestEnv(t, Config{})
	ctx := context.Background()
	data := make([]byte, 40)
	tests := []struct {
		name    string
		msg     ethereum.CallMsg
		want    uint64
		wantErr string
	}{
		{"no data", ethereum.CallMsg{From: e.addr1, To: &contractAddr}, callGas(nil), ""},
		{"with data", ethereum.CallMsg{From: e.addr1, To: &contractAddr, Data: data}, callGas(data), ""},
		{"revert", ethereum.CallMsg{To: &revertAddr}, 0, "execution reverted"},
		{"gas cap too low", ethereum.CallMsg{To: &contractAddr, Gas: 22_000}, 0, "out of gas"},
		{"used is less than needed", ethereum.CallMsg{To: &refundAddr, Data: data}, callGas(data) + refundExtra, ""},
		{"used is less than needed, capped", ethereum.CallMsg{To: &refundAddr, Gas: callGas(nil) + refundExtra - 1}, 0, "out of gas"},
		{"gas cap below intrinsic", ethereum.CallMsg{To: &contractAddr, Gas: 20_000}, 0, "below intrinsic gas 21000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have, err := e.client.EstimateGas(ctx, tt.msg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("have %d, %v; want error %q", have, err, tt.wantErr)
				}
				return
			}
			if err != nil || have != tt.want {
				t.Errorf("have %d, %v; want %d", have, err, tt.want)
			}
		})
	}
}

// landingChain hides a mined transaction until the pool has been asked for
// it: the block holding it was committed between the server's read of the
// chain and its read of the pool, as when a node commits a block while a
// client polls for its transaction.
type landingChain struct {
	*fakeChain
	tx     common.Hash
	landed *atomic.Bool
}

func (c landingChain) GetTransaction(h common.Hash) (*types.Transaction, common.Hash, uint64, uint64, bool) {
	if h == c.tx && !c.landed.Load() {
		return nil, common.Hash{}, 0, 0, false
	}
	return c.fakeChain.GetTransaction(h)
}

// landingPool no longer holds the transaction: asking for it lands it.
type landingPool struct {
	*fakePool
	landed *atomic.Bool
}

func (p landingPool) Get(h common.Hash) *types.Transaction {
	p.landed.Store(true)
	return p.fakePool.Get(h)
}

// TestTransactionLandingBetweenReads: a transaction that moves from the
// pool to the chain while eth_getTransactionByHash looks it up is found,
// in its block, not reported unknown.
func TestTransactionLandingBetweenReads(t *testing.T) {
	e := newTestEnv(t, Config{})
	landed := new(atomic.Bool)
	tx := e.txs[0]
	srv, err := New(Config{}, landingChain{e.chain, tx.Hash(), landed}, landingPool{e.pool, landed})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	c, err := ethclient.Dial(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	have, isPending, err := c.TransactionByHash(context.Background(), tx.Hash())
	if err != nil {
		t.Fatalf("a transaction committed during the lookup: have %v, want it found", err)
	}
	if have.Hash() != tx.Hash() || isPending {
		t.Errorf("have %s pending=%v, want %s in its block", have.Hash(), isPending, tx.Hash())
	}
}
