package rpclimit

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the metrics every JSON-RPC server keeps about its clients:
// HTTP requests by route and status code (so refusals such as 413 and 429
// show), its live subscriptions and the connections refused for their
// address's bound (Limits.Listener). Their names are
// arbiter_<subsystem>_http_requests_total,
// arbiter_<subsystem>_subscriptions and
// arbiter_<subsystem>_connections_refused_total.
type Metrics struct {
	// Requests counts HTTP requests by route and status code.
	Requests *prometheus.CounterVec
	// Subscriptions is the number of live subscriptions.
	Subscriptions prometheus.Gauge
	// ConnsRefused counts connections refused because their client
	// address had MaxConnsPerIP open.
	ConnsRefused prometheus.Counter

	subsystem string
}

// NewMetrics returns unregistered metrics for the server named subsystem
// ("rpc", "bridge"); subsHelp describes what its subscriptions are.
func NewMetrics(subsystem, subsHelp string) *Metrics {
	return &Metrics{
		subsystem: subsystem,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: subsystem, Name: "http_requests_total",
			Help: "HTTP requests to the server by route and status code.",
		}, []string{"route", "code"}),
		Subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "arbiter", Subsystem: subsystem, Name: "subscriptions",
			Help: subsHelp,
		}),
		ConnsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: subsystem, Name: "connections_refused_total",
			Help: "Connections refused (HTTP 503) because their client address had the most connections open it may.",
		}),
	}
}

// Register registers the metrics with r, then each of extra; it stops at
// the first error. A nil r registers nothing: the metrics still count.
func (m *Metrics) Register(r prometheus.Registerer, extra ...prometheus.Collector) error {
	if r == nil {
		return nil
	}
	for _, c := range append([]prometheus.Collector{m.Requests, m.Subscriptions, m.ConnsRefused}, extra...) {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Instrument counts the requests h serves under route.
func (m *Metrics) Instrument(route string, h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerCounter(m.Requests.MustCurryWith(prometheus.Labels{"route": route}), h)
}

// Counter returns an unregistered counter arbiter_<subsystem>_<name>, for
// a server's own metrics beside the shared ones.
func (m *Metrics) Counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "arbiter", Subsystem: m.subsystem, Name: name, Help: help})
}

// CounterVec is Counter with labels.
func (m *Metrics) CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "arbiter", Subsystem: m.subsystem, Name: name, Help: help}, labels)
}

// Histogram returns an unregistered histogram arbiter_<subsystem>_<name>
// with the given buckets.
func (m *Metrics) Histogram(name, help string, buckets []float64) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "arbiter", Subsystem: m.subsystem, Name: name, Help: help, Buckets: buckets})
}
