package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arbiter-chain/arbiter/internal/origin"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum/common"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for the zero fields of Config.
const (
	DefaultMaxBodyBytes            = 64 << 10
	DefaultMaxBatchItems           = 16
	DefaultMaxBatchResponseBytes   = 1 << 20
	DefaultMaxWSMessageBytes       = 64 << 10
	DefaultMaxSubscriptionsPerConn = 16
	DefaultMaxHistory              = 512
	DefaultReadHeaderTimeout       = 10 * time.Second
	DefaultReadTimeout             = 30 * time.Second
	DefaultWriteTimeout            = 30 * time.Second
	DefaultIdleTimeout             = 120 * time.Second
	DefaultMaxHeaderBytes          = 64 << 10
)

// Config configures a Bridge. Zero fields take the defaults above.
type Config struct {
	// ChainID is the chain id of the EIP-712 domain. Nil means: ask the
	// Arbiter (eth_chainId) on first use and keep the answer, which never
	// changes.
	ChainID *big.Int
	// Arbiter is the arbiter contract's address: the EIP-712 verifying
	// contract and the target of built claims. Zero means
	// channel.ArbiterContract.
	Arbiter common.Address

	// MaxBodyBytes bounds an HTTP (and Lambda) request body; larger
	// bodies get HTTP 413 and a wire.CodeInvalidRequest error.
	MaxBodyBytes int
	// MaxBatchItems bounds the calls in one JSON-RPC batch.
	MaxBatchItems int
	// MaxBatchResponseBytes bounds the response to one batch.
	MaxBatchResponseBytes int
	// MaxWSMessageBytes bounds one incoming WebSocket message; a larger
	// one closes the connection.
	MaxWSMessageBytes int64
	// MaxSubscriptionsPerConn bounds the live chess_subscribe
	// subscriptions of one WebSocket connection.
	MaxSubscriptionsPerConn int
	// MaxHistory bounds the states one chess_history call returns.
	MaxHistory int
	// WSOrigins are the browser origins, besides the bridge's own,
	// allowed to open a WebSocket: exact origins ("https://app.example")
	// or "*" for any. Nil allows the bridge's own origin only. Clients
	// that send no Origin header (not browsers) are always allowed.
	WSOrigins []string

	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout bound
	// the HTTP exchanges of the server HTTPServer returns: a client gets
	// ReadHeaderTimeout to send its headers, ReadTimeout for the whole
	// request, WriteTimeout from the end of its headers to the end of the
	// response, and IdleTimeout between requests on a kept-alive
	// connection. A WebSocket leaves them behind once upgraded. Zero
	// takes the defaults above; MaxHeaderBytes likewise.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int

	// Registerer, when set, gets the bridge's metrics.
	Registerer prometheus.Registerer
	// Gatherer, when set, is served on GET /metrics.
	Gatherer prometheus.Gatherer
	// Logger receives internal errors; nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Arbiter == (common.Address{}) {
		c.Arbiter = common.HexToAddress(channel.ArbiterContract)
	}
	if c.ChainID != nil {
		c.ChainID = new(big.Int).Set(c.ChainID)
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxBatchItems <= 0 {
		c.MaxBatchItems = DefaultMaxBatchItems
	}
	if c.MaxBatchResponseBytes <= 0 {
		c.MaxBatchResponseBytes = DefaultMaxBatchResponseBytes
	}
	if c.MaxWSMessageBytes <= 0 {
		c.MaxWSMessageBytes = DefaultMaxWSMessageBytes
	}
	if c.MaxSubscriptionsPerConn <= 0 {
		c.MaxSubscriptionsPerConn = DefaultMaxSubscriptionsPerConn
	}
	if c.MaxHistory <= 0 {
		c.MaxHistory = DefaultMaxHistory
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Bridge serves the chess_* operations over a Store and an Arbiter. It
// keeps no game state of its own: every operation reads what it needs
// from the Store and the Arbiter, so any number of Bridges over one Store
// serve the same games. What it does hold is immutable (configuration,
// the chain id once learned) or per connection (WebSocket subscriptions).
type Bridge struct {
	cfg     Config
	store   Store
	arbiter Arbiter
	metrics *metrics
	chainID atomic.Pointer[big.Int]
	offers  *offerBook // outcome offers, relayed from memory (offers.go)

	rpc     *gethrpc.Server // HTTP JSON-RPC; WebSockets get one each
	origins origin.Policy   // who may open a WebSocket
	handler http.Handler

	mu     sync.Mutex
	conns  map[*gethrpc.Server]struct{}
	closed bool
}

// New returns a Bridge over store and arbiter. It does no I/O; the chain
// id, if not configured, is fetched on first use.
func New(cfg Config, store Store, arbiter Arbiter) (*Bridge, error) {
	if store == nil || arbiter == nil {
		return nil, errors.New("bridge: store and arbiter are required")
	}
	cfg = cfg.withDefaults()
	origins, err := origin.New(cfg.WSOrigins)
	if err != nil {
		return nil, fmt.Errorf("bridge: WebSocket origins: %w", err)
	}
	m := newMetrics()
	if cfg.Registerer != nil {
		if err := m.register(cfg.Registerer); err != nil {
			return nil, fmt.Errorf("bridge: registering metrics: %w", err)
		}
	}
	b := &Bridge{cfg: cfg, store: store, arbiter: arbiter, origins: origins, metrics: m, offers: newOfferBook(), conns: make(map[*gethrpc.Server]struct{})}
	if cfg.ChainID != nil {
		b.chainID.Store(cfg.ChainID)
	}
	srv, err := b.newRPCServer(&chessAPI{b: b})
	if err != nil {
		return nil, err
	}
	b.rpc = srv
	b.handler = b.routes()
	return b, nil
}

// Close ends every WebSocket connection (and so every subscription) and
// stops serving JSON-RPC. The Store is the caller's to close.
func (b *Bridge) Close() {
	b.mu.Lock()
	b.closed = true
	conns := b.conns
	b.conns = nil
	b.mu.Unlock()
	for srv := range conns {
		srv.Stop()
	}
	b.rpc.Stop()
}

// domain returns the EIP-712 domain states are signed in.
func (b *Bridge) domain(ctx context.Context) (channel.Domain, error) {
	id := b.chainID.Load()
	if id == nil {
		got, err := b.arbiter.ChainID(ctx)
		if err != nil {
			return channel.Domain{}, fmt.Errorf("bridge: chain id: %w", err)
		}
		if got == nil || got.Sign() <= 0 {
			return channel.Domain{}, fmt.Errorf("bridge: chain id %v from node", got)
		}
		id = new(big.Int).Set(got)
		b.chainID.Store(id)
	}
	return channel.Domain{ChainID: id, Contract: b.cfg.Arbiter}, nil
}

// metrics are the bridge's Prometheus metrics.
type metrics struct {
	accepted prometheus.Counter
	rejected *prometheus.CounterVec
	submit   prometheus.Histogram
	relay    prometheus.Histogram
	subs     prometheus.Gauge
}

func newMetrics() *metrics {
	return &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "bridge", Name: "moves_accepted_total",
			Help: "Signed states accepted by chess_submitMove.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "bridge", Name: "moves_rejected_total",
			Help: "Signed states refused by chess_submitMove, by JSON-RPC error code.",
		}, []string{"code"}),
		submit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "arbiter", Subsystem: "bridge", Name: "submit_seconds",
			Help:    "Time chess_submitMove takes to check and store a state.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}),
		relay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "arbiter", Subsystem: "bridge", Name: "relay_seconds",
			Help:    "Time from a state's acceptance to its push to a subscriber, on the pushing instance.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}),
		subs: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "arbiter", Subsystem: "bridge", Name: "subscriptions",
			Help: "Live chess_subscribe subscriptions on this instance.",
		}),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.accepted, m.rejected, m.submit, m.relay, m.subs} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}
