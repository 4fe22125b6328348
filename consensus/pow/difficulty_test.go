package pow

import (
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
)

func TestCalcDifficulty(t *testing.T) {
	const parentTime = 1_000_000
	tests := []struct {
		name       string
		min        uint64
		blockTime  time.Duration
		parentDiff int64
		time       uint64
		want       int64
	}{
		// target 10s, step 1600/16 = 100
		{name: "same second is fast", min: 1, blockTime: 10 * time.Second, parentDiff: 1600, time: parentTime, want: 1700},
		{name: "one second early", min: 1, blockTime: 10 * time.Second, parentDiff: 1600, time: parentTime + 9, want: 1700},
		{name: "on target", min: 1, blockTime: 10 * time.Second, parentDiff: 1600, time: parentTime + 10, want: 1600},
		{name: "one second late", min: 1, blockTime: 10 * time.Second, parentDiff: 1600, time: parentTime + 11, want: 1500},
		{name: "one period late", min: 1, blockTime: 10 * time.Second, parentDiff: 1600, time: parentTime + 20, want: 1500},
		{name: "just over one period late", min: 1, blockTime: 10 * time.Second, parentDiff: 1600, time: parentTime + 21, want: 1400},
		{name: "three periods late", min: 1, blockTime: 10 * time.Second, parentDiff: 1600, time: parentTime + 40, want: 1300},
		{name: "very late is bounded to halving", min: 1, blockTime: 10 * time.Second, parentDiff: 1600, time: parentTime + 1000, want: 800},
		{name: "max timestamp does not overflow", min: 1, blockTime: 10 * time.Second, parentDiff: 1600, time: math.MaxUint64, want: 800},
		{name: "time before parent counts as fast", min: 1, blockTime: 10 * time.Second, parentDiff: 1600, time: parentTime - 5, want: 1700},
		{name: "rounded step", min: 1, blockTime: 10 * time.Second, parentDiff: 1615, time: parentTime, want: 1715},
		{name: "small difficulty still rises", min: 1, blockTime: 10 * time.Second, parentDiff: 1, time: parentTime, want: 2},
		{name: "small difficulty still falls", min: 1, blockTime: 10 * time.Second, parentDiff: 15, time: parentTime + 11, want: 14},
		{name: "floor at minimum", min: 95, blockTime: 10 * time.Second, parentDiff: 100, time: parentTime + 1000, want: 95},
		{name: "parent below minimum is lifted", min: 95, blockTime: 10 * time.Second, parentDiff: 50, time: parentTime + 10, want: 95},
		{name: "zero minimum acts as one", min: 0, blockTime: 10 * time.Second, parentDiff: 1, time: parentTime + 1000, want: 1},
		// sub-second block time counts as 1s: only the same second is fast
		{name: "sub-second target, same second", min: 1, blockTime: 500 * time.Millisecond, parentDiff: 1600, time: parentTime, want: 1700},
		{name: "sub-second target, next second", min: 1, blockTime: 500 * time.Millisecond, parentDiff: 1600, time: parentTime + 1, want: 1600},
		{name: "fractional target rounds down", min: 1, blockTime: 2900 * time.Millisecond, parentDiff: 1600, time: parentTime + 2, want: 1600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := New(Config{MinDifficulty: tt.min, InitialDifficulty: 1}, tt.blockTime, nil)
			parent := &types.Header{Time: parentTime, Difficulty: big.NewInt(tt.parentDiff), Number: big.NewInt(1)}
			got := e.CalcDifficulty(tt.time, parent)
			if got.Cmp(big.NewInt(tt.want)) != 0 {
				t.Fatalf("CalcDifficulty = %v, want %v", got, tt.want)
			}
			if parent.Difficulty.Cmp(big.NewInt(tt.parentDiff)) != 0 {
				t.Fatal("parent difficulty was modified")
			}
		})
	}
}

// TestDifficultyDirection walks a chain with fixed gaps and checks the
// direction of the retarget and the floor.
func TestDifficultyDirection(t *testing.T) {
	tests := []struct {
		name    string
		gap     uint64
		check   func(prev, next *big.Int) bool
		explain string
	}{
		{name: "faster than target", gap: 2, check: func(p, n *big.Int) bool { return n.Cmp(p) > 0 }, explain: "rise"},
		{name: "equal timestamps", gap: 0, check: func(p, n *big.Int) bool { return n.Cmp(p) > 0 }, explain: "rise"},
		{name: "on target", gap: 10, check: func(p, n *big.Int) bool { return n.Cmp(p) == 0 }, explain: "stay"},
		{name: "slower than target", gap: 25, check: func(p, n *big.Int) bool { return n.Cmp(p) < 0 || n.Uint64() == 1000 }, explain: "fall until the minimum"},
	}
	cfg := Config{MinDifficulty: 1000, InitialDifficulty: 100_000}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := New(cfg, 10*time.Second, nil)
			parent := &types.Header{Time: 0, Difficulty: e.GenesisDifficulty(), Number: big.NewInt(0)}
			for i := range 200 {
				next := e.CalcDifficulty(parent.Time+tt.gap, parent)
				if !tt.check(parent.Difficulty, next) {
					t.Fatalf("block %d: %v -> %v, want %s", i+1, parent.Difficulty, next, tt.explain)
				}
				if next.Uint64() < cfg.MinDifficulty {
					t.Fatalf("block %d: difficulty %v below minimum %d", i+1, next, cfg.MinDifficulty)
				}
				parent = &types.Header{Time: parent.Time + tt.gap, Difficulty: next, Number: new(big.Int).Add(parent.Number, big.NewInt(1))}
			}
		})
	}
}

func TestGenesisDifficulty(t *testing.T) {
	e := New(Config{MinDifficulty: 3, InitialDifficulty: 77}, time.Second, nil)
	if got := e.GenesisDifficulty(); got.Cmp(big.NewInt(77)) != 0 {
		t.Fatalf("GenesisDifficulty = %v, want 77", got)
	}
	e.GenesisDifficulty().SetInt64(1) // callers get a copy
	if got := e.GenesisDifficulty(); got.Cmp(big.NewInt(77)) != 0 {
		t.Fatalf("GenesisDifficulty changed to %v", got)
	}
}
