package p2p

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
)

// BenchmarkSync measures sync throughput between two in-process nodes on
// loopback: a member at genesis catches up with one that has the chain.
// Each iteration syncs the whole chain into a fresh store; blocks/s counts
// from Start to the last import.
func BenchmarkSync(b *testing.B) {
	b.Run("empty", func(b *testing.B) {
		benchSync(b, 2000, 0)
	})
	b.Run("transfers", func(b *testing.B) {
		benchSync(b, 200, 100)
	})
}

func benchSync(b *testing.B, blocks, txsPerBlock int) {
	g := testGenesis(b)
	src := newTestChain(b, g, "A")
	senders := []string{"A", "B", "C"}
	nonces := make(map[string]uint64)
	src.extend(blocks, func(i int) []*types.Transaction {
		txs := make([]*types.Transaction, txsPerBlock)
		for j := range txs {
			from := senders[j%len(senders)]
			to := common.BytesToAddress([]byte{0xbe, byte(i), byte(j)})
			txs[j] = transfer(b, from, nonces[from], to)
			nonces[from]++
		}
		return txs
	})
	quiet := func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) }
	leader := startNode(b, "A", src, nil, quiet)
	want := src.chain.CurrentBlock().Hash()

	b.ResetTimer()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dst := newTestChain(b, g, "B")
		b.StartTimer()
		start := time.Now()
		follower := startNode(b, "B", dst, nil, quiet, withPeers(leader))
		waitForLong(b, func() bool { return dst.chain.CurrentBlock().Hash() == want })
		elapsed += time.Since(start)
		b.StopTimer()
		follower.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(blocks*b.N)/elapsed.Seconds(), "blocks/s")
	if txsPerBlock > 0 {
		b.ReportMetric(float64(blocks*txsPerBlock*b.N)/elapsed.Seconds(), "txs/s")
	}
}

// waitForLong polls cond for up to a minute: a benchmark's chain may take
// longer than waitTimeout to sync on a slow machine.
func waitForLong(b *testing.B, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("sync did not finish within a minute")
		}
		<-tick.C
	}
}

// TestMsgIDByPayload checks that a message's id is its payload's alone:
// equal payloads share it, payloads one byte apart do not.
func TestMsgIDByPayload(t *testing.T) {
	a := bytes.Repeat([]byte{7}, 1000)
	b := bytes.Clone(a)
	b[999] = 8
	idA, idA2, idB := msgID(&pb.Message{Data: a}), msgID(&pb.Message{Data: bytes.Clone(a), From: []byte("x")}), msgID(&pb.Message{Data: b})
	if idA != idA2 {
		t.Fatal("the same payload has two ids")
	}
	if idA == idB || len(idA) != 32 {
		t.Fatalf("ids %x and %x: want two different 32-byte ids", idA, idB)
	}
}

// BenchmarkMsgID measures the id of a full transaction batch, which every
// copy of every batch pays on arrival.
func BenchmarkMsgID(b *testing.B) {
	m := &pb.Message{Data: bytes.Repeat([]byte{1}, 256*120)}
	b.SetBytes(int64(len(m.Data)))
	for b.Loop() {
		_ = msgID(m)
	}
}
