package watcher

import "github.com/prometheus/client_golang/prometheus"

// metrics are the watcher's Prometheus metrics.
type metrics struct {
	lag         prometheus.Gauge
	handled     *prometheus.CounterVec
	quarantined prometheus.Counter
	reorgs      prometheus.Counter
	txs         *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "arbiter", Subsystem: "watcher", Name: "lag_blocks",
			Help: "Blocks between the chain head and the watcher's checkpoint (head + 1 - next block to process).",
		}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "watcher", Name: "events_handled_total",
			Help: "Arbiter events handled, by event name.",
		}, []string{"event"}),
		quarantined: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "watcher", Name: "events_quarantined_total",
			Help: "Arbiter logs that did not decode and were set aside.",
		}),
		reorgs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "watcher", Name: "reorgs_total",
			Help: "Rollbacks of the checkpoint to a common ancestor after a reorganisation.",
		}),
		txs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "watcher", Name: "transactions_sent_total",
			Help: "Watchtower transactions sent, by method (refute, answer).",
		}, []string{"method"}),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.lag, m.handled, m.quarantined, m.reorgs, m.txs} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}
