package rpc

import (
	"encoding/json"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// object assembles a JSON object from a go-ethereum type's own JSON plus
// the fields RPC clients expect on top of it. The first error sticks and is
// returned by done.
type object struct {
	fields map[string]json.RawMessage
	err    error
}

func newObject(v any) *object {
	o := &object{}
	raw, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(raw, &o.fields)
	}
	o.err = err
	return o
}

func (o *object) set(key string, v any) {
	if o.err != nil {
		return
	}
	raw, err := json.Marshal(v)
	if err != nil {
		o.err = err
		return
	}
	o.fields[key] = raw
}

func (o *object) del(key string) { delete(o.fields, key) }

func (o *object) done() (json.RawMessage, error) {
	if o.err != nil {
		return nil, o.err
	}
	return json.Marshal(o.fields)
}

// marshalBlock renders a block: the header's JSON (which carries "hash"),
// "size", "transactions" (hashes, or full objects when fullTx), "uncles" and,
// when the header commits to them, "withdrawals".
func marshalBlock(b *types.Block, fullTx bool, signer types.Signer) (json.RawMessage, error) {
	o := newObject(b.Header())
	o.set("size", hexutil.Uint64(b.Size()))

	uncles := make([]common.Hash, 0, len(b.Uncles()))
	for _, u := range b.Uncles() {
		uncles = append(uncles, u.Hash())
	}
	o.set("uncles", uncles)

	txs := b.Transactions()
	if fullTx {
		full := make([]json.RawMessage, len(txs))
		loc := &txLocation{blockHash: b.Hash(), number: b.NumberU64(), baseFee: b.BaseFee()}
		for i, tx := range txs {
			loc.index = uint64(i)
			raw, err := marshalTx(tx, loc, signer)
			if err != nil {
				return nil, err
			}
			full[i] = raw
		}
		o.set("transactions", full)
	} else {
		hashes := make([]common.Hash, len(txs))
		for i, tx := range txs {
			hashes[i] = tx.Hash()
		}
		o.set("transactions", hashes)
	}

	if b.Header().WithdrawalsHash != nil {
		w := b.Withdrawals()
		if w == nil {
			w = types.Withdrawals{}
		}
		o.set("withdrawals", w)
	}
	return o.done()
}

// txLocation places a transaction in a block.
type txLocation struct {
	blockHash common.Hash
	number    uint64
	index     uint64
	baseFee   *big.Int
}

// marshalTx renders a transaction: its own JSON plus "from", the block
// fields (null for a pending transaction, loc == nil) and "gasPrice" (the
// price paid when mined, the fee cap when pending).
func marshalTx(tx *types.Transaction, loc *txLocation, signer types.Signer) (json.RawMessage, error) {
	o := newObject(tx)
	from, _ := types.Sender(signer, tx) // zero if unrecoverable; stored transactions were checked
	o.set("from", from)
	if loc == nil {
		o.set("blockHash", nil)
		o.set("blockNumber", nil)
		o.set("transactionIndex", nil)
		o.set("gasPrice", (*hexutil.Big)(tx.GasFeeCap()))
	} else {
		o.set("blockHash", loc.blockHash)
		o.set("blockNumber", hexutil.Uint64(loc.number))
		o.set("transactionIndex", hexutil.Uint64(loc.index))
		o.set("gasPrice", (*hexutil.Big)(effectiveGasPrice(tx, loc.baseFee)))
	}
	return o.done()
}

// marshalReceipt renders a receipt: its own JSON plus "from", "to", "type",
// "effectiveGasPrice", a null "contractAddress" when no contract was
// created, and either "status" or (pre-Byzantium) "root".
func marshalReceipt(r *types.Receipt, tx *types.Transaction, baseFee *big.Int, signer types.Signer) (json.RawMessage, error) {
	o := newObject(r)
	from, _ := types.Sender(signer, tx)
	o.set("from", from)
	o.set("to", tx.To())
	o.set("type", hexutil.Uint64(tx.Type()))
	if r.ContractAddress == (common.Address{}) {
		o.set("contractAddress", nil)
	}
	price := r.EffectiveGasPrice
	if price == nil {
		price = effectiveGasPrice(tx, baseFee)
	}
	o.set("effectiveGasPrice", (*hexutil.Big)(price))
	if r.Logs == nil {
		o.set("logs", []*types.Log{})
	}
	if len(r.PostState) == 0 {
		o.del("root")
	} else {
		o.del("status")
	}
	return o.done()
}

// effectiveGasPrice is what a mined transaction paid per gas: tip plus base
// fee, capped at the fee cap; the fee cap when the block has no base fee
// (as go-ethereum derives receipts).
func effectiveGasPrice(tx *types.Transaction, baseFee *big.Int) *big.Int {
	if baseFee == nil {
		return new(big.Int).Set(tx.GasFeeCap())
	}
	p := new(big.Int).Add(tx.GasTipCap(), baseFee)
	if p.Cmp(tx.GasFeeCap()) > 0 {
		p.Set(tx.GasFeeCap())
	}
	return p
}
