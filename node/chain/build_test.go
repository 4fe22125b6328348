package chain

import (
	"context"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
)

// TestBuildBlockUntil checks that a build stops adding transactions once
// its deadline says so, checked every buildCheckEvery transactions, and
// that the shorter block still imports.
func TestBuildBlockUntil(t *testing.T) {
	tests := []struct {
		name    string
		stopAt  int // done() turns true on this call; 0 never
		wantTxs int
	}{
		{"no deadline", 0, 100},
		{"first check", 1, buildCheckEvery - 1},
		{"third check", 3, 3*buildCheckEvery - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestChain(t, "A")
			to := addrOf("Z")
			var txs = make([]*types.Transaction, 100)
			for i := range txs {
				txs[i] = transfer("A", uint64(i), to, 1, true)
			}
			calls := 0
			var done func() bool
			if tt.stopAt > 0 {
				done = func() bool { calls++; return calls >= tt.stopAt }
			}
			parent := e.chain.CurrentBlock()
			built, err := e.chain.BuildBlockUntil(parent, txs, parent.Time()+1, done)
			if err != nil {
				t.Fatal(err)
			}
			if have := len(built.Block.Transactions()); have != tt.wantTxs {
				t.Fatalf("transactions: have %d, want %d", have, tt.wantTxs)
			}
			sealed, err := e.engine.Seal(context.Background(), e.chain, built.Block)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.chain.InsertBlock(sealed); err != nil {
				t.Fatalf("insert: %v", err)
			}
		})
	}
}
