package rpc

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// ethAPI serves the eth namespace. Every exported method is an RPC method
// (eth_ + the name with its first letter lowered).
type ethAPI struct {
	cfg     *Config
	chain   Chain
	pool    TxPool
	hub     *hub
	chainID *big.Int
	signer  types.Signer
}

func newEthAPI(cfg *Config, chain Chain, pool TxPool, h *hub) *ethAPI {
	id := new(big.Int).Set(chain.Config().ChainID)
	return &ethAPI{
		cfg:     cfg,
		chain:   chain,
		pool:    pool,
		hub:     h,
		chainID: id,
		signer:  types.LatestSignerForChainID(id),
	}
}

// ChainId is eth_chainId.
func (api *ethAPI) ChainId() *hexutil.Big { return (*hexutil.Big)(api.chainID) }

// BlockNumber is eth_blockNumber: the head's number.
func (api *ethAPI) BlockNumber() (hexutil.Uint64, error) {
	h, err := head(api.chain)
	if err != nil {
		return 0, err
	}
	return hexutil.Uint64(h.Number.Uint64()), nil
}

// Syncing is eth_syncing: the node serves what it has, never "syncing".
func (api *ethAPI) Syncing() bool { return false }

// Accounts is eth_accounts: the node holds no keys.
func (api *ethAPI) Accounts() []common.Address { return []common.Address{} }

// number resolves a block tag to a height: latest and pending are the
// head, safe and finalized the finalized block, earliest the genesis.
func (api *ethAPI) number(bn gethrpc.BlockNumber) (uint64, error) {
	switch bn {
	case gethrpc.LatestBlockNumber, gethrpc.PendingBlockNumber:
		h, err := head(api.chain)
		if err != nil {
			return 0, err
		}
		return h.Number.Uint64(), nil
	case gethrpc.FinalizedBlockNumber, gethrpc.SafeBlockNumber:
		h := api.chain.FinalizedHeader()
		if h == nil {
			return 0, errFinalizedNotFound
		}
		return h.Number.Uint64(), nil
	case gethrpc.EarliestBlockNumber:
		return 0, nil
	}
	if bn < 0 {
		return 0, invalidParams("invalid block number %d", bn)
	}
	return uint64(bn), nil
}

// header resolves a block number, tag or hash to a header. A missing block
// is an error; so is a non-canonical hash when the caller requires
// canonical.
func (api *ethAPI) header(bnh *gethrpc.BlockNumberOrHash) (*types.Header, error) {
	if bnh == nil {
		return head(api.chain)
	}
	if hash, ok := bnh.Hash(); ok {
		h := api.chain.GetHeaderByHash(hash)
		if h == nil {
			return nil, fmt.Errorf("header for hash %s not found", hash.Hex())
		}
		if bnh.RequireCanonical {
			if c := api.chain.GetHeaderByNumber(h.Number.Uint64()); c == nil || c.Hash() != hash {
				return nil, fmt.Errorf("hash %s is not currently canonical", hash.Hex())
			}
		}
		return h, nil
	}
	bn, _ := bnh.Number()
	n, err := api.number(bn)
	if err != nil {
		return nil, err
	}
	h := api.chain.GetHeaderByNumber(n)
	if h == nil {
		return nil, errHeaderNotFound
	}
	return h, nil
}

// readErr reports a read that failed inside the state: go-ethereum's
// StateDB answers zero values and records the error when a trie node is
// missing, as when a block's state is released while it is read
// (decision 35). A zero must never be served as an answer.
func readErr(st *state.StateDB) error {
	if err := st.Error(); err != nil {
		return fmt.Errorf("state unavailable: %w", err)
	}
	return nil
}

func (api *ethAPI) state(bnh *gethrpc.BlockNumberOrHash) (*state.StateDB, error) {
	h, err := api.header(bnh)
	if err != nil {
		return nil, err
	}
	return api.chain.StateAt(h.Root)
}

func (api *ethAPI) blockByNumber(bn gethrpc.BlockNumber) (*types.Block, error) {
	n, err := api.number(bn)
	if err != nil {
		return nil, err
	}
	return api.chain.GetBlockByNumber(n), nil
}

// GetBlockByNumber is eth_getBlockByNumber; null for an unknown block.
func (api *ethAPI) GetBlockByNumber(number gethrpc.BlockNumber, fullTx bool) (json.RawMessage, error) {
	b, err := api.blockByNumber(number)
	if err != nil || b == nil {
		return nil, err
	}
	return marshalBlock(b, fullTx, api.signer)
}

// GetBlockByHash is eth_getBlockByHash; null for an unknown block.
func (api *ethAPI) GetBlockByHash(hash common.Hash, fullTx bool) (json.RawMessage, error) {
	b := api.chain.GetBlockByHash(hash)
	if b == nil {
		return nil, nil
	}
	return marshalBlock(b, fullTx, api.signer)
}

// GetBlockTransactionCountByNumber is eth_getBlockTransactionCountByNumber.
func (api *ethAPI) GetBlockTransactionCountByNumber(number gethrpc.BlockNumber) (*hexutil.Uint, error) {
	b, err := api.blockByNumber(number)
	if err != nil || b == nil {
		return nil, err
	}
	n := hexutil.Uint(len(b.Transactions()))
	return &n, nil
}

// GetBlockTransactionCountByHash is eth_getBlockTransactionCountByHash.
func (api *ethAPI) GetBlockTransactionCountByHash(hash common.Hash) *hexutil.Uint {
	b := api.chain.GetBlockByHash(hash)
	if b == nil {
		return nil
	}
	n := hexutil.Uint(len(b.Transactions()))
	return &n
}

// GetTransactionByBlockNumberAndIndex is eth_getTransactionByBlockNumberAndIndex.
func (api *ethAPI) GetTransactionByBlockNumberAndIndex(number gethrpc.BlockNumber, index hexutil.Uint) (json.RawMessage, error) {
	b, err := api.blockByNumber(number)
	if err != nil || b == nil {
		return nil, err
	}
	return txInBlock(b, uint64(index), api.signer)
}

// GetTransactionByBlockHashAndIndex is eth_getTransactionByBlockHashAndIndex.
func (api *ethAPI) GetTransactionByBlockHashAndIndex(hash common.Hash, index hexutil.Uint) (json.RawMessage, error) {
	b := api.chain.GetBlockByHash(hash)
	if b == nil {
		return nil, nil
	}
	return txInBlock(b, uint64(index), api.signer)
}

func txInBlock(b *types.Block, index uint64, signer types.Signer) (json.RawMessage, error) {
	txs := b.Transactions()
	if index >= uint64(len(txs)) {
		return nil, nil
	}
	return marshalTx(txs[index], &txLocation{b.Hash(), b.NumberU64(), index, b.BaseFee()}, signer)
}

// GetBlockReceipts is eth_getBlockReceipts; null for an unknown block.
func (api *ethAPI) GetBlockReceipts(bnh gethrpc.BlockNumberOrHash) ([]json.RawMessage, error) {
	var b *types.Block
	if hash, ok := bnh.Hash(); ok {
		b = api.chain.GetBlockByHash(hash)
	} else {
		bn, _ := bnh.Number()
		var err error
		if b, err = api.blockByNumber(bn); err != nil {
			return nil, err
		}
	}
	if b == nil {
		return nil, nil
	}
	receipts, err := api.chain.GetReceipts(b.Hash())
	if err != nil {
		return nil, err
	}
	txs := b.Transactions()
	if len(receipts) != len(txs) {
		return nil, fmt.Errorf("block %s has %d receipts for %d transactions", b.Hash().Hex(), len(receipts), len(txs))
	}
	out := make([]json.RawMessage, len(txs))
	for i, tx := range txs {
		if out[i], err = marshalReceipt(receipts[i], tx, b.BaseFee(), api.signer); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetBalance is eth_getBalance (block defaults to latest).
func (api *ethAPI) GetBalance(addr common.Address, bnh *gethrpc.BlockNumberOrHash) (*hexutil.Big, error) {
	st, err := api.state(bnh)
	if err != nil {
		return nil, err
	}
	bal := st.GetBalance(addr)
	if err := readErr(st); err != nil {
		return nil, err
	}
	return (*hexutil.Big)(bal.ToBig()), nil
}

// GetTransactionCount is eth_getTransactionCount; "pending" counts the
// pool's queued transactions.
func (api *ethAPI) GetTransactionCount(addr common.Address, bnh *gethrpc.BlockNumberOrHash) (hexutil.Uint64, error) {
	if bnh != nil {
		if bn, ok := bnh.Number(); ok && bn == gethrpc.PendingBlockNumber {
			return hexutil.Uint64(api.pool.PendingNonce(addr)), nil
		}
	}
	st, err := api.state(bnh)
	if err != nil {
		return 0, err
	}
	nonce := st.GetNonce(addr)
	if err := readErr(st); err != nil {
		return 0, err
	}
	return hexutil.Uint64(nonce), nil
}

// GetCode is eth_getCode; "0x" for an account without code.
func (api *ethAPI) GetCode(addr common.Address, bnh *gethrpc.BlockNumberOrHash) (hexutil.Bytes, error) {
	st, err := api.state(bnh)
	if err != nil {
		return nil, err
	}
	code := st.GetCode(addr)
	if err := readErr(st); err != nil {
		return nil, err
	}
	if code == nil {
		code = []byte{}
	}
	return code, nil
}

// GetStorageAt is eth_getStorageAt. The slot is a hex quantity or up to 32
// bytes of hex.
func (api *ethAPI) GetStorageAt(addr common.Address, slot string, bnh *gethrpc.BlockNumberOrHash) (hexutil.Bytes, error) {
	key, err := parseSlot(slot)
	if err != nil {
		return nil, err
	}
	st, err := api.state(bnh)
	if err != nil {
		return nil, err
	}
	v := st.GetState(addr, key)
	if err := readErr(st); err != nil {
		return nil, err
	}
	return v[:], nil
}

func parseSlot(s string) (common.Hash, error) {
	digits, ok := strings.CutPrefix(s, "0x")
	if !ok {
		digits, ok = strings.CutPrefix(s, "0X")
	}
	if !ok || len(digits) == 0 || len(digits) > 64 {
		return common.Hash{}, invalidParams("invalid storage slot %q", s)
	}
	if len(digits)%2 == 1 {
		digits = "0" + digits
	}
	b, err := hex.DecodeString(digits)
	if err != nil {
		return common.Hash{}, invalidParams("invalid storage slot %q", s)
	}
	return common.BytesToHash(b), nil
}

// SendRawTransaction is eth_sendRawTransaction: decode, hand to the pool,
// return the hash. The pool's error reaches the client as is; the pool may
// hold the request while it drains a backlog (txpool.Pool.Submit).
func (api *ethAPI) SendRawTransaction(ctx context.Context, input hexutil.Bytes) (common.Hash, error) {
	if len(input) == 0 {
		return common.Hash{}, invalidParams("invalid raw transaction: empty")
	}
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(input); err != nil {
		return common.Hash{}, invalidParams("invalid raw transaction: %v", err)
	}
	if err := api.pool.Submit(ctx, tx); err != nil {
		return common.Hash{}, err
	}
	return tx.Hash(), nil
}

// GetTransactionByHash is eth_getTransactionByHash: canonical chain first,
// then the pool (with null block fields), then the chain again; null when
// unknown. A transaction leaves the pool only after the block holding it
// is committed, so one committed between the first two reads is found by
// the third: a client polling its own transaction (the watchtower) never
// sees it vanish as it lands.
func (api *ethAPI) GetTransactionByHash(hash common.Hash) (json.RawMessage, error) {
	if out, found, err := api.minedTx(hash); found {
		return out, err
	}
	if tx := api.pool.Get(hash); tx != nil {
		return marshalTx(tx, nil, api.signer)
	}
	if out, found, err := api.minedTx(hash); found {
		return out, err
	}
	return nil, nil
}

// minedTx returns the canonical chain's transaction hash with its block
// fields, and whether there is one.
func (api *ethAPI) minedTx(hash common.Hash) (json.RawMessage, bool, error) {
	tx, blockHash, number, index, found := api.chain.GetTransaction(hash)
	if !found {
		return nil, false, nil
	}
	var baseFee *big.Int
	if h := api.chain.GetHeaderByHash(blockHash); h != nil {
		baseFee = h.BaseFee
	}
	out, err := marshalTx(tx, &txLocation{blockHash, number, index, baseFee}, api.signer)
	return out, true, err
}

// GetTransactionReceipt is eth_getTransactionReceipt; null when the
// transaction is not on the canonical chain.
func (api *ethAPI) GetTransactionReceipt(hash common.Hash) (json.RawMessage, error) {
	tx, blockHash, _, index, found := api.chain.GetTransaction(hash)
	if !found {
		return nil, nil
	}
	receipts, err := api.chain.GetReceipts(blockHash)
	if err != nil {
		return nil, err
	}
	if index >= uint64(len(receipts)) {
		return nil, fmt.Errorf("receipt %d of block %s missing", index, blockHash.Hex())
	}
	var baseFee *big.Int
	if h := api.chain.GetHeaderByHash(blockHash); h != nil {
		baseFee = h.BaseFee
	}
	return marshalReceipt(receipts[index], tx, baseFee, api.signer)
}

// withRequestTimeout bounds ctx by the request's timeout (derived from the
// HTTP server's write timeout), so long loops stop once the client has been
// answered with a timeout error.
func withRequestTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := gethrpc.ContextRequestTimeout(ctx); ok {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}
