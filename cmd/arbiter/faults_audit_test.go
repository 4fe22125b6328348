package main

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// TestAuditAcked checks the fault test's final audit on made-up chains: it
// must notice an acknowledged transaction that one node's final chain
// lacks, holds twice, or holds in another block than the receipt named.
func TestAuditAcked(t *testing.T) {
	tx, other := common.Hash{1}, common.Hash{2}
	b5, b5x := common.Hash{0x55}, common.Hash{0x5f}
	acked := []ackedTx{{Hash: tx, What: "transfer", Number: 5, Block: b5}}
	chain := func(count int, at5 common.Hash) finalChain {
		c := finalChain{node: "n", txs: map[common.Hash]int{other: 1}, blocks: map[uint64]common.Hash{5: at5}}
		if count > 0 {
			c.txs[tx] = count
		}
		return c
	}
	tests := []struct {
		name                    string
		chains                  []finalChain
		lost, duplicated, moved int
	}{
		{"everywhere once", []finalChain{chain(1, b5), chain(1, b5)}, 0, 0, 0},
		{"missing on one node", []finalChain{chain(1, b5), chain(0, b5)}, 1, 0, 0},
		{"missing on every node counts once", []finalChain{chain(0, b5), chain(0, b5)}, 1, 0, 0},
		{"twice on one node", []finalChain{chain(2, b5), chain(1, b5)}, 0, 1, 0},
		{"receipt's block not final", []finalChain{chain(1, b5), chain(1, b5x)}, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := auditAcked(acked, tt.chains)
			if r.lost != tt.lost || r.duplicated != tt.duplicated || r.moved != tt.moved {
				t.Fatalf("lost, duplicated, moved: have %d, %d, %d, want %d, %d, %d (%v)",
					r.lost, r.duplicated, r.moved, tt.lost, tt.duplicated, tt.moved, r.problems)
			}
			if have, want := len(r.problems) > 0, tt.lost+tt.duplicated+tt.moved > 0; have != want {
				t.Fatalf("problems reported: have %v, want %v", r.problems, want)
			}
		})
	}
}
