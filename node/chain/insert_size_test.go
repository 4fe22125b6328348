package chain

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
)

// TestSizeOver checks that the bound sizeOver takes from a block's parts
// gives the same verdict as the block's exact encoded size, on blocks that
// were built (no size cached) and decoded, with typed and legacy
// transactions, for limits below, at, between and above.
func TestSizeOver(t *testing.T) {
	txs := []*types.Transaction{
		transfer("A", 0, addrOf("Q"), 1, false),
		transfer("A", 1, addrOf("Q"), 1, true),
		transfer("B", 0, addrOf("Q"), 1, false),
	}
	header := &types.Header{Number: big.NewInt(1), GasLimit: 30_000_000, Extra: make([]byte, 32)}
	fresh := func() *types.Block { return types.NewBlockWithHeader(header).WithBody(types.Body{Transactions: txs}) }
	exact := fresh().Size()
	for _, limit := range []uint64{0, exact - 1, exact, exact + 1, exact + 20, exact + 1000} {
		if have, want := sizeOver(fresh(), limit), exact > limit; have != want {
			t.Errorf("limit %d, block of %d bytes: have %v, want %v", limit, exact, have, want)
		}
	}
	empty := types.NewBlockWithHeader(header)
	if sizeOver(empty, empty.Size()) || !sizeOver(types.NewBlockWithHeader(header), empty.Size()-1) {
		t.Error("an empty block is judged wrongly")
	}
}
