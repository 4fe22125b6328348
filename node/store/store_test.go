package store

import (
	"bytes"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/trie"
)

func openMem(t *testing.T) *DB {
	t.Helper()
	db, err := OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestKVStore(t *testing.T) {
	kv := openMem(t).StateKV()
	if _, err := kv.Get([]byte("missing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: have %v, want %v", err, ErrNotFound)
	}
	for _, k := range []string{"a1", "a2", "a3", "b1"} {
		if err := kv.Put([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := kv.Get([]byte("a2")); err != nil || string(v) != "va2" {
		t.Fatalf("get: have %q %v, want va2", v, err)
	}
	if ok, _ := kv.Has([]byte("a3")); !ok {
		t.Fatal("has a3: have false, want true")
	}
	var keys []string
	it := kv.NewIterator([]byte("a"), []byte("2"))
	for it.Next() {
		keys = append(keys, string(it.Key()))
	}
	it.Release()
	if have, want := keys, []string{"a2", "a3"}; len(have) != 2 || have[0] != want[0] || have[1] != want[1] {
		t.Fatalf("iterate a from 2: have %v, want %v", have, want)
	}
	b := kv.NewBatch()
	b.Put([]byte("c1"), []byte("x"))
	b.Delete([]byte("a1"))
	if _, err := kv.Get([]byte("c1")); !errors.Is(err, ErrNotFound) {
		t.Fatal("batch visible before Write")
	}
	if err := b.Write(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := kv.Has([]byte("a1")); ok {
		t.Fatal("a1 survived a batch delete")
	}
	if err := kv.DeleteRange([]byte("a"), []byte("b")); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a2", "a3"} {
		if ok, _ := kv.Has([]byte(k)); ok {
			t.Fatalf("%s survived DeleteRange", k)
		}
	}
	if ok, _ := kv.Has([]byte("b1")); !ok {
		t.Fatal("DeleteRange removed b1 outside the range")
	}
}

// TestStateKeysStayInPrefix checks that go-ethereum's keys cannot reach the
// chain's own records: a state key equal to a chain key is a different key.
func TestStateKeysStayInPrefix(t *testing.T) {
	db := openMem(t)
	b := db.NewBatch()
	b.WriteHead(common.Hash{1})
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.StateKV().Put(headKey, bytes.Repeat([]byte{9}, 32)); err != nil {
		t.Fatal(err)
	}
	if h, err := db.ReadHeadHash(); err != nil || h != (common.Hash{1}) {
		t.Fatalf("head: have %x %v, want 01..", h, err)
	}
}

func TestBlockRoundTripAndAtomicBatch(t *testing.T) {
	db := openMem(t)
	to := common.Address{2}
	tx := types.NewTx(&types.LegacyTx{Nonce: 1, To: &to, Value: big.NewInt(5), Gas: 21000, GasPrice: big.NewInt(1)})
	header := &types.Header{Number: big.NewInt(3), Difficulty: big.NewInt(7), BaseFee: new(big.Int), GasLimit: 100}
	block := types.NewBlock(header, &types.Body{Transactions: []*types.Transaction{tx}}, []*types.Receipt{{Status: 1, CumulativeGasUsed: 21000, Logs: []*types.Log{}}}, trie.NewStackTrie(nil))
	receipts := types.Receipts{{Status: 1, CumulativeGasUsed: 21000, Logs: []*types.Log{}}}

	discarded := db.NewBatch()
	discarded.WriteBlock(block, receipts, big.NewInt(10))
	discarded.WriteCanonical(block)
	discarded.Discard()
	if db.HasBlock(block.Hash(), 3) {
		t.Fatal("a discarded batch left the block behind")
	}

	b := db.NewBatch()
	b.WriteBlock(block, receipts, big.NewInt(10))
	b.WriteCanonical(block)
	b.WriteHead(block.Hash())
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := db.ReadBlock(block.Hash(), 3)
	if err != nil || got.Hash() != block.Hash() || len(got.Transactions()) != 1 {
		t.Fatalf("read block: %v", err)
	}
	if h, _ := db.ReadCanonicalHash(3); h != block.Hash() {
		t.Fatalf("canonical: have %x, want %x", h, block.Hash())
	}
	if n, _ := db.ReadNumber(block.Hash()); n != 3 {
		t.Fatalf("number: have %d, want 3", n)
	}
	if td, _ := db.ReadTD(block.Hash(), 3); td.Int64() != 10 {
		t.Fatalf("td: have %v, want 10", td)
	}
	loc, err := db.ReadTxLookup(tx.Hash())
	if err != nil || loc.Number != 3 || loc.Index != 0 {
		t.Fatalf("lookup: have %+v %v", loc, err)
	}
	rs, err := db.ReadReceipts(got, &params.ChainConfig{ChainID: big.NewInt(1), LondonBlock: new(big.Int)})
	if err != nil || len(rs) != 1 || rs[0].TxHash != tx.Hash() || rs[0].BlockNumber.Uint64() != 3 {
		t.Fatalf("receipts: %v", err)
	}
	del := db.NewBatch()
	del.DeleteCanonical(block, nil)
	if err := del.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ReadTxLookup(tx.Hash()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup after delete: have %v, want %v", err, ErrNotFound)
	}
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.MetaPut("checkpoint", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.MetaGet("checkpoint"); err != nil || !bytes.Equal(v, []byte{1, 2, 3}) {
		t.Fatalf("meta after reopen: have %v %v", v, err)
	}
}
