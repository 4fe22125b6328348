package chaintest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/arbiter-chain/arbiter/contracts"
	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/store"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// ChainID is the test chain's id.
const ChainID = 4242

// DefaultGas is the gas limit of transactions sent by Exec.
const DefaultGas = 2_000_000

// Parsed ABIs of the built-in contracts.
var (
	MembershipABI = mustABI(membership.ABIJSON)
	ChessABI      = mustABI(channel.ArbiterABIJSON)
)

func mustABI(j []byte) abi.ABI {
	a, err := abi.JSON(bytes.NewReader(j))
	if err != nil {
		panic(err) // the embedded ABIs are checked by the contracts' own tests
	}
	return a
}

// Key returns a deterministic key named by a label.
func Key(name string) *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("arbiter contracts test key " + name)))
	if err != nil {
		panic(err) // a keccak output is a valid key with overwhelming probability
	}
	return k
}

// Addr returns the address of Key(name).
func Addr(name string) common.Address { return crypto.PubkeyToAddress(Key(name).PublicKey) }

// Ether returns n ether in wei.
func Ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e18)) }

// Config shapes the test chain. Every named account gets Fund ether
// (1000 if zero); Allowed accounts are vouched for by the first member.
// The first member mines.
type Config struct {
	Members   []string
	Allowed   []string
	Funded    []string // funded but neither member nor allowed
	Fund      int64
	GasPrice  int64            // per gas unit, 1 if zero; negative means 0
	Contracts []string         // enabled contracts; membership and chess if nil
	Stakes    map[string]int64 // genesis stakes of members, in ether (staking's epoch-0 set)
}

// Env is a running test chain.
type Env struct {
	T        testing.TB
	Chain    *chain.Chain
	Registry *contracts.Registry
	engine   *pow.Engine
	signer   types.Signer
	price    *big.Int
	nonces   map[common.Address]uint64
}

// New opens a chain for cfg on an in-memory store.
func New(t testing.TB, cfg Config) *Env {
	t.Helper()
	fund := cfg.Fund
	if fund == 0 {
		fund = 1000
	}
	g := &genesis.Genesis{
		ChainID:   ChainID,
		Engine:    genesis.EnginePoW,
		PoW:       &pow.Config{MinDifficulty: 1, InitialDifficulty: 1},
		BlockTime: genesis.Duration(time.Second),
		GasLimit:  30_000_000,
		Alloc:     map[common.Address]genesis.Account{},
	}
	for _, n := range cfg.Members {
		m := genesis.Member{Address: Addr(n), Name: n}
		if v, ok := cfg.Stakes[n]; ok {
			m.Stake = (*math.HexOrDecimal256)(Ether(v))
		}
		g.Members = append(g.Members, m)
	}
	for _, n := range cfg.Allowed {
		g.Allowed = append(g.Allowed, genesis.Allowance{Account: Addr(n), By: Addr(cfg.Members[0])})
	}
	for _, list := range [][]string{cfg.Members, cfg.Allowed, cfg.Funded} {
		for _, n := range list {
			g.Alloc[Addr(n)] = genesis.Account{Balance: (*math.HexOrDecimal256)(Ether(fund))}
		}
	}
	names := cfg.Contracts
	if names == nil {
		names = []string{"membership", "chess"}
	}
	reg, err := contracts.NewByName(big.NewInt(ChainID), names...)
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	db, err := store.OpenInMemory()
	if err != nil {
		t.Fatalf("open db: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	eng := pow.New(*g.PoW, time.Second, Key(cfg.Members[0]), pow.WithClock(func() time.Time { return time.Unix(1<<40, 0) }))
	c, err := chain.New(db, g, eng, chain.WithContracts(reg))
	if err != nil {
		t.Fatalf("new chain: %v", err)
	}
	price := big.NewInt(cfg.GasPrice)
	switch {
	case cfg.GasPrice == 0:
		price = big.NewInt(1)
	case cfg.GasPrice < 0:
		price = new(big.Int)
	}
	return &Env{T: t, Chain: c, Registry: reg, engine: eng, signer: types.NewLondonSigner(big.NewInt(ChainID)), price: price, nonces: map[common.Address]uint64{}}
}

// GasPrice returns the gas price of transactions the Env signs.
func (e *Env) GasPrice() *big.Int { return new(big.Int).Set(e.price) }

// Pack ABI-encodes a call of method.
func Pack(t testing.TB, a abi.ABI, method string, args ...any) []byte {
	t.Helper()
	data, err := a.Pack(method, args...)
	if err != nil {
		t.Fatalf("pack %s: %v", method, err)
	}
	return data
}

// NextNonce returns the nonce the next transaction from name will use.
func (e *Env) NextNonce(name string) uint64 {
	e.T.Helper()
	a := Addr(name)
	if n, ok := e.nonces[a]; ok {
		return n
	}
	st, err := e.Chain.State()
	if err != nil {
		e.T.Fatalf("state: %v", err)
	}
	return st.GetNonce(a)
}

// SignTx signs a legacy transaction from name with the next nonce and
// counts the nonce as used.
func (e *Env) SignTx(from string, to common.Address, value *big.Int, data []byte, gas uint64) *types.Transaction {
	e.T.Helper()
	nonce := e.NextNonce(from)
	e.nonces[Addr(from)] = nonce + 1
	if value == nil {
		value = new(big.Int)
	}
	return types.MustSignNewTx(Key(from), e.signer, &types.LegacyTx{Nonce: nonce, To: &to, Value: value, Gas: gas, GasPrice: e.price, Data: data})
}

// Mine builds a block of txs on the head, seals it, imports it and returns
// it with its receipts. Every transaction must be included.
func (e *Env) Mine(txs ...*types.Transaction) (*types.Block, types.Receipts) {
	e.T.Helper()
	b := e.Build(txs...)
	if err := e.Chain.InsertBlock(b); err != nil {
		e.T.Fatalf("insert block %d: %v", b.NumberU64(), err)
	}
	receipts, err := e.Chain.GetReceipts(b.Hash())
	if err != nil {
		e.T.Fatalf("receipts: %v", err)
	}
	return b, receipts
}

// Build builds and seals a block of txs on the head without importing it.
func (e *Env) Build(txs ...*types.Transaction) *types.Block {
	e.T.Helper()
	parent := e.Chain.CurrentBlock()
	built, err := e.Chain.BuildBlock(parent, txs, parent.Time()+1)
	if err != nil {
		e.T.Fatalf("build: %v", err)
	}
	if have, want := len(built.Block.Transactions()), len(txs); have != want {
		e.T.Fatalf("built %d txs, want %d (rejected %d)", have, want, len(built.Rejected))
	}
	return e.seal(built.Block)
}

// BuildUnchecked seals a block on the head holding txs as they are,
// without executing them, so that import is what judges them. The state
// root and receipts are those of an empty block.
func (e *Env) BuildUnchecked(txs ...*types.Transaction) *types.Block {
	e.T.Helper()
	parent := e.Chain.CurrentBlock()
	built, err := e.Chain.BuildBlock(parent, nil, parent.Time()+1)
	if err != nil {
		e.T.Fatalf("build: %v", err)
	}
	h := built.Block.Header()
	h.TxHash = types.DeriveSha(types.Transactions(txs), trie.NewStackTrie(nil))
	return e.seal(types.NewBlockWithHeader(h).WithBody(types.Body{Transactions: txs}))
}

func (e *Env) seal(b *types.Block) *types.Block {
	e.T.Helper()
	sealed, err := e.engine.Seal(context.Background(), e.Chain, b)
	if err != nil {
		e.T.Fatalf("seal: %v", err)
	}
	return sealed
}

// MineEmpty mines n empty blocks.
func (e *Env) MineEmpty(n int) {
	e.T.Helper()
	for i := 0; i < n; i++ {
		e.Mine()
	}
}

// Number returns the head's number.
func (e *Env) Number() uint64 { return e.Chain.CurrentBlock().NumberU64() }

// Result is the outcome of one transaction mined alone in a block.
type Result struct {
	Receipt *types.Receipt
	Tx      *types.Transaction
	// Ret is the output of eth_call of the same message against the
	// head's state in the next block's context.
	Ret []byte
	// Reason is the revert reason, "" on success.
	Reason string
}

// Failed reports whether the transaction reverted.
func (r Result) Failed() bool { return r.Receipt.Status != types.ReceiptStatusSuccessful }

// Exec simulates a call with eth_call semantics in the context of the next
// block (for the revert reason and output), then sends it as a signed
// transaction alone in a mined block, and checks that both agree on
// success and gas used. The output of an open() simulation names the game
// of the simulated nonce, one less than the mined one; read the id from
// the receipt's GameOpened log instead.
func (e *Env) Exec(from string, to common.Address, value *big.Int, data []byte) Result {
	e.T.Helper()
	return e.ExecGas(from, to, value, data, DefaultGas)
}

// ExecGas is Exec with a gas limit.
func (e *Env) ExecGas(from string, to common.Address, value *big.Int, data []byte, gas uint64) Result {
	e.T.Helper()
	ret, callGas, err := e.CallNext(from, to, value, data, gas)
	tx := e.SignTx(from, to, value, data, gas)
	_, receipts := e.Mine(tx)
	r := Result{Receipt: receipts[0], Tx: tx, Ret: ret}
	if err != nil {
		rev, ok := err.(*chain.RevertError)
		if !ok {
			e.T.Fatalf("call %x: %v is not a revert", data[:min(4, len(data))], err)
		}
		r.Reason = rev.Reason
	}
	if have, want := r.Failed(), err != nil; have != want {
		e.T.Fatalf("receipt failed %v, eth_call failed %v (%v)", have, want, err)
	}
	if have, want := r.Receipt.GasUsed, callGas; have != want {
		e.T.Fatalf("receipt gas used: have %d, eth_call gas want %d", have, want)
	}
	return r
}

// CallNext runs eth_call against the head's state in the context of the
// next block (number and time one above the head's).
func (e *Env) CallNext(from string, to common.Address, value *big.Int, data []byte, gas uint64) ([]byte, uint64, error) {
	e.T.Helper()
	h := types.CopyHeader(e.Chain.CurrentHeader())
	h.Number = new(big.Int).Add(h.Number, common.Big1)
	h.Time++
	return e.Chain.Call(context.Background(), chain.CallMsg{From: Addr(from), To: &to, Gas: gas, Value: value, Data: data}, h)
}

// View runs eth_call at the head and unpacks the outputs of method.
func (e *Env) View(a abi.ABI, to common.Address, method string, args ...any) []any {
	e.T.Helper()
	data := Pack(e.T, a, method, args...)
	ret, _, err := e.Chain.Call(context.Background(), chain.CallMsg{To: &to, Data: data}, e.Chain.CurrentHeader())
	if err != nil {
		e.T.Fatalf("call %s: %v", method, err)
	}
	out, err := a.Unpack(method, ret)
	if err != nil {
		e.T.Fatalf("unpack %s: %v", method, err)
	}
	return out
}

// Balance returns name's balance at the head.
func (e *Env) Balance(addr common.Address) *big.Int {
	e.T.Helper()
	st, err := e.Chain.State()
	if err != nil {
		e.T.Fatalf("state: %v", err)
	}
	return st.GetBalance(addr).ToBig()
}

// Fee returns what a mined transaction cost its sender in gas.
func (e *Env) Fee(r Result) *big.Int {
	return new(big.Int).Mul(new(big.Int).SetUint64(r.Receipt.GasUsed), r.Receipt.EffectiveGasPrice)
}

// ForgetNonce makes the next transaction from name read its nonce from the
// head state again, after a signed transaction was never mined.
func (e *Env) ForgetNonce(name string) { delete(e.nonces, Addr(name)) }
