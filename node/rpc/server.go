package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/arbiter-chain/arbiter/internal/origin"
	"github.com/arbiter-chain/arbiter/internal/rpclimit"
)

// Defaults for the zero fields of Config.
const (
	DefaultClientVersion         = "arbiter"
	DefaultMaxBodyBytes          = 5 * 1024 * 1024
	DefaultMaxBatchItems         = 100
	DefaultMaxBatchResponseBytes = 25 * 1000 * 1000
	DefaultMaxLogRange           = 10_000
	DefaultMaxLogResults         = 10_000
	DefaultReadTimeout           = rpclimit.DefaultReadTimeout
	DefaultWriteTimeout          = rpclimit.DefaultWriteTimeout
	DefaultIdleTimeout           = rpclimit.DefaultIdleTimeout
	DefaultMaxSubscriptions      = 10_000
	// DefaultMaxSubscriptionsPerConn leaves a WebSocket client room for
	// every head and log filter it needs on one connection.
	DefaultMaxSubscriptionsPerConn = 100
	// DefaultSubscriptionsClientShare sets the default of
	// MaxSubscriptionsPerClient: one client address may hold 1/16 of
	// MaxSubscriptions (625 of the default 10,000), so that no one
	// client, however many connections it opens, can take more than a
	// small share of them.
	DefaultSubscriptionsClientShare = 16

	shutdownTimeout = 5 * time.Second
)

// Config configures a Server. Zero fields take the defaults above.
type Config struct {
	// ClientVersion is what web3_clientVersion returns.
	ClientVersion string
	// GasPrice is the suggested priority fee: eth_maxPriorityFeePerGas
	// returns it and eth_gasPrice returns it plus the head's base fee, if
	// any. Nil means zero.
	GasPrice *big.Int

	// Limits bound request bodies, batches, WebSocket messages, the
	// subscriptions of one connection (MaxSubscriptionsPerConn), the
	// connections open at once from one client address (MaxConnsPerIP)
	// and the HTTP timeouts; MaxWSMessageBytes defaults to MaxBodyBytes.
	rpclimit.Limits
	// MaxLogRange bounds the blocks one eth_getLogs may scan.
	MaxLogRange uint64
	// MaxLogResults bounds the logs one eth_getLogs may return.
	MaxLogResults int

	// WSOrigins are the browser origins, besides the server's own,
	// allowed to open a WebSocket: exact origins ("https://app.example",
	// "http://localhost:3000") or "*" for any. Nil allows the server's
	// own origin only, so that no web page a user visits can reach a node
	// through their browser. Clients that send no Origin header (not
	// browsers) are always allowed. See package internal/origin.
	WSOrigins []string
	// MaxSubscriptions bounds the live eth_subscribe subscriptions of the
	// server (Limits.MaxSubscriptionsPerConn those of one connection).
	MaxSubscriptions int
	// MaxSubscriptionsPerClient bounds the live subscriptions of one
	// client address (an IPv4 address or an IPv6 /64, as MaxConnsPerIP
	// counts them) across all its connections; connections without a
	// remote address (in-process) share one bound. Zero means
	// MaxSubscriptions/DefaultSubscriptionsClientShare, but not less than
	// MaxSubscriptionsPerConn. Behind a reverse proxy every client has the
	// proxy's address and shares this bound.
	MaxSubscriptionsPerClient int
	// AdminToken is reserved for admin methods; unused for now.
	AdminToken string

	// Peers feeds net_peerCount; nil reports 0.
	Peers PeerCounter
	// Registerer, when set, gets the server's own metrics.
	Registerer prometheus.Registerer
	// Gatherer is served on /metrics; nil means prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
}

// defaultLimits are the node's defaults for the zero fields of Limits;
// MaxWSMessageBytes defaults to MaxBodyBytes.
var defaultLimits = rpclimit.Limits{
	MaxBodyBytes:            DefaultMaxBodyBytes,
	MaxBatchItems:           DefaultMaxBatchItems,
	MaxBatchResponseBytes:   DefaultMaxBatchResponseBytes,
	MaxSubscriptionsPerConn: DefaultMaxSubscriptionsPerConn,
}

func (c Config) withDefaults() (Config, error) {
	if c.ClientVersion == "" {
		c.ClientVersion = DefaultClientVersion
	}
	if c.GasPrice == nil {
		c.GasPrice = new(big.Int)
	} else if c.GasPrice.Sign() < 0 {
		return c, fmt.Errorf("rpc: negative gas price %v", c.GasPrice)
	}
	c.Limits = c.Limits.WithDefaults(defaultLimits)
	if c.MaxLogRange == 0 {
		c.MaxLogRange = DefaultMaxLogRange
	}
	if c.MaxLogResults <= 0 {
		c.MaxLogResults = DefaultMaxLogResults
	}
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if c.MaxSubscriptionsPerClient <= 0 {
		c.MaxSubscriptionsPerClient = max(c.MaxSubscriptions/DefaultSubscriptionsClientShare, c.MaxSubscriptionsPerConn)
	}
	if c.Gatherer == nil {
		c.Gatherer = prometheus.DefaultGatherer
	}
	return c, nil
}

// Server serves the JSON-RPC APIs over HTTP and WebSocket.
type Server struct {
	cfg     Config
	chain   Chain
	rpc     *gethrpc.Server
	hub     *hub
	origins origin.Policy
	metrics *metrics
	eth     *ethAPI
	handler http.Handler
	http    *http.Server

	closeOnce sync.Once
}

// New builds a server over chain and pool. It subscribes to the chain's
// head and log feeds at once; Close releases them.
func New(cfg Config, chain Chain, pool TxPool) (*Server, error) {
	if chain == nil || pool == nil {
		return nil, errors.New("rpc: chain and pool are required")
	}
	if chain.Config() == nil || chain.Config().ChainID == nil {
		return nil, errors.New("rpc: chain config has no chain id")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	origins, err := origin.New(cfg.WSOrigins)
	if err != nil {
		return nil, fmt.Errorf("rpc: WebSocket origins: %w", err)
	}
	m := newMetrics()
	if err := m.register(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("rpc: registering metrics: %w", err)
	}

	srv := gethrpc.NewServer()
	cfg.Limits.Apply(srv)

	s := &Server{cfg: cfg, chain: chain, rpc: srv, origins: origins, metrics: m}
	s.hub = newHub(chain, m, subLimits{total: cfg.MaxSubscriptions, perConn: cfg.MaxSubscriptionsPerConn,
		perClient: cfg.MaxSubscriptionsPerClient})

	eth := newEthAPI(&cfg, chain, pool, s.hub)
	s.eth = eth
	apis := []struct {
		name string
		api  any
	}{
		{"eth", eth},
		{"net", &netAPI{chainID: chain.Config().ChainID, peers: cfg.Peers}},
		{"web3", &web3API{version: cfg.ClientVersion}},
	}
	for _, a := range apis {
		if err := srv.RegisterName(a.name, a.api); err != nil {
			s.hub.close()
			srv.Stop()
			return nil, fmt.Errorf("rpc: registering %s: %w", a.name, err)
		}
	}

	s.handler = s.routes()
	s.http = cfg.Limits.HTTPServer(s.handler)
	return s, nil
}

func (s *Server) routes() http.Handler {
	// The WebSocket upgrade clears the HTTP server's deadlines; the codec
	// then keeps its own write deadlines and ping/pong read deadlines.
	// The origin policy is checked before the upgrade; go-ethereum's own
	// check is told to let everything through it.
	ws := s.origins.Guard(s.rpc.WebsocketHandler([]string{"*"}))
	r := mux.NewRouter()
	r.Handle("/", s.metrics.Instrument("ws", ws)).
		Methods(http.MethodGet).HeadersRegexp("Upgrade", "(?i)^websocket$")
	r.Handle("/", s.metrics.Instrument("http", s.sendFast(s.eth, s.rpc))).Methods(http.MethodPost)
	r.Handle("/ws", s.metrics.Instrument("ws", ws)).Methods(http.MethodGet)
	r.Handle("/healthz", s.metrics.Instrument("healthz", http.HandlerFunc(s.healthz))).Methods(http.MethodGet)
	r.Handle("/metrics", promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{})).Methods(http.MethodGet)
	s.consoleRoutes(r)
	return r
}

// Handler returns the HTTP handler with every route: POST / (JSON-RPC),
// GET / with Upgrade: websocket and GET /ws (WebSocket JSON-RPC), GET
// /healthz and GET /metrics.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves Handler on l with the configured timeouts until Close, at
// most MaxConnsPerIP connections at once from one client address
// (rpclimit.Limits.Listener). It returns nil after Close.
func (s *Server) Serve(l net.Listener) error {
	err := s.http.Serve(s.cfg.Limits.Listener(l, s.metrics.ConnsRefused))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops serving: in-flight HTTP requests get a few seconds to finish,
// WebSocket connections and subscriptions end, the chain feeds are released.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		if err := s.http.Shutdown(ctx); err != nil {
			s.http.Close()
		}
		cancel()
		s.rpc.Stop()
		s.hub.close()
	})
}

// healthz reports the head; 503 until there is one.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	head := s.chain.CurrentHeader()
	if head == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"no head"}` + "\n"))
		return
	}
	body, _ := json.Marshal(struct {
		Status string      `json:"status"`
		Number uint64      `json:"number"`
		Hash   common.Hash `json:"hash"`
	}{"ok", head.Number.Uint64(), head.Hash()})
	_, _ = w.Write(append(body, '\n'))
}

// ListenAddr normalizes addr for Listen: an empty host means loopback
// (":8545" becomes "127.0.0.1:8545"); all interfaces must be asked for
// explicitly ("0.0.0.0:8545", "[::]:8545").
func ListenAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("rpc: listen address %q: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("rpc: listen address %q: bad port", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Listen opens a TCP listener on ListenAddr(addr).
func Listen(addr string) (net.Listener, error) {
	a, err := ListenAddr(addr)
	if err != nil {
		return nil, err
	}
	return net.Listen("tcp", a)
}

// metrics are the server's own metrics: the shared request and
// subscription metrics, and the events dropped for slow subscribers.
// Registered only when Config.Registerer is set.
type metrics struct {
	*rpclimit.Metrics
	dropped prometheus.Counter
}

func newMetrics() *metrics {
	base := rpclimit.NewMetrics("rpc", "Active eth_subscribe subscriptions.")
	return &metrics{Metrics: base,
		dropped: base.Counter("subscription_events_dropped_total", "Events dropped because a subscriber fell behind.")}
}

func (m *metrics) register(r prometheus.Registerer) error {
	return m.Register(r, m.dropped)
}

// head returns the current head header, or an error if the chain has none.
func head(c Chain) (*types.Header, error) {
	h := c.CurrentHeader()
	if h == nil {
		return nil, errors.New("no head block")
	}
	return h, nil
}
