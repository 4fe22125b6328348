package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/arbiter-chain/arbiter/contracts/membership"
)

// transferGas is the gas of a plain value transfer.
const transferGas = 21000

// Errors of funding fresh senders.
var (
	// errNoUnlocked: --funder node, but the node holds no unlocked account.
	errNoUnlocked = errors.New("the node holds no unlocked account (--funder node is for geth --dev)")
	// errFundingFailed: a funding or vouching transaction was included but failed.
	errFundingFailed = errors.New("funding transaction failed")
	// errNotVouched: after vouching, the membership contract does not allow a sender.
	errNotVouched = errors.New("fresh sender not allowed after vouching")
)

// benchFees is what every transfer of a run offers to pay.
type benchFees struct {
	tip, feeCap *big.Int
}

// feeCap is what a transfer offers per gas: twice the head's base fee (room
// for it to rise while the load runs) plus the tip.
func feeCap(baseFee, tip *big.Int) *big.Int {
	c := new(big.Int).Set(tip)
	if baseFee != nil {
		c.Add(c, new(big.Int).Lsh(baseFee, 1))
	}
	return c
}

// readFees reads the head's base fee (Arbiter's is 0) and the suggested tip:
// eth_maxPriorityFeePerGas, or eth_gasPrice on a node without it.
func readFees(ctx context.Context, c *rpc.Client) (benchFees, error) {
	var head *benchBlock
	if err := c.CallContext(ctx, &head, "eth_getBlockByNumber", "latest", false); err != nil {
		return benchFees{}, fmt.Errorf("read head: %w", err)
	}
	if head == nil {
		return benchFees{}, errors.New("read head: node has no head")
	}
	var tip hexutil.Big
	if err := c.CallContext(ctx, &tip, "eth_maxPriorityFeePerGas"); err != nil {
		if err := c.CallContext(ctx, &tip, "eth_gasPrice"); err != nil {
			return benchFees{}, fmt.Errorf("read tip: %w", err)
		}
	}
	return benchFees{tip: tip.ToInt(), feeCap: feeCap(head.BaseFee.ToInt(), tip.ToInt())}, nil
}

// membershipABI is the membership contract's ABI, parsed once.
var membershipABI = func() abi.ABI {
	a, err := abi.JSON(bytes.NewReader(membership.ABIJSON))
	if err != nil {
		panic(fmt.Sprintf("membership ABI: %v", err))
	}
	return a
}()

// membershipCall is an eth_call of a membership view method about account;
// false on any error or an empty answer (a chain without the contract).
func membershipCall(ctx context.Context, c *rpc.Client, method string, account common.Address) bool {
	data, err := membershipABI.Pack(method, account)
	if err != nil {
		return false
	}
	var out hexutil.Bytes
	call := map[string]any{"to": membership.Address, "data": hexutil.Bytes(data)}
	if err := c.CallContext(ctx, &out, "eth_call", call, "latest"); err != nil {
		return false
	}
	vals, err := membershipABI.Unpack(method, out)
	if err != nil || len(vals) != 1 {
		return false
	}
	b, ok := vals[0].(bool)
	return ok && b
}

// recipient is the address transfer nonce of from pays: a fresh account
// for every transfer of every run, the state's worst case on any chain.
func recipient(from common.Address, nonce uint64) common.Address {
	return common.BytesToAddress(crypto.Keccak256(from.Bytes(), new(big.Int).SetUint64(nonce).Bytes()))
}

// funding is the part of a run that funds fresh senders.
type funding struct {
	c       *rpc.Client
	chainID *big.Int
	fees    benchFees
	key     *ecdsa.PrivateKey // nil with --funder node
	from    common.Address
	arbiter bool // the funder is a member of an Arbiter chain: vouch too

	nonce     uint64 // the funder's next nonce, once read
	haveNonce bool
}

// newFunding reads the funder (a key file, or the node's first unlocked
// account) and finds out whether the chain is Arbiter: an eth_call of the
// membership contract's isMember(funder) answers true.
func newFunding(ctx context.Context, c *rpc.Client, chainID *big.Int, fees benchFees, funder string) (*funding, error) {
	f := &funding{c: c, chainID: chainID, fees: fees}
	if funder == funderNode {
		var accounts []common.Address
		if err := c.CallContext(ctx, &accounts, "eth_accounts"); err != nil {
			return nil, fmt.Errorf("eth_accounts: %w", err)
		}
		if len(accounts) == 0 {
			return nil, errNoUnlocked
		}
		f.from = accounts[0]
	} else {
		k, err := crypto.LoadECDSA(funder)
		if err != nil {
			return nil, fmt.Errorf("load funder key %s: %w", funder, err)
		}
		f.key, f.from = k, crypto.PubkeyToAddress(k.PublicKey)
	}
	f.arbiter = membershipCall(ctx, c, "isMember", f.from)
	return f, nil
}

// fund pays each sender amount and, on Arbiter, vouches for it through the
// membership contract, then waits until every one of those transactions is
// included and successful and one more block is on top (so pools see the
// new state).
func (f *funding) fund(ctx context.Context, senders []common.Address, amount *big.Int) error {
	var hashes []common.Hash
	for _, s := range senders {
		h, err := f.send(ctx, s, amount, nil)
		if err != nil {
			return fmt.Errorf("fund %s: %w", s, err)
		}
		hashes = append(hashes, h)
		if !f.arbiter {
			continue
		}
		data, err := membershipABI.Pack("allowAccount", s)
		if err != nil {
			return err
		}
		if h, err = f.send(ctx, membership.Address, new(big.Int), data); err != nil {
			return fmt.Errorf("vouch for %s: %w", s, err)
		}
		hashes = append(hashes, h)
	}
	last, err := waitReceipts(ctx, f.c, hashes)
	if err != nil {
		return err
	}
	if err := waitBlock(ctx, f.c, last+1); err != nil {
		return err
	}
	if f.arbiter {
		for _, s := range senders {
			if !membershipCall(ctx, f.c, "isAllowed", s) {
				return fmt.Errorf("%w: %s", errNotVouched, s)
			}
		}
	}
	return nil
}

// send sends one transaction from the funder: signed here with its key,
// or by the node (eth_sendTransaction) for its unlocked account.
func (f *funding) send(ctx context.Context, to common.Address, value *big.Int, data []byte) (common.Hash, error) {
	call := map[string]any{"from": f.from, "to": to, "value": (*hexutil.Big)(value)}
	if len(data) > 0 {
		call["data"] = hexutil.Bytes(data)
	}
	var gas hexutil.Uint64 = transferGas
	if len(data) > 0 {
		if err := f.c.CallContext(ctx, &gas, "eth_estimateGas", call); err != nil {
			return common.Hash{}, fmt.Errorf("estimate gas: %w", err)
		}
		gas += gas / 4
	}
	var hash common.Hash
	if f.key == nil {
		call["gas"] = gas
		err := f.c.CallContext(ctx, &hash, "eth_sendTransaction", call)
		return hash, err
	}
	if !f.haveNonce {
		var nonce hexutil.Uint64
		if err := f.c.CallContext(ctx, &nonce, "eth_getTransactionCount", f.from, "pending"); err != nil {
			return common.Hash{}, fmt.Errorf("nonce: %w", err)
		}
		f.nonce, f.haveNonce = uint64(nonce), true
	}
	tx, err := types.SignNewTx(f.key, types.LatestSignerForChainID(f.chainID), &types.DynamicFeeTx{
		ChainID: f.chainID, Nonce: f.nonce, To: &to, Value: value, Gas: uint64(gas),
		GasTipCap: f.fees.tip, GasFeeCap: f.fees.feeCap, Data: data,
	})
	if err != nil {
		return common.Hash{}, err
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		return common.Hash{}, err
	}
	var b backoff
	for {
		err := f.c.CallContext(ctx, &hash, "eth_sendRawTransaction", hexutil.Bytes(raw))
		if err == nil || alreadyKnown(err) {
			f.nonce++
			return tx.Hash(), nil
		}
		if !retryable(err) {
			return common.Hash{}, err
		}
		if err := b.wait(ctx); err != nil {
			return common.Hash{}, err
		}
	}
}

// benchReceipt is the part of a receipt funding reads.
type benchReceipt struct {
	Status      hexutil.Uint64 `json:"status"`
	BlockNumber hexutil.Uint64 `json:"blockNumber"`
}

// waitReceipts polls until every transaction has a receipt, fails on a
// failed one, and returns the highest block they are in.
func waitReceipts(ctx context.Context, c *rpc.Client, hashes []common.Hash) (uint64, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last uint64
	for len(hashes) > 0 {
		var r *benchReceipt
		if err := c.CallContext(ctx, &r, "eth_getTransactionReceipt", hashes[0]); err != nil {
			return 0, fmt.Errorf("receipt %s: %w", hashes[0], err)
		}
		if r == nil {
			select {
			case <-ctx.Done():
				return 0, fmt.Errorf("waiting for funding receipts (%d left): %w", len(hashes), ctx.Err())
			case <-tick.C: // polling the node
			}
			continue
		}
		if r.Status != 1 {
			return 0, fmt.Errorf("%w: %s in block %d", errFundingFailed, hashes[0], r.BlockNumber)
		}
		last = max(last, uint64(r.BlockNumber))
		hashes = hashes[1:]
	}
	return last, nil
}

// waitBlock polls until the node's head is at least n.
func waitBlock(ctx context.Context, c *rpc.Client, n uint64) error {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		var head hexutil.Uint64
		if err := c.CallContext(ctx, &head, "eth_blockNumber"); err != nil {
			return err
		}
		if uint64(head) >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for block %d: %w", n, ctx.Err())
		case <-tick.C: // polling the node
		}
	}
}

// fundingAmount is what each fresh sender gets: twice what its transfers
// can cost at the run's fee cap, plus 0.001 ether.
func fundingAmount(perSender int, fees benchFees) *big.Int {
	per := new(big.Int).Mul(fees.feeCap, big.NewInt(transferGas))
	per.Add(per, big.NewInt(1)) // the value of each transfer
	need := new(big.Int).Mul(per, big.NewInt(int64(perSender)))
	need.Lsh(need, 1)
	return need.Add(need, big.NewInt(1e15))
}
