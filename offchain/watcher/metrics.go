package watcher

import "github.com/prometheus/client_golang/prometheus"

// metrics are the watcher's Prometheus metrics.
type metrics struct {
	lag         prometheus.Gauge
	handled     *prometheus.CounterVec
	quarantined prometheus.Counter
	reorgs      prometheus.Counter
	txs         *prometheus.CounterVec
	failures    *prometheus.CounterVec
	missed      *prometheus.CounterVec
	atRisk      *prometheus.GaugeVec
}

func newMetrics() *metrics {
	m := &metrics{
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
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "watcher", Name: "action_failures_total",
			Help: "Watchtower refute or answer attempts that failed (refused by the node or the chain, or the node unreachable), by method.",
		}, []string{"method"}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "watcher", Name: "claims_missed_total",
			Help: "Claims whose window closed before the watchtower's refute or answer was in a block, by method.",
		}, []string{"method"}),
		atRisk: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "arbiter", Subsystem: "watcher", Name: "claims_at_risk",
			Help: "Claims the watchtower can refute or answer whose transaction is not in a block yet, by method.",
		}, []string{"method"}),
	}
	// Every label value from the start, so that rates and alerts see a
	// zero before the first failure.
	for _, method := range methods {
		m.txs.WithLabelValues(method)
		m.failures.WithLabelValues(method)
		m.missed.WithLabelValues(method)
		m.atRisk.WithLabelValues(method)
	}
	return m
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.lag, m.handled, m.quarantined, m.reorgs, m.txs, m.failures, m.missed, m.atRisk} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}
