package chain

import (
	"errors"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/arbiter-chain/arbiter/node/store"
)

// TestValidatedNotExecutedAgain checks that importing a block this node
// validated as a proposal reuses that execution, and only while the
// block's parent is still the head. Blocks are mined by node A and
// validated and imported by node C, which has never executed them.
func TestValidatedNotExecutedAgain(t *testing.T) {
	type step struct {
		validate bool // ValidateBlock, else InsertBlock
		block    string
	}
	tests := []struct {
		name  string
		steps []step
		// executions is the number of blocks C executes in all.
		executions uint64
		head       string // "": not checked
	}{
		{
			name:       "validate then insert executes once",
			steps:      []step{{true, "p1"}, {false, "p1"}},
			executions: 1, head: "p1",
		},
		{
			name:       "validate twice executes once",
			steps:      []step{{true, "p1"}, {true, "p1"}, {false, "p1"}},
			executions: 1, head: "p1",
		},
		{
			name:       "another block at the same number executes",
			steps:      []step{{true, "p1"}, {false, "q1"}},
			executions: 2, head: "q1",
		},
		{
			name: "an entry on a parent that is no longer the head is not used",
			// c2 is validated on p1; q1 and q2 then make a heavier
			// branch, so c2's parent is no longer the head.
			steps: []step{{false, "p1"}, {true, "c2"}, {false, "q1"}, {false, "q2"}, {false, "c2"}},
			// q2 and c2 tie on total difficulty; the head is the lower
			// hash, so it is not checked.
			executions: 5,
		},
	}
	a := newTestChain(t, "A")
	gen := a.chain.CurrentBlock()
	blocks := make(map[string]*types.Block)
	mineOn := func(name string, parent *types.Block, from string) {
		t.Helper()
		b := a.mine(parent, []*types.Transaction{transfer(from, parent.NumberU64(), addrOf("Q"), 1, false)}, 1)
		if err := a.chain.InsertBlock(b); err != nil {
			t.Fatalf("insert %s on A: %v", name, err)
		}
		blocks[name] = b
	}
	mineOn("p1", gen, "A")
	mineOn("q1", gen, "B")
	mineOn("q2", blocks["q1"], "B")
	mineOn("c2", blocks["p1"], "A")
	if blocks["q2"].NumberU64() != 2 || blocks["c2"].ParentHash() != blocks["p1"].Hash() {
		t.Fatalf("test chain not as intended")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestChain(t, "C").chain
			for _, s := range tt.steps {
				b := blocks[s.block]
				var err error
				if s.validate {
					err = c.ValidateBlock(b)
				} else {
					err = c.InsertBlock(b)
				}
				if err != nil {
					t.Fatalf("validate %v %s: %v", s.validate, s.block, err)
				}
			}
			if have, want := c.executions.Load(), tt.executions; have != want {
				t.Fatalf("executions: have %d, want %d", have, want)
			}
			if tt.head != "" {
				if have, want := c.CurrentBlock().Hash(), blocks[tt.head].Hash(); have != want {
					t.Fatalf("head: have %x, want %x", have, want)
				}
			}
			last := blocks[tt.steps[len(tt.steps)-1].block]
			receipts, err := c.GetReceipts(last.Hash())
			if err != nil || len(receipts) != 1 || receipts[0].Status != types.ReceiptStatusSuccessful {
				t.Fatalf("receipts of the last block: have %v (err %v), want one successful", receipts, err)
			}
			if have := c.validated.len(); have != 0 {
				t.Fatalf("entries left after import: have %d, want 0", have)
			}
		})
	}
}

// TestExecCache checks the cache's own rules: an entry is handed out once
// and only on the head it was built on, a new head drops entries on other
// parents, and the cache never holds more than execCacheSize entries.
func TestExecCache(t *testing.T) {
	h := func(b byte) common.Hash { return common.Hash{b} }
	entry := func(hash, parent byte) *execEntry { return &execEntry{hash: h(hash), parent: h(parent)} }
	tests := []struct {
		name   string
		run    func(x *execCache) (*execEntry, bool)
		wantOK bool
		left   int
	}{
		{
			name: "taken on its parent",
			run: func(x *execCache) (*execEntry, bool) {
				x.put(entry(1, 0), func() common.Hash { return h(0) })
				return x.take(h(1), h(0))
			},
			wantOK: true, left: 0,
		},
		{
			name: "taken once",
			run: func(x *execCache) (*execEntry, bool) {
				x.put(entry(1, 0), func() common.Hash { return h(0) })
				x.take(h(1), h(0))
				return x.take(h(1), h(0))
			},
			wantOK: false, left: 0,
		},
		{
			name: "not taken once the head moved, and dropped",
			run: func(x *execCache) (*execEntry, bool) {
				x.put(entry(1, 0), func() common.Hash { return h(0) })
				return x.take(h(1), h(9))
			},
			wantOK: false, left: 0,
		},
		{
			name: "not kept when its parent is not the head",
			run: func(x *execCache) (*execEntry, bool) {
				x.put(entry(1, 0), func() common.Hash { return h(9) })
				return x.take(h(1), h(0))
			},
			wantOK: false, left: 0,
		},
		{
			name: "a new head drops the others",
			run: func(x *execCache) (*execEntry, bool) {
				head := func() common.Hash { return h(0) }
				x.put(entry(1, 0), head)
				x.put(entry(2, 0), head)
				x.put(entry(3, 1), func() common.Hash { return h(1) })
				x.prune(h(1))
				return x.take(h(3), h(1))
			},
			wantOK: true, left: 0,
		},
		{
			name: "bounded, oldest out",
			run: func(x *execCache) (*execEntry, bool) {
				head := func() common.Hash { return h(0) }
				for i := byte(1); i <= execCacheSize+2; i++ {
					x.put(entry(i, 0), head)
				}
				if _, ok := x.take(h(2), h(0)); ok {
					return nil, false // evicted entry still there
				}
				return x.take(h(execCacheSize+2), h(0))
			},
			wantOK: true, left: execCacheSize - 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var x execCache
			_, ok := tt.run(&x)
			if ok != tt.wantOK {
				t.Fatalf("taken: have %v, want %v", ok, tt.wantOK)
			}
			if have := x.len(); have != tt.left {
				t.Fatalf("entries left: have %d, want %d", have, tt.left)
			}
		})
	}
}

// BenchmarkValidateInsert validates each block of 1,000 transfers as a BFT
// validator judges a proposal, then imports it as decided: "reuse" imports
// with the validated execution, "execute-twice" drops it first, which is
// what import cost without the cache.
func BenchmarkValidateInsert(b *testing.B) {
	g, encoded := benchChain(b)
	for _, mode := range []struct {
		name  string
		reuse bool
	}{{"reuse", true}, {"execute-twice", false}} {
		b.Run(mode.name, func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				db, err := store.OpenInMemory()
				if err != nil {
					b.Fatal(err)
				}
				c, err := New(db, g, pow.New(*g.PoW, time.Second, nil))
				if err != nil {
					b.Fatal(err)
				}
				blocks := make([]*types.Block, len(encoded))
				for j, enc := range encoded {
					blocks[j] = new(types.Block)
					if err := rlp.DecodeBytes(enc, blocks[j]); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				start := time.Now()
				for _, blk := range blocks {
					if err := c.ValidateBlock(blk); err != nil {
						b.Fatal(err)
					}
					if !mode.reuse {
						c.validated.prune(common.Hash{})
					}
					if err := c.InsertBlock(blk); err != nil {
						b.Fatal(err)
					}
				}
				total += time.Since(start)
				b.StopTimer()
				db.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N*benchBlocks), "µs/block")
		})
	}
}

// TestKnownBodyByIdentity checks that a block whose transaction root is
// not derived again (one this node built, or validated) is the very block
// object: the same header carrying another body is refused, whether the
// header's execution is held from validation or from building.
func TestKnownBodyByIdentity(t *testing.T) {
	a := newTestChain(t, "A")
	gen := a.chain.CurrentBlock()
	p1 := a.mine(gen, []*types.Transaction{transfer("A", 0, addrOf("Q"), 1, false)}, 1)
	other := []*types.Transaction{transfer("A", 0, addrOf("Q"), 2, false)}
	forged := types.NewBlockWithHeader(p1.Header()).WithBody(types.Body{Transactions: other})
	if forged.Hash() != p1.Hash() {
		t.Fatal("the forged block should share the header's hash")
	}
	// A built p1 and holds its execution.
	if err := a.chain.InsertBlock(forged); !errors.Is(err, ErrTxRoot) {
		t.Fatalf("A imports the built header with another body: have %v, want %v", err, ErrTxRoot)
	}
	if err := a.chain.InsertBlock(p1); err != nil {
		t.Fatalf("A imports the block it built: %v", err)
	}

	// C validated p1 and holds its execution.
	c := newTestChain(t, "C").chain
	if err := c.ValidateBlock(p1); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if err := c.InsertBlock(forged); !errors.Is(err, ErrTxRoot) {
		t.Fatalf("C imports the validated header with another body: have %v, want %v", err, ErrTxRoot)
	}
	// An equal list decoded again is checked, and passes.
	enc, err := rlp.EncodeToBytes(p1)
	if err != nil {
		t.Fatal(err)
	}
	again := new(types.Block)
	if err := rlp.DecodeBytes(enc, again); err != nil {
		t.Fatal(err)
	}
	if known, _ := c.knownBody(again); known {
		t.Fatal("a block decoded again counts as known")
	}
	if known, _ := c.knownBody(p1); !known {
		t.Fatal("the validated block itself does not count as known")
	}
	if c.ValidatedBlock(p1.Hash()) != p1 || c.ValidatedBlock(forged.Hash()) != p1 {
		t.Fatal("the validated block is not handed out by its hash")
	}
	c.storing.Store(again) // as insert does while it stores a block
	if c.ValidatedBlock(again.Hash()) != again {
		t.Fatal("the block being stored is not handed out")
	}
	c.storing.Store(nil)
	if err := c.InsertBlock(p1); err != nil {
		t.Fatalf("C imports the block it validated: %v", err)
	}
	if c.ValidatedBlock(p1.Hash()) != nil {
		t.Fatal("a stored block is still handed out as validated")
	}
	if have := c.executions.Load(); have != 1 {
		t.Fatalf("executions on C: have %d, want 1", have)
	}
}
