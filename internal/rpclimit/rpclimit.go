package rpclimit

import (
	"net/http"
	"time"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// Shared defaults for the HTTP fields of Limits, taken when neither a
// Limits nor the defaults passed to WithDefaults set them.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// Limits bounds what one client may ask of a JSON-RPC server. A zero
// field means "use the server's default" (WithDefaults).
type Limits struct {
	// MaxBodyBytes bounds an HTTP request body; larger bodies get HTTP 413.
	MaxBodyBytes int
	// MaxBatchItems bounds the calls in one JSON-RPC batch.
	MaxBatchItems int
	// MaxBatchResponseBytes bounds the response to one batch.
	MaxBatchResponseBytes int
	// MaxWSMessageBytes bounds one incoming WebSocket message; a larger
	// one closes the connection. Zero here and in the defaults means
	// MaxBodyBytes.
	MaxWSMessageBytes int64
	// MaxSubscriptionsPerConn bounds the live subscriptions of one
	// WebSocket connection.
	MaxSubscriptionsPerConn int

	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout bound
	// the HTTP exchanges of the server HTTPServer returns: a client gets
	// ReadHeaderTimeout to send its headers, ReadTimeout for the whole
	// request, WriteTimeout from the end of its headers to the end of the
	// response, and IdleTimeout between requests on a kept-alive
	// connection. A WebSocket leaves them behind once upgraded (net/http
	// clears them on hijack); go-ethereum's codec then sets a write
	// deadline on every message and pings an idle connection, closing it
	// when no pong comes. MaxHeaderBytes bounds the request headers.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// MaxConnsPerIP bounds the connections open at once from one client
	// IP address on the listener Listener returns (HTTP keep-alive and
	// WebSocket connections alike).
	MaxConnsPerIP int
}

// WithDefaults returns l with each zero (or negative) field taken from
// def, and then each HTTP field still zero from the shared defaults above.
func (l Limits) WithDefaults(def Limits) Limits {
	orInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	orDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	orInt(&l.MaxBodyBytes, def.MaxBodyBytes)
	orInt(&l.MaxBatchItems, def.MaxBatchItems)
	orInt(&l.MaxBatchResponseBytes, def.MaxBatchResponseBytes)
	if l.MaxWSMessageBytes <= 0 {
		l.MaxWSMessageBytes = def.MaxWSMessageBytes
	}
	if l.MaxWSMessageBytes <= 0 {
		l.MaxWSMessageBytes = int64(l.MaxBodyBytes)
	}
	orInt(&l.MaxSubscriptionsPerConn, def.MaxSubscriptionsPerConn)
	orDur(&l.ReadHeaderTimeout, def.ReadHeaderTimeout)
	orDur(&l.ReadTimeout, def.ReadTimeout)
	orDur(&l.WriteTimeout, def.WriteTimeout)
	orDur(&l.IdleTimeout, def.IdleTimeout)
	orInt(&l.MaxHeaderBytes, def.MaxHeaderBytes)
	orInt(&l.MaxConnsPerIP, def.MaxConnsPerIP)
	orDur(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	orDur(&l.ReadTimeout, DefaultReadTimeout)
	orDur(&l.WriteTimeout, DefaultWriteTimeout)
	orDur(&l.IdleTimeout, DefaultIdleTimeout)
	orInt(&l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	orInt(&l.MaxConnsPerIP, DefaultMaxConnsPerIP)
	return l
}

// Apply sets the body, batch and WebSocket message bounds on srv.
func (l Limits) Apply(srv *gethrpc.Server) {
	srv.SetHTTPBodyLimit(l.MaxBodyBytes)
	srv.SetBatchLimits(l.MaxBatchItems, l.MaxBatchResponseBytes)
	srv.SetWebsocketReadLimit(l.MaxWSMessageBytes)
}

// HTTPServer returns an http.Server for h with the timeouts and header
// bound of l, so that a client trickling its headers or body, or holding
// an idle connection, is disconnected instead of holding a connection and
// its goroutine for good. The caller serves it and shuts it down.
func (l Limits) HTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}
