package pow

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
)

// BenchmarkSeal mines at a fixed small difficulty and reports the hash rate.
func BenchmarkSeal(b *testing.B) {
	for _, threads := range []int{1, 4} {
		b.Run(map[int]string{1: "threads=1", 4: "threads=4"}[threads], func(b *testing.B) {
			e := newTestEngine(newKey(b), WithThreads(threads))
			genesis := testGenesis(e)
			chain := newTestChain(genesis, e.Address())
			h := childOf(genesis, 1)
			if err := e.Prepare(chain, h, genesis); err != nil {
				b.Fatal(err)
			}
			h.Difficulty = big.NewInt(1 << 16)
			block := types.NewBlockWithHeader(h)
			ctx := context.Background()
			e.hashes.Store(0)
			start := time.Now()
			b.ResetTimer()
			for b.Loop() {
				if _, err := e.Seal(ctx, chain, block); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(e.hashes.Load())/time.Since(start).Seconds(), "hashes/s")
		})
	}
}

// BenchmarkVerifyHeader verifies one sealed header, with the signer cache
// (a header seen before, e.g. by Author) and without (a new header).
func BenchmarkVerifyHeader(b *testing.B) {
	miner := newTestEngine(newKey(b))
	genesis := testGenesis(miner)
	chain := newTestChain(genesis, miner.Address())
	h := mineChild(b, miner, chain, genesis, 3, func(h *types.Header) { withAllOptional(h) })
	for _, cached := range []bool{false, true} {
		name := "uncached"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			v := newTestEngine(nil)
			for b.Loop() {
				if !cached {
					v.signers.Purge()
				}
				if err := v.VerifyHeader(chain, h, genesis); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
