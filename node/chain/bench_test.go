package chain

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"runtime"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/store"
)

const (
	benchSenders     = 20
	benchTxsPerBlock = 1000
	benchBlocks      = 8
)

// benchChain makes a genesis with benchSenders funded members and a chain
// of benchBlocks blocks of benchTxsPerBlock transfers, each to a new
// account (the worst case for the state trie). It returns the genesis and
// the blocks RLP-encoded, so every import decodes them afresh and recovers
// every sender, as a node importing from the network does.
func benchChain(b *testing.B) (*genesis.Genesis, [][]byte) {
	b.Helper()
	g := &genesis.Genesis{
		ChainID: testChainID, Engine: genesis.EnginePoW,
		PoW:       &pow.Config{MinDifficulty: 1, InitialDifficulty: 1},
		BlockTime: genesis.Duration(time.Second), GasLimit: 60_000_000,
		Alloc: map[common.Address]genesis.Account{},
	}
	keys := make([]*ecdsa.PrivateKey, benchSenders)
	for i := range keys {
		keys[i] = testKey(fmt.Sprintf("bench%d", i))
		a := crypto.PubkeyToAddress(keys[i].PublicKey)
		g.Members = append(g.Members, genesis.Member{Address: a, Name: fmt.Sprint(i)})
		g.Alloc[a] = genesis.Account{Balance: (*math.HexOrDecimal256)(ether(1_000_000))}
	}
	db, err := store.OpenInMemory()
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	eng := pow.New(*g.PoW, time.Second, keys[0])
	c, err := New(db, g, eng)
	if err != nil {
		b.Fatal(err)
	}
	signer := types.NewLondonSigner(big.NewInt(testChainID))
	nonces := make([]uint64, benchSenders)
	var out [][]byte
	for n := 0; n < benchBlocks; n++ {
		txs := make([]*types.Transaction, 0, benchTxsPerBlock)
		for i := 0; i < benchTxsPerBlock; i++ {
			s := i % benchSenders
			to := common.BigToAddress(big.NewInt(int64(1_000_000 + n*benchTxsPerBlock + i)))
			txs = append(txs, types.MustSignNewTx(keys[s], signer, &types.DynamicFeeTx{
				ChainID: big.NewInt(testChainID), Nonce: nonces[s], To: &to, Value: big.NewInt(1),
				Gas: 21000, GasFeeCap: big.NewInt(1), GasTipCap: big.NewInt(1),
			}))
			nonces[s]++
		}
		parent := c.CurrentBlock()
		built, err := c.BuildBlock(parent, txs, parent.Time()+1)
		if err != nil || len(built.Block.Transactions()) != benchTxsPerBlock {
			b.Fatalf("build: %v", err)
		}
		sealed, err := eng.Seal(context.Background(), c, built.Block)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.InsertBlock(sealed); err != nil {
			b.Fatal(err)
		}
		enc, err := rlp.EncodeToBytes(sealed)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, enc)
	}
	return g, out
}

// BenchmarkImport1000Transfers imports blocks of 1,000 signed transfers into
// a fresh node, including sender recovery, execution, state root and the
// durable write. Compare tx/s with BenchmarkSenderRecovery.
func BenchmarkImport1000Transfers(b *testing.B) {
	g, encoded := benchChain(b)
	benchImport(b, g, encoded)
}

// BenchmarkImport1000TransfersKnownSenders is BenchmarkImport1000Transfers
// with every sender known to the sender cache, as when the pool admitted
// the transactions before the blocks arrived: import without recovery.
func BenchmarkImport1000TransfersKnownSenders(b *testing.B) {
	g, encoded := benchChain(b)
	cache := &mapSenders{m: make(map[common.Hash]common.Address)}
	signer := types.NewLondonSigner(big.NewInt(testChainID))
	for _, enc := range encoded {
		blk := new(types.Block)
		if err := rlp.Decode(bytes.NewReader(enc), blk); err != nil {
			b.Fatal(err)
		}
		for _, tx := range blk.Transactions() {
			from, err := types.Sender(signer, tx)
			if err != nil {
				b.Fatal(err)
			}
			cache.m[tx.Hash()] = from
		}
	}
	benchImport(b, g, encoded, WithSenderCache(cache))
}

// benchImport imports the encoded blocks into a fresh chain per iteration
// and reports transactions per second.
func benchImport(b *testing.B, g *genesis.Genesis, encoded [][]byte, opts ...Option) {
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db, err := store.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		c, err := New(db, g, pow.New(*g.PoW, time.Second, nil), opts...)
		if err != nil {
			b.Fatal(err)
		}
		blocks := make([]*types.Block, len(encoded))
		for j, enc := range encoded {
			blocks[j] = new(types.Block)
			if err := rlp.Decode(bytes.NewReader(enc), blocks[j]); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		if _, err := c.InsertChain(blocks, nil); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	txs := float64(b.N * benchBlocks * benchTxsPerBlock)
	b.ReportMetric(txs/total.Seconds(), "tx/s")
	b.ReportMetric(float64(total.Microseconds())/txs, "µs/tx")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
}

// BenchmarkSenderRecovery measures one secp256k1 public key recovery from a
// transaction signature, the floor of per-transaction import cost.
func BenchmarkSenderRecovery(b *testing.B) {
	signer := types.NewLondonSigner(big.NewInt(testChainID))
	to := common.Address{1}
	tx := types.MustSignNewTx(testKey("A"), signer, &types.DynamicFeeTx{ChainID: big.NewInt(testChainID), To: &to, Gas: 21000})
	enc, _ := tx.MarshalBinary()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fresh := new(types.Transaction)
		if err := fresh.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
		if _, err := types.Sender(signer, fresh); err != nil {
			b.Fatal(err)
		}
	}
}
