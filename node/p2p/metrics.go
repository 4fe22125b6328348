package p2p

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the node's Prometheus metrics.
type metrics struct {
	// peers is read from the host when scraped, so it never disagrees
	// with net_peerCount: a gauge set on connectedness events lags by
	// however long the node's loop takes to reach the event.
	peers    prometheus.GaugeFunc
	countFn  atomic.Pointer[func() int]
	height   prometheus.Gauge
	target   prometheus.Gauge
	blocks   prometheus.Counter
	rejected *prometheus.CounterVec
	txsIn    prometheus.Counter
	// recovered counts signatures recovered for peers' transactions.
	recovered prometheus.Counter
	passedOn  prometheus.Counter
	// trusted counts peers' transactions whose senders a quorum vouched
	// for; attested, the batches this node attested (decision 46).
	trusted  prometheus.Counter
	attested prometheus.Counter
	fetched  prometheus.Counter
	// silent counts connections the muxer closed for an unanswered
	// keepalive (decision 39).
	silent prometheus.Counter

	targetN atomic.Uint64 // target's value, for SyncTarget
}

// newMetrics creates the metrics and registers them on reg, if not nil.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{}
	*m = metrics{
		peers: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "arbiter", Subsystem: "p2p", Name: "peers",
			Help: "Connected member peers.",
		}, m.countPeers),
		height: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "arbiter", Subsystem: "p2p", Name: "sync_height",
			Help: "Number of the local head block.",
		}),
		target: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "arbiter", Subsystem: "p2p", Name: "sync_target",
			Help: "Highest head number reported by a peer (or the local head).",
		}),
		blocks: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "p2p", Name: "blocks_imported_total",
			Help: "Blocks imported from the network, by sync and gossip.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "p2p", Name: "gossip_rejects_total",
			Help: "Gossip messages rejected by validation, by topic (txs, blocks, consensus).",
		}, []string{"topic"}),
		txsIn: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "p2p", Name: "txs_received_total",
			Help: "Transactions from peers (gossip and pull) that the pool took.",
		}),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "p2p", Name: "tx_signatures_recovered_total",
			Help: "Signatures recovered for transactions from peers (gossip and pull): each should cost one, not one per copy.",
		}),
		passedOn: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "p2p", Name: "tx_batches_passed_on_total",
			Help: "Peers' transaction batches whose new transactions the pool took in full, passed on by gossip as they are.",
		}),
		trusted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "p2p", Name: "tx_senders_trusted_total",
			Help: "Transactions from peers whose senders validators with over a third of the power vouched for, taken without recovery.",
		}),
		attested: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "p2p", Name: "tx_batches_attested_total",
			Help: "Peers' transaction batches whose claimed senders this node recovered, found right and attested.",
		}),
		fetched: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "p2p", Name: "block_txs_fetched_total",
			Help: "Transactions fetched from peers to fill compact proposals (BlockTxProtocol).",
		}),
		silent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "p2p", Name: "keepalive_closes_total",
			Help: "Peer connections closed because a keepalive ping went unanswered (a silent link); each is redialled.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.peers, m.height, m.target, m.blocks, m.rejected, m.txsIn, m.recovered, m.passedOn, m.trusted, m.attested, m.fetched, m.silent} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// countPeersWith makes the peers gauge read count.
func (m *metrics) countPeersWith(count func() int) { m.countFn.Store(&count) }

func (m *metrics) countPeers() float64 {
	if f := m.countFn.Load(); f != nil {
		return float64((*f)())
	}
	return 0
}
func (m *metrics) setHeight(n uint64)  { m.height.Set(float64(n)) }
func (m *metrics) setTarget(n uint64)  { m.target.Set(float64(n)); m.targetN.Store(n) }
func (m *metrics) imported(n int)      { m.blocks.Add(float64(n)) }
func (m *metrics) reject(topic string) { m.rejected.WithLabelValues(topic).Inc() }
func (m *metrics) gossipTxs(n int)     { m.txsIn.Add(float64(n)) }
func (m *metrics) recoveredTxs(n int)  { m.recovered.Add(float64(n)) }
func (m *metrics) trustedTxs(n int)    { m.trusted.Add(float64(n)) }
func (m *metrics) fetchedTxs(n int)    { m.fetched.Add(float64(n)) }
