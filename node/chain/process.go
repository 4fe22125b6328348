package chain

import (
	"errors"
	"runtime"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/native"
	"github.com/arbiter-chain/arbiter/node/rules"
)

// Env is the block context a transaction executes in.
type Env struct {
	Number   uint64
	Time     uint64
	Coinbase common.Address
	GasLimit uint64

	// allowed holds the senders found allowed earlier in the block, while
	// no transaction of the block has called a contract since (nil: none
	// kept). A transfer changes no membership; only the membership
	// contract writes its storage, and any contract call empties the set,
	// a margin that holds for contracts added later (decision 49).
	allowed map[common.Address]struct{}
}

// checkState is rules.CheckState with the sender's membership taken from
// env.allowed when an earlier transaction of the block found it allowed:
// the membership check reads the membership contract's storage, and a
// block's transfers come from few senders.
func checkState(env Env, st *state.StateDB, from common.Address, tx *types.Transaction) error {
	if env.allowed == nil {
		return rules.CheckState(st, from, tx, true)
	}
	if _, ok := env.allowed[from]; ok {
		return rules.CheckAccount(st, from, tx, true)
	}
	if err := rules.CheckState(st, from, tx, true); err != nil {
		return err
	}
	env.allowed[from] = struct{}{}
	return nil
}

// Contracts runs the native contracts (package contracts' Registry). A
// transaction whose To is a contract address is handed to Run after its
// value has moved to the contract; Run returns its output, the gas it used
// and an error that reverts the call (a *native.Revert carries the reason).
// Run must revert its own state changes on error (the chain takes a
// snapshot around it as well) and must be deterministic. SeedGenesis
// writes the contracts' genesis storage; IsMember reads the member set
// from a state.
type Contracts interface {
	Has(addr common.Address) bool
	Run(st *state.StateDB, to common.Address, call native.Call) (ret []byte, gasUsed uint64, err error)
	SeedGenesis(g *native.Genesis, st *state.StateDB) error
	IsMember(st *state.StateDB, addr common.Address) bool
}

// runContract calls the contract at to with the block context of env and
// turns a revert into a *RevertError, which carries Error(string) revert
// data to RPC clients.
func (c *Chain) runContract(env Env, st *state.StateDB, from, to common.Address, value *uint256.Int, input []byte, gas uint64) ([]byte, uint64, error) {
	ret, used, err := c.contracts.Run(st, to, native.Call{Number: env.Number, Time: env.Time, Caller: from, Value: value, Input: input, Gas: gas})
	if err == nil {
		return ret, used, nil
	}
	var rev *native.Revert
	if errors.As(err, &rev) {
		return nil, used, NewRevert(rev.Reason)
	}
	return nil, used, NewRevert(err.Error())
}

// applyTx executes one transaction whose sender is already known and checked
// statically. It returns the receipt; a contract revert still makes a receipt
// (status 0) because the sender paid for the gas.
func (c *Chain) applyTx(env Env, st *state.StateDB, tx *types.Transaction, from common.Address, index int, gasPool *uint64, cumGas uint64) (*types.Receipt, error) {
	if err := checkState(env, st, from, tx); err != nil {
		return nil, err
	}
	if tx.Gas() > *gasPool {
		return nil, rules.ErrGasLimit
	}
	*gasPool -= tx.Gas()
	st.SetTxContext(tx.Hash(), index, 0)

	price := rules.EffectiveGasPrice(tx)
	prepaid := new(uint256.Int).Mul(price, uint256.NewInt(tx.Gas()))
	st.SubBalance(from, prepaid, tracing.BalanceDecreaseGasBuy)
	st.SetNonce(from, tx.Nonce()+1, tracing.NonceChangeEoACall)

	gasUsed := rules.IntrinsicGas(tx)
	status := types.ReceiptStatusSuccessful
	value, _ := uint256.FromBig(tx.Value())
	to := *tx.To()

	snap := st.Snapshot()
	st.SubBalance(from, value, tracing.BalanceChangeTransfer)
	st.AddBalance(to, value, tracing.BalanceChangeTransfer)
	if c.contracts != nil && c.contracts.Has(to) {
		clear(env.allowed) // the call may change who is allowed
		_, used, err := c.runContract(env, st, from, to, value, tx.Data(), tx.Gas()-gasUsed)
		gasUsed += used
		if err != nil {
			st.RevertToSnapshot(snap)
			status = types.ReceiptStatusFailed
		}
	}
	if gasUsed > tx.Gas() {
		gasUsed = tx.Gas()
	}
	refund := new(uint256.Int).Mul(price, uint256.NewInt(tx.Gas()-gasUsed))
	st.AddBalance(from, refund, tracing.BalanceIncreaseGasReturn)
	fee := new(uint256.Int).Mul(price, uint256.NewInt(gasUsed))
	st.AddBalance(env.Coinbase, fee, tracing.BalanceIncreaseRewardTransactionFee)
	*gasPool += tx.Gas() - gasUsed

	r := &types.Receipt{
		Type:              tx.Type(),
		Status:            status,
		CumulativeGasUsed: cumGas + gasUsed,
		TxHash:            tx.Hash(),
		GasUsed:           gasUsed,
		EffectiveGasPrice: price.ToBig(),
		TransactionIndex:  uint(index),
	}
	r.Logs = st.GetLogs(tx.Hash(), env.Number, common.Hash{}, env.Time)
	r.Bloom = types.CreateBloom(r)
	return r, nil
}

// recoverSenders checks every transaction statically and recovers its sender,
// spreading signature recovery over the cores. Senders already cached in a
// transaction or known to the sender cache (from the pool) cost nothing.
func (c *Chain) recoverSenders(txs types.Transactions) ([]common.Address, error) {
	froms := make([]common.Address, len(txs))
	errs := make([]error, len(txs))
	workers := runtime.GOMAXPROCS(0)
	if workers > len(txs)/16 {
		workers = max(1, len(txs)/16)
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(txs); i += workers {
				c.primeSender(txs[i])
				froms[i], errs[i] = c.rules.CheckStatic(txs[i])
			}
		}(w)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, &TxError{Index: i, Err: err}
		}
	}
	return froms, nil
}

// process executes a block's transactions on st and runs the engine's
// Finalize. Every transaction must be valid: one bad transaction rejects the
// block.
func (c *Chain) process(block *types.Block, st *state.StateDB) (types.Receipts, uint64, error) {
	txs := block.Transactions()
	froms, err := c.recoverSenders(txs)
	if err != nil {
		return nil, 0, err
	}
	header := block.Header()
	env := Env{Number: header.Number.Uint64(), Time: header.Time, Coinbase: header.Coinbase, GasLimit: header.GasLimit, allowed: make(map[common.Address]struct{})}
	gasPool := header.GasLimit
	receipts := make(types.Receipts, 0, len(txs))
	var used uint64
	for i, tx := range txs {
		r, err := c.applyTx(env, st, tx, froms[i], i, &gasPool, used)
		if err != nil {
			return nil, 0, &TxError{Index: i, Err: err}
		}
		used = r.CumulativeGasUsed
		receipts = append(receipts, r)
	}
	if err := c.engine.Finalize(c, header, st, txs); err != nil {
		return nil, 0, err
	}
	return receipts, used, nil
}
