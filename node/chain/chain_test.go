package chain

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/node/rules"
	"github.com/arbiter-chain/arbiter/node/store"
)

func TestTransfersAndReceipts(t *testing.T) {
	e := newTestChain(t, "A")
	to := addrOf("Q")
	b := e.mineInsert(
		transfer("A", 0, to, 100, false),
		transfer("B", 0, to, 200, true),
		transfer("P", 0, to, 300, false),
	)
	if have, want := e.chain.CurrentBlock().Hash(), b.Hash(); have != want {
		t.Fatalf("head: have %x, want %x", have, want)
	}
	if have, want := e.balance("Q"), big.NewInt(600); have.Cmp(want) != 0 {
		t.Fatalf("balance Q: have %v, want %v", have, want)
	}
	receipts, err := e.chain.GetReceipts(b.Hash())
	if err != nil {
		t.Fatalf("receipts: %v", err)
	}
	if have, want := len(receipts), 3; have != want {
		t.Fatalf("receipts: have %d, want %d", have, want)
	}
	for i, r := range receipts {
		if r.Status != types.ReceiptStatusSuccessful || r.GasUsed != 21000 || r.BlockHash != b.Hash() {
			t.Fatalf("receipt %d: status %d gas %d block %x", i, r.Status, r.GasUsed, r.BlockHash)
		}
	}
	// Fees go to the miner: A paid 21000*1 and received three fees of 21000.
	want := new(big.Int).Sub(ether(1000), big.NewInt(100+21000))
	want.Add(want, big.NewInt(3*21000))
	if have := e.balance("A"); have.Cmp(want) != 0 {
		t.Fatalf("balance A: have %v, want %v", have, want)
	}
	tx, bh, num, idx, ok := e.chain.GetTransaction(b.Transactions()[1].Hash())
	if !ok || tx.Hash() != b.Transactions()[1].Hash() || bh != b.Hash() || num != 1 || idx != 1 {
		t.Fatalf("lookup: ok %v num %d idx %d", ok, num, idx)
	}
}

func TestImportOnFreshNode(t *testing.T) {
	a := newTestChain(t, "A")
	var blocks []*types.Block
	for i := uint64(0); i < 5; i++ {
		blocks = append(blocks, a.mineInsert(transfer("B", i, addrOf("Q"), 1, i%2 == 0)))
	}
	b := newTestChain(t, "C")
	if n, err := b.chain.InsertChain(blocks, nil); err != nil || n != 5 {
		t.Fatalf("insert chain: n %d err %v", n, err)
	}
	if have, want := b.chain.CurrentBlock().Root(), a.chain.CurrentBlock().Root(); have != want {
		t.Fatalf("root: have %x, want %x", have, want)
	}
	if err := b.chain.InsertBlock(blocks[2]); !errors.Is(err, ErrKnownBlock) {
		t.Fatalf("reinsert: have %v, want %v", err, ErrKnownBlock)
	}
}

// TestBlockRejections checks that each validation step rejects a block with
// its own error. Every bad block is re-sealed by a member, so only the
// tampered field is wrong.
func TestBlockRejections(t *testing.T) {
	e := newTestChain(t, "A")
	e.mineInsert(transfer("A", 0, addrOf("Q"), 1, false))
	head := e.chain.CurrentBlock()
	good := e.mine(head, []*types.Transaction{transfer("B", 0, addrOf("Q"), 5, false)}, 1)

	retx := func(txs ...*types.Transaction) (*types.Header, *types.Body) {
		h := good.Header()
		h.TxHash = types.DeriveSha(types.Transactions(txs), trie.NewStackTrie(nil))
		return h, &types.Body{Transactions: txs}
	}
	tests := []struct {
		name  string
		block func() *types.Block
		want  error
	}{
		{"unknown parent", func() *types.Block {
			h := good.Header()
			h.ParentHash = common.Hash{1}
			return e.reseal(h, good.Body())
		}, consensus.ErrUnknownAncestor},
		{"wrong number", func() *types.Block {
			h := good.Header()
			h.Number = big.NewInt(5)
			h.ParentHash = head.Hash()
			return e.reseal(h, good.Body())
		}, consensus.ErrInvalidNumber},
		{"gas limit", func() *types.Block {
			h := good.Header()
			h.GasLimit++
			return e.reseal(h, good.Body())
		}, ErrGasLimit},
		{"gas used above limit", func() *types.Block {
			h := good.Header()
			h.GasUsed = h.GasLimit + 1
			return e.reseal(h, good.Body())
		}, ErrGasUsedExceeds},
		{"gas used mismatch", func() *types.Block {
			h := good.Header()
			h.GasUsed++
			return e.reseal(h, good.Body())
		}, ErrGasUsed},
		{"base fee", func() *types.Block {
			h := good.Header()
			h.BaseFee = big.NewInt(7)
			return e.reseal(h, good.Body())
		}, ErrBaseFee},
		{"uncles", func() *types.Block {
			h := good.Header()
			h.UncleHash = common.Hash{2}
			return e.reseal(h, good.Body())
		}, ErrUncles},
		{"tx root", func() *types.Block {
			h := good.Header()
			h.TxHash = common.Hash{3}
			return e.reseal(h, good.Body())
		}, ErrTxRoot},
		{"receipt root", func() *types.Block {
			h := good.Header()
			h.ReceiptHash = common.Hash{4}
			return e.reseal(h, good.Body())
		}, ErrReceiptRoot},
		{"bloom", func() *types.Block {
			h := good.Header()
			h.Bloom[0] = 1
			return e.reseal(h, good.Body())
		}, ErrBloom},
		{"state root", func() *types.Block {
			h := good.Header()
			h.Root = common.Hash{5}
			return e.reseal(h, good.Body())
		}, ErrStateRoot},
		{"extra too long", func() *types.Block {
			h := good.Header()
			h.Extra = make([]byte, MaxExtra+1)
			return types.NewBlockWithHeader(h).WithBody(*good.Body())
		}, ErrExtraTooLong},
		{"bad seal", func() *types.Block {
			h := good.Header()
			h.Nonce = types.EncodeNonce(h.Nonce.Uint64() + 1)
			return types.NewBlockWithHeader(h).WithBody(*good.Body())
		}, consensus.ErrInvalidSeal},
		{"non-member miner", func() *types.Block {
			z := openTestEngine(t, e, "Z")
			b, err := z.chain.BuildBlock(head, nil, head.Time()+1)
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			return z.reseal(b.Block.Header(), b.Block.Body())
		}, consensus.ErrNotMember},
		{"wrong difficulty", func() *types.Block {
			h := good.Header()
			h.Difficulty = big.NewInt(1000)
			return e.reseal(h, good.Body())
		}, consensus.ErrInvalidDifficulty},
		{"timestamp before parent", func() *types.Block {
			h := good.Header()
			h.Time = head.Time() - 1
			return e.reseal(h, good.Body())
		}, consensus.ErrInvalidTimestamp},
		{"replayed tx", func() *types.Block {
			return e.reseal(retx(head.Transactions()[0]))
		}, rules.ErrNonceTooLow},
		{"nonce gap", func() *types.Block {
			return e.reseal(retx(transfer("B", 3, addrOf("Q"), 1, false)))
		}, rules.ErrNonceTooHigh},
		{"non-member sender", func() *types.Block {
			return e.reseal(retx(transfer("Z", 0, addrOf("Q"), 1, false)))
		}, rules.ErrNotAllowed},
		{"underfunded", func() *types.Block {
			tx := transfer("B", 0, addrOf("Q"), 0, false)
			big := types.MustSignNewTx(testKey("B"), types.NewLondonSigner(big.NewInt(testChainID)), &types.LegacyTx{Nonce: 0, To: tx.To(), Value: ether(2000), Gas: 21000, GasPrice: big.NewInt(1)})
			return e.reseal(retx(big))
		}, rules.ErrInsufficientFunds},
		{"wrong chain", func() *types.Block {
			to := addrOf("Q")
			tx := types.MustSignNewTx(testKey("B"), types.NewLondonSigner(big.NewInt(1)), &types.LegacyTx{Nonce: 0, To: &to, Value: big.NewInt(1), Gas: 21000, GasPrice: big.NewInt(1)})
			return e.reseal(retx(tx))
		}, rules.ErrWrongChain},
		{"bad signature", func() *types.Block {
			tx := transfer("B", 0, addrOf("Q"), 1, false)
			v, r, s := tx.RawSignatureValues()
			bad, err := tx.WithSignature(types.NewLondonSigner(big.NewInt(testChainID)), append(append(common.LeftPadBytes(r.Bytes(), 32), common.LeftPadBytes(new(big.Int).Add(s, big.NewInt(1)).Bytes(), 32)...), byte(v.Uint64()-testChainID*2-35)))
			if err != nil {
				t.Fatalf("with signature: %v", err)
			}
			// A different s recovers a different (non-member) sender or none.
			return e.reseal(retx(bad))
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.chain.InsertBlock(tt.block())
			if err == nil {
				t.Fatalf("have nil, want an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
			if have, want := e.chain.CurrentBlock().Hash(), head.Hash(); have != want {
				t.Fatalf("head moved: have %x, want %x", have, want)
			}
		})
	}
	if err := e.chain.InsertBlock(good); err != nil {
		t.Fatalf("good block after rejections: %v", err)
	}
}

// openTestEngine opens a second view of e's database mining as miner.
func openTestEngine(t *testing.T, e *testEnv, miner string) *testEnv {
	t.Helper()
	return openTestChain(t, e.db, miner)
}

// TestReorgHeavierWins builds two branches from genesis; the node that saw
// both must end exactly like a node that only saw the heavier one, and must
// hand back the transactions only the losing branch had.
func TestReorgHeavierWins(t *testing.T) {
	miner := newTestChain(t, "A")
	gen := miner.chain.CurrentBlock()
	q := addrOf("Q")

	// Branch 1: three blocks, slow timestamps (lower difficulty).
	var light []*types.Block
	parent := gen
	for i := uint64(0); i < 3; i++ {
		b := miner.mine(parent, []*types.Transaction{transfer("B", i, q, 10, false), transfer("P", i, q, 1, true)}, 3)
		if err := miner.chain.InsertBlock(b); err != nil {
			t.Fatalf("light %d: %v", i, err)
		}
		light = append(light, b)
		parent = b
	}
	// Branch 2, mined by another member: three blocks too but faster
	// timestamps, so more difficulty; it carries only B's first transfer.
	other := newTestChain(t, "C")
	var heavy []*types.Block
	for i := uint64(0); i < 3; i++ {
		var txs []*types.Transaction
		if i == 0 {
			txs = append(txs, transfer("B", 0, q, 10, false))
		}
		txs = append(txs, transfer("C", i, q, 100, false))
		b := other.mine(other.chain.CurrentBlock(), txs, 0)
		if err := other.chain.InsertBlock(b); err != nil {
			t.Fatalf("heavy %d: %v", i, err)
		}
		heavy = append(heavy, b)
	}
	tdOf := func(bs []*types.Block) *big.Int {
		td := new(big.Int).Set(gen.Difficulty())
		for _, b := range bs {
			td.Add(td, b.Difficulty())
		}
		return td
	}
	if tdOf(heavy).Cmp(tdOf(light)) <= 0 {
		t.Fatalf("test setup: heavy td %v not above light td %v", tdOf(heavy), tdOf(light))
	}

	sub := make(chan HeadEvent, 10)
	s := miner.chain.SubscribeChainHead(sub)
	defer s.Unsubscribe()
	for i, b := range heavy {
		if err := miner.chain.InsertBlock(b); err != nil {
			t.Fatalf("heavy %d: %v", i, err)
		}
	}
	if have, want := miner.chain.CurrentBlock().Hash(), heavy[2].Hash(); have != want {
		t.Fatalf("head: have %x, want heavy %x", have, want)
	}
	var dropped []*types.Transaction
	for len(sub) > 0 {
		ev := <-sub
		dropped = append(dropped, ev.Dropped...)
	}
	// B's later transfers and all of P's are dropped; B's first is on both branches.
	if have, want := len(dropped), 5; have != want {
		t.Fatalf("dropped txs: have %d, want %d", have, want)
	}

	only := newTestChain(t, "B")
	if _, err := only.chain.InsertChain(heavy, nil); err != nil {
		t.Fatalf("fresh import: %v", err)
	}
	stA, _ := miner.chain.State()
	stB, _ := only.chain.State()
	for _, n := range []string{"A", "B", "C", "P", "Q"} {
		a := addrOf(n)
		if stA.GetBalance(a).Cmp(stB.GetBalance(a)) != 0 || stA.GetNonce(a) != stB.GetNonce(a) {
			t.Fatalf("account %s: reorged node (%v, %d) vs fresh node (%v, %d)", n, stA.GetBalance(a), stA.GetNonce(a), stB.GetBalance(a), stB.GetNonce(a))
		}
	}
	if miner.chain.CurrentBlock().Root() != only.chain.CurrentBlock().Root() {
		t.Fatalf("state roots differ")
	}
	for i, b := range heavy {
		if have := miner.chain.GetBlockByNumber(uint64(i + 1)); have == nil || have.Hash() != b.Hash() {
			t.Fatalf("canonical %d is not the heavy block", i+1)
		}
	}
	if _, _, _, _, ok := miner.chain.GetTransaction(light[2].Transactions()[1].Hash()); ok {
		t.Fatalf("dropped transaction still indexed as canonical")
	}
	if _, _, _, _, ok := miner.chain.GetTransaction(heavy[0].Transactions()[0].Hash()); !ok {
		t.Fatalf("shared transaction lost from the index")
	}
}

func TestRestartKeepsHead(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := openTestChain(t, db, "A")
	for i := uint64(0); i < 3; i++ {
		e.mineInsert(transfer("B", i, addrOf("Q"), 7, false))
	}
	want := e.chain.CurrentBlock().Hash()
	db.Close()

	db, err = store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e2 := openTestChain(t, db, "A")
	if have := e2.chain.CurrentBlock().Hash(); have != want {
		t.Fatalf("head after restart: have %x, want %x", have, want)
	}
	if have := e2.balance("Q"); have.Cmp(big.NewInt(21)) != 0 {
		t.Fatalf("balance: have %v, want 21", have)
	}
	if err := e2.chain.VerifyHead(); err != nil {
		t.Fatalf("verify head: %v", err)
	}
}

func TestGenesisMismatch(t *testing.T) {
	e := newTestChain(t, "A")
	g := testGenesis()
	g.ChainID++
	if _, err := New(e.db, g, e.engine); !errors.Is(err, ErrGenesisMismatch) {
		t.Fatalf("have %v, want %v", err, ErrGenesisMismatch)
	}
}
