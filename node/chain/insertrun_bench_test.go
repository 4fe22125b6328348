package chain

import (
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/arbiter-chain/arbiter/node/store"
)

const (
	// catchUpEmpty is the length of the empty chain the catch-up
	// benchmarks import: more blocks than the engine's signature cache
	// holds signatures, so building it leaves no useful entry there.
	catchUpEmpty = 5120
	// catchUpBatch is the blocks per InsertChain call, as sync asks.
	catchUpBatch = 256
	// catchUpFull and catchUpTxs shape the chain of full blocks.
	catchUpFull, catchUpTxs = 16, 1000
)

// catchUpChain is a certified proof-of-stake chain of 4 validators,
// RLP-encoded so that every import decodes it afresh.
type catchUpChain struct {
	net     *posNet
	blocks  [][]byte
	tipCert []byte
}

var (
	emptyOnce, fullOnce sync.Once
	emptyChain          catchUpChain
	fullChain           catchUpChain
)

func makeCatchUpChain(b *testing.B, count int, txs func(uint64) []*types.Transaction, funded ...string) catchUpChain {
	b.Helper()
	net := newPosNet(b, 4, funded...)
	blocks, tip := net.extend(b, count, txs)
	out := catchUpChain{net: net, tipCert: tip}
	for _, blk := range blocks {
		enc, err := rlp.EncodeToBytes(blk)
		if err != nil {
			b.Fatal(err)
		}
		out.blocks = append(out.blocks, enc)
	}
	return out
}

func (cc catchUpChain) decode(b *testing.B) []*types.Block {
	b.Helper()
	out := make([]*types.Block, len(cc.blocks))
	for i, enc := range cc.blocks {
		out[i] = new(types.Block)
		if err := rlp.DecodeBytes(enc, out[i]); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// catchUpDB opens a fresh database: in memory, or on disk with synced
// writes as a node runs.
func catchUpDB(b *testing.B, disk bool) *store.DB {
	b.Helper()
	var (
		db  *store.DB
		err error
	)
	if disk {
		db, err = store.Open(b.TempDir())
	} else {
		db, err = store.OpenInMemory()
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// benchCatchUp imports cc into a fresh chain per iteration, either as
// sync does (InsertChain, catchUpBatch blocks a call) or block by block
// with InsertCertified (the import cost without runs), and reports
// blocks/s and µs per transaction, in wall time and in the CPU time of
// the process (all cores; what a loaded machine inflates least).
func benchCatchUp(b *testing.B, cc catchUpChain, disk, runs bool) {
	var total, txs int
	var cpu time.Duration
	for range b.N {
		b.StopTimer()
		c := cc.net.open(b, catchUpDB(b, disk), nil)
		blocks := cc.decode(b)
		cpu0 := cpuTime()
		b.StartTimer()
		if runs {
			for i := 0; i < len(blocks); i += catchUpBatch {
				end := min(i+catchUpBatch, len(blocks))
				tip := []byte(nil)
				if end == len(blocks) {
					tip = cc.tipCert
				} else if tip = c.certifier.ParentCertificate(blocks[end].Header()); tip == nil {
					b.Fatal("no certificate")
				}
				if n, err := c.InsertChain(blocks[i:end], tip); err != nil || n != end-i {
					b.Fatalf("InsertChain: %d, %v", n, err)
				}
			}
		} else {
			for i, blk := range blocks {
				cert := cc.tipCert
				if i+1 < len(blocks) {
					cert = c.certifier.ParentCertificate(blocks[i+1].Header())
				}
				if err := c.InsertCertified(blk, cert); err != nil {
					b.Fatalf("InsertCertified %d: %v", i+1, err)
				}
			}
		}
		b.StopTimer()
		cpu += cpuTime() - cpu0
		b.StartTimer()
		total += len(blocks)
		for _, blk := range blocks {
			txs += len(blk.Transactions())
		}
		if c.CurrentBlock().NumberU64() != uint64(len(blocks)) {
			b.Fatalf("head %d, want %d", c.CurrentBlock().NumberU64(), len(blocks))
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "blocks/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(total), "cpu-µs/block")
	if txs > 0 {
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(txs), "µs/tx")
		b.ReportMetric(float64(cpu.Microseconds())/float64(txs), "cpu-µs/tx")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkCatchUp measures catch-up import of certified proof-of-stake
// blocks (4 validators): 5,120 empty blocks and 16 blocks of 1,000
// transfers, in memory and on disk, in runs (InsertChain as sync calls
// it) and block by block (InsertCertified).
func BenchmarkCatchUp(b *testing.B) {
	for _, kind := range []string{"empty", "full"} {
		for _, disk := range []bool{false, true} {
			for _, runs := range []bool{true, false} {
				name := fmt.Sprintf("%s/disk=%v/runs=%v", kind, disk, runs)
				b.Run(name, func(b *testing.B) {
					var cc catchUpChain
					if kind == "empty" {
						emptyOnce.Do(func() { emptyChain = makeCatchUpChain(b, catchUpEmpty, nil) })
						cc = emptyChain
					} else {
						fullOnce.Do(func() { fullChain = makeCatchUpChain(b, catchUpFull, fullTransfers(b), "S") })
						cc = fullChain
					}
					b.ResetTimer()
					benchCatchUp(b, cc, disk, runs)
				})
			}
		}
	}
}

// fullTransfers returns catchUpTxs transfers a block from funded member S,
// each to a new account.
func fullTransfers(b *testing.B) func(uint64) []*types.Transaction {
	var nonce uint64
	return func(number uint64) []*types.Transaction {
		out := make([]*types.Transaction, catchUpTxs)
		for i := range out {
			to := common.BigToAddress(big.NewInt(int64(1_000_000 + int(number)*catchUpTxs + i)))
			out[i] = transfer("S", nonce, to, 1, true)
			nonce++
		}
		return out
	}
}
