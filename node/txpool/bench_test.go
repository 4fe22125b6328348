package txpool

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
)

const (
	benchSenders = 100
	benchTxs     = 10_000
)

var (
	benchOnce sync.Once
	benchEnv  *env
	benchRaw  [][]byte // benchTxs signed txs: sender i%100, nonce i/100, random price
)

func benchSetup(b *testing.B) (*env, [][]byte) {
	benchOnce.Do(func() {
		benchEnv = newEnv(b, benchSenders)
		rng := rand.New(rand.NewPCG(3, 4))
		for i := 0; i < benchTxs; i++ {
			tx := sign(b, benchEnv.extra[i%benchSenders], legacy(uint64(i/benchSenders), 1+rng.Int64N(1000)))
			raw, err := tx.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			benchRaw = append(benchRaw, raw)
		}
	})
	return benchEnv, benchRaw
}

// decodeAll returns fresh transactions, without a cached sender.
func decodeAll(b *testing.B, raw [][]byte) []*types.Transaction {
	txs := make([]*types.Transaction, len(raw))
	for i, r := range raw {
		txs[i] = new(types.Transaction)
		if err := txs[i].UnmarshalBinary(r); err != nil {
			b.Fatal(err)
		}
	}
	return txs
}

func benchConfig() Config { return Config{MaxTxs: benchTxs, MaxPerSender: benchTxs} }

// BenchmarkAdd adds 10k transactions from 100 senders, pool after pool,
// with the senders recovered beforehand (as after gossip validation) and
// without (signature recovery in Add).
func BenchmarkAdd(b *testing.B) {
	for _, recovered := range []bool{true, false} {
		name := "unrecovered"
		if recovered {
			name = "recovered"
		}
		b.Run(name, func(b *testing.B) {
			e, raw := benchSetup(b)
			var (
				txs []*types.Transaction
				p   *Pool
			)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i % benchTxs
				if j == 0 {
					b.StopTimer()
					txs = decodeAll(b, raw)
					if recovered {
						for _, tx := range txs {
							if _, err := types.Sender(testSigner, tx); err != nil {
								b.Fatal(err)
							}
						}
					}
					p = e.pool(benchConfig())
					b.StartTimer()
				}
				if err := p.Add(txs[j]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPending orders 10k executable transactions from 100 senders:
// computed afresh (cold) and as cached until the pool changes.
func BenchmarkPending(b *testing.B) {
	e, raw := benchSetup(b)
	p := e.pool(benchConfig())
	for _, tx := range decodeAll(b, raw) {
		if err := p.Add(tx); err != nil {
			b.Fatal(err)
		}
	}
	if exec, _ := p.Stats(); exec != benchTxs {
		b.Fatalf("have %v executable, want %v", exec, benchTxs)
	}
	for _, cached := range []bool{false, true} {
		name := "cold"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !cached { // as after a change to the pool
					p.mu.Lock()
					p.pending = nil
					p.mu.Unlock()
				}
				if n := len(p.Pending()); n != benchTxs {
					b.Fatalf("have %v, want %v", n, benchTxs)
				}
			}
		})
	}
}

// BenchmarkReset revalidates 10k transactions from 100 senders on a new head.
func BenchmarkReset(b *testing.B) {
	e, raw := benchSetup(b)
	p := e.pool(benchConfig())
	for _, tx := range decodeAll(b, raw) {
		if err := p.Add(tx); err != nil {
			b.Fatal(err)
		}
	}
	head := e.chain.CurrentHeader()
	b.ReportAllocs()
	for b.Loop() {
		p.Reset(head, nil)
	}
	if n := p.Len(); n != benchTxs {
		b.Fatalf("have %v, want %v", n, benchTxs)
	}
}

var (
	fullOnce   sync.Once
	fullEnv    *env
	fullFlood  [][]byte // benchTxs from mallory and 99 accounts she vouches for, 100 each
	fullHonest [][]byte // benchTxs/2 from the 100 other members, 50 each
)

// BenchmarkAddFull adds transactions of 100 members to a pool that one
// member's 100 vouched accounts filled to its 10k transaction limit: each
// Add evicts one of hers. The pool is refilled every 5k Adds.
func BenchmarkAddFull(b *testing.B) {
	fullOnce.Do(func() {
		fullEnv = newEnv(b, benchSenders)
		keys := fullEnv.sybils(b, benchSenders-1)
		enc := func(tx *types.Transaction) []byte {
			raw, err := tx.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			return raw
		}
		for i := 0; i < benchTxs; i++ {
			fullFlood = append(fullFlood, enc(sign(b, keys[i%benchSenders], legacy(uint64(i/benchSenders), 0))))
		}
		for i := 0; i < benchTxs/2; i++ {
			fullHonest = append(fullHonest, enc(sign(b, fullEnv.extra[i%benchSenders], legacy(uint64(i/benchSenders), 1))))
		}
	})
	recovered := func(raw [][]byte) []*types.Transaction {
		txs := decodeAll(b, raw)
		for _, tx := range txs {
			if _, err := types.Sender(testSigner, tx); err != nil {
				b.Fatal(err)
			}
		}
		return txs
	}
	var (
		txs []*types.Transaction
		p   *Pool
	)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(fullHonest)
		if j == 0 {
			b.StopTimer()
			p = fullEnv.pool(benchConfig())
			for _, tx := range recovered(fullFlood) {
				if err := p.Add(tx); err != nil {
					b.Fatal(err)
				}
			}
			txs = recovered(fullHonest)
			b.StartTimer()
		}
		if err := p.Add(txs[j]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if evicted, _ := p.Dropped(); evicted == 0 {
		b.Fatal("nothing evicted")
	}
}
