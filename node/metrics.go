package node

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"
)

// registerMetrics exposes the chain and pool state as Prometheus gauges read
// at scrape time, so no goroutine has to keep them current.
func (n *Node) registerMetrics() error {
	head := func() float64 { return float64(n.chain.CurrentBlock().NumberU64()) }
	final := func() float64 { return float64(n.chain.FinalizedHeader().Number.Uint64()) }
	collectors := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arbiter_chain_head_number", Help: "Number of the canonical head block."}, head),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arbiter_chain_finalized_number", Help: "Number of the newest final block."}, final),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arbiter_chain_finality_lag_blocks", Help: "Blocks between the head and the newest final block."}, func() float64 { return head() - final() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arbiter_txpool_executable", Help: "Pool transactions ready for the next block."}, func() float64 { e, _ := n.pool.Stats(); return float64(e) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arbiter_txpool_future", Help: "Pool transactions waiting for a nonce gap to fill."}, func() float64 { _, f := n.pool.Stats(); return float64(f) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arbiter_txpool_bytes", Help: "Encoded size of the pooled transactions."}, func() float64 { return float64(n.pool.Bytes()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arbiter_txpool_evicted_total", Help: "Pool transactions evicted to make room for others."}, func() float64 { e, _ := n.pool.Dropped(); return float64(e) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arbiter_chain_state_writes_total", Help: "Block states written to disk (every 16 blocks, decision 35)."}, func() float64 { w, _, _ := n.chain.StateStats(); return float64(w) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arbiter_chain_state_recovered_blocks_total", Help: "Stored blocks re-executed to recover a state that was released or lost in a crash."}, func() float64 { _, r, _ := n.chain.StateStats(); return float64(r) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arbiter_chain_state_unwritten_bytes", Help: "Trie nodes of recent states held in memory, as layers (decision 48)."}, func() float64 { _, _, u := n.chain.StateStats(); return float64(u) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arbiter_chain_sender_recoveries_total", Help: "Transaction signatures block validation recovered because the pool had not."}, func() float64 { return float64(n.chain.SenderRecoveries()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arbiter_txpool_backlog", Help: "Executable transactions beyond which a JSON-RPC client's new ones wait for room (0: flow control off)."}, func() float64 {
			if b := n.pool.Backlog(); b < math.MaxInt {
				return float64(b)
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arbiter_txpool_backlog_waits_total", Help: "JSON-RPC clients' transactions that waited for room in the backlog."}, func() float64 { w, _ := n.pool.BacklogStats(); return float64(w) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arbiter_txpool_backlog_refused_total", Help: "JSON-RPC clients' transactions refused for the backlog: after a wait, or at once past the per-sponsor bounds."}, func() float64 { _, r := n.pool.BacklogStats(); return float64(r) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arbiter_txpool_expired_total", Help: "Pool transactions dropped after waiting too many heads behind a nonce gap."}, func() float64 { _, x := n.pool.Dropped(); return float64(x) }),
	}
	for _, c := range collectors {
		if err := n.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
