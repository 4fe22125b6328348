package txpool

import (
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
)

// TestAccountFind checks find's answers, at the end (found without a
// search) and inside the list, present or not.
func TestAccountFind(t *testing.T) {
	a := &account{}
	if i, ok := a.find(4); i != 0 || ok {
		t.Fatalf("empty: have %d %v, want 0 false", i, ok)
	}
	for _, n := range []uint64{3, 5, 7} {
		a.txs = append(a.txs, &entry{tx: types.NewTx(&types.DynamicFeeTx{Nonce: n})})
	}
	for _, tt := range []struct {
		nonce uint64
		i     int
		ok    bool
	}{{8, 3, false}, {7, 2, true}, {6, 2, false}, {5, 1, true}, {4, 1, false}, {3, 0, true}, {1, 0, false}} {
		if i, ok := a.find(tt.nonce); i != tt.i || ok != tt.ok {
			t.Errorf("nonce %d: have %d %v, want %d %v", tt.nonce, i, ok, tt.i, tt.ok)
		}
	}
}
