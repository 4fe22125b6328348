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

	"github.com/arbiter-chain/arbiter/internal/origin"
	"github.com/arbiter-chain/arbiter/internal/rpclimit"
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
	DefaultReadHeaderTimeout       = rpclimit.DefaultReadHeaderTimeout
	DefaultReadTimeout             = rpclimit.DefaultReadTimeout
	DefaultWriteTimeout            = rpclimit.DefaultWriteTimeout
	DefaultIdleTimeout             = rpclimit.DefaultIdleTimeout
	DefaultMaxHeaderBytes          = rpclimit.DefaultMaxHeaderBytes
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

	// Limits bound request bodies (HTTP and Lambda; larger bodies get
	// HTTP 413 and a wire.CodeInvalidRequest error), batches, WebSocket
	// messages, the chess_subscribe subscriptions of one connection and
	// the timeouts of the server HTTPServer returns.
	rpclimit.Limits
	// MaxHistory bounds the states one chess_history call returns.
	MaxHistory int
	// WSOrigins are the browser origins, besides the bridge's own,
	// allowed to open a WebSocket: exact origins ("https://app.example")
	// or "*" for any. Nil allows the bridge's own origin only. Clients
	// that send no Origin header (not browsers) are always allowed.
	WSOrigins []string

	// Registerer, when set, gets the bridge's metrics.
	Registerer prometheus.Registerer
	// Gatherer, when set, is served on GET /metrics.
	Gatherer prometheus.Gatherer
	// Logger receives internal errors; nil means slog.Default().
	Logger *slog.Logger
}

// defaultLimits are the bridge's defaults for the zero fields of Limits;
// the HTTP timeouts and header bound are rpclimit's shared ones.
var defaultLimits = rpclimit.Limits{
	MaxBodyBytes:            DefaultMaxBodyBytes,
	MaxBatchItems:           DefaultMaxBatchItems,
	MaxBatchResponseBytes:   DefaultMaxBatchResponseBytes,
	MaxWSMessageBytes:       DefaultMaxWSMessageBytes,
	MaxSubscriptionsPerConn: DefaultMaxSubscriptionsPerConn,
}

func (c Config) withDefaults() Config {
	if c.Arbiter == (common.Address{}) {
		c.Arbiter = common.HexToAddress(channel.ArbiterContract)
	}
	if c.ChainID != nil {
		c.ChainID = new(big.Int).Set(c.ChainID)
	}
	c.Limits = c.Limits.WithDefaults(defaultLimits)
	if c.MaxHistory <= 0 {
		c.MaxHistory = DefaultMaxHistory
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
	if err := m.register(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("bridge: registering metrics: %w", err)
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

// metrics are the bridge's Prometheus metrics: the shared request and
// subscription metrics and the bridge's own.
type metrics struct {
	*rpclimit.Metrics
	accepted prometheus.Counter
	rejected *prometheus.CounterVec
	submit   prometheus.Histogram
	relay    prometheus.Histogram
}

func newMetrics() *metrics {
	base := rpclimit.NewMetrics("bridge", "Live chess_subscribe subscriptions on this instance.")
	buckets := prometheus.ExponentialBuckets(50e-6, 2, 16)
	return &metrics{Metrics: base,
		accepted: base.Counter("moves_accepted_total", "Signed states accepted by chess_submitMove."),
		rejected: base.CounterVec("moves_rejected_total", "Signed states refused by chess_submitMove, by JSON-RPC error code.", "code"),
		submit:   base.Histogram("submit_seconds", "Time chess_submitMove takes to check and store a state.", buckets),
		relay: base.Histogram("relay_seconds",
			"Time from a state's acceptance to its push to a subscriber, on the pushing instance.", buckets),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	return m.Register(r, m.accepted, m.rejected, m.submit, m.relay)
}
