package chain

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/store"
)

const testChainID = 4242

// testKey returns a deterministic key named by a letter, as in go-ethereum's
// clique tests.
func testKey(name string) *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("arbiter test key " + name)))
	if err != nil {
		panic(err)
	}
	return k
}

func addrOf(name string) common.Address { return crypto.PubkeyToAddress(testKey(name).PublicKey) }

func ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e18)) }

// testGenesis makes members A, B, C (funded) and allows account P vouched by A.
// Z is funded but neither a member nor allowed.
func testGenesis() *genesis.Genesis {
	g := &genesis.Genesis{
		ChainID:   testChainID,
		Engine:    genesis.EnginePoW,
		PoW:       &pow.Config{MinDifficulty: 1, InitialDifficulty: 1},
		BlockTime: genesis.Duration(time.Second),
		GasLimit:  30_000_000,
		Alloc:     map[common.Address]genesis.Account{},
	}
	for _, n := range []string{"A", "B", "C"} {
		g.Members = append(g.Members, genesis.Member{Address: addrOf(n), Name: n})
	}
	for _, n := range []string{"A", "B", "C", "P", "Z"} {
		g.Alloc[addrOf(n)] = genesis.Account{Balance: (*math.HexOrDecimal256)(ether(1000))}
	}
	g.Allowed = []genesis.Allowance{{Account: addrOf("P"), By: addrOf("A")}}
	return g
}

type testEnv struct {
	t      *testing.T
	chain  *Chain
	engine *pow.Engine
	db     *store.DB
}

// newTestChain opens a chain on an in-memory database whose engine mines as miner.
func newTestChain(t *testing.T, miner string) *testEnv {
	t.Helper()
	db, err := store.OpenInMemory()
	if err != nil {
		t.Fatalf("open db: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return openTestChain(t, db, miner)
}

func openTestChain(t *testing.T, db *store.DB, miner string) *testEnv {
	t.Helper()
	return openTestChainWith(t, db, miner)
}

// openTestChainWith opens a chain on db with options.
func openTestChainWith(t *testing.T, db *store.DB, miner string, opts ...Option) *testEnv {
	t.Helper()
	g := testGenesis()
	eng := pow.New(*g.PoW, time.Duration(g.BlockTime), testKey(miner), pow.WithClock(func() time.Time { return time.Unix(1<<40, 0) }))
	c, err := New(db, g, eng, opts...)
	if err != nil {
		t.Fatalf("new chain: %v", err)
	}
	return &testEnv{t: t, chain: c, engine: eng, db: db}
}

// transfer signs a transfer; dynamic picks an EIP-1559 transaction.
func transfer(from string, nonce uint64, to common.Address, wei int64, dynamic bool) *types.Transaction {
	signer := types.NewLondonSigner(big.NewInt(testChainID))
	var inner types.TxData
	if dynamic {
		inner = &types.DynamicFeeTx{ChainID: big.NewInt(testChainID), Nonce: nonce, To: &to, Value: big.NewInt(wei), Gas: 21000, GasFeeCap: big.NewInt(2), GasTipCap: big.NewInt(1)}
	} else {
		inner = &types.LegacyTx{Nonce: nonce, To: &to, Value: big.NewInt(wei), Gas: 21000, GasPrice: big.NewInt(1)}
	}
	return types.MustSignNewTx(testKey(from), signer, inner)
}

// mine builds, seals and returns a block on parent without importing it.
func (e *testEnv) mine(parent *types.Block, txs []*types.Transaction, dt uint64) *types.Block {
	e.t.Helper()
	built, err := e.chain.BuildBlock(parent, txs, parent.Time()+dt)
	if err != nil {
		e.t.Fatalf("build: %v", err)
	}
	if len(built.Block.Transactions()) != len(txs) {
		e.t.Fatalf("built %d txs, want %d (rejected %d)", len(built.Block.Transactions()), len(txs), len(built.Rejected))
	}
	sealed, err := e.engine.Seal(context.Background(), e.chain, built.Block)
	if err != nil {
		e.t.Fatalf("seal: %v", err)
	}
	return sealed
}

// mineInsert mines a block on the head and imports it.
func (e *testEnv) mineInsert(txs ...*types.Transaction) *types.Block {
	e.t.Helper()
	b := e.mine(e.chain.CurrentBlock(), txs, 1)
	if err := e.chain.InsertBlock(b); err != nil {
		e.t.Fatalf("insert block %d: %v", b.NumberU64(), err)
	}
	return b
}

// reseal re-signs and re-solves a tampered header so that only the tampered
// field is wrong.
func (e *testEnv) reseal(h *types.Header, body *types.Body) *types.Block {
	e.t.Helper()
	b, err := e.engine.Seal(context.Background(), e.chain, types.NewBlockWithHeader(h).WithBody(*body))
	if err != nil {
		e.t.Fatalf("reseal: %v", err)
	}
	return b
}

func (e *testEnv) balance(name string) *big.Int {
	e.t.Helper()
	st, err := e.chain.State()
	if err != nil {
		e.t.Fatalf("state: %v", err)
	}
	return st.GetBalance(addrOf(name)).ToBig()
}
