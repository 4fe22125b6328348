package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler returns the HTTP handler: POST /rpc (JSON-RPC 2.0, batches
// allowed), GET /ws (JSON-RPC over WebSocket, with chess_subscribe), GET
// /healthz, and GET /metrics when Config.Gatherer is set.
func (b *Bridge) Handler() http.Handler { return b.handler }

func (b *Bridge) routes() http.Handler {
	r := mux.NewRouter()
	r.Handle("/rpc", b.metrics.Instrument("http", b.rpcHandler())).Methods(http.MethodPost)
	r.Handle("/ws", b.metrics.Instrument("ws", b.origins.Guard(http.HandlerFunc(b.serveWS)))).Methods(http.MethodGet)
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	}).Methods(http.MethodGet)
	if b.cfg.Gatherer != nil {
		r.Handle("/metrics", promhttp.HandlerFor(b.cfg.Gatherer, promhttp.HandlerOpts{})).Methods(http.MethodGet)
	}
	return r
}

// HTTPServer returns a server for Handler with the configured timeouts
// and header size bound, so that a client trickling its headers or body,
// or holding an idle connection, is disconnected instead of holding a
// connection and its goroutine for good. WebSocket connections leave the
// server's deadlines behind when upgraded (net/http clears them on
// hijack); go-ethereum's codec then sets a write deadline on every
// message and pings an idle connection, closing it when no pong comes.
// The caller serves it (Serve, ListenAndServe) and shuts it down.
func (b *Bridge) HTTPServer() *http.Server { return b.server(b.handler) }

// PageServer is HTTPServer with the chess page served at / as well
// (PageHandler).
func (b *Bridge) PageServer(cfg PageConfig) *http.Server { return b.server(b.PageHandler(cfg)) }

func (b *Bridge) server(h http.Handler) *http.Server { return b.cfg.Limits.HTTPServer(h) }

// Listener bounds the connections ln accepts from one client address to
// Limits.MaxConnsPerIP (rpclimit.Limits.Listener): serve HTTPServer or
// PageServer on it.
func (b *Bridge) Listener(ln net.Listener) net.Listener {
	return b.cfg.Limits.Listener(ln, b.metrics.ConnsRefused)
}

// newRPCServer returns a JSON-RPC server with the configured limits
// serving api as the chess namespace.
func (b *Bridge) newRPCServer(api *chessAPI) (*gethrpc.Server, error) {
	srv := gethrpc.NewServer()
	b.cfg.Limits.Apply(srv)
	if err := srv.RegisterName("chess", api); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("bridge: registering chess API: %w", err)
	}
	return srv, nil
}

// rpcHandler serves JSON-RPC over HTTP behind the body size cap.
func (b *Bridge) rpcHandler() http.Handler {
	limit := int64(b.cfg.MaxBodyBytes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			b.tooLarge(w)
			return
		}
		// Read the whole body so that a body without Content-Length is
		// capped the same way.
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			writeRPCError(w, http.StatusBadRequest, wire.CodeInvalidRequest, "bridge: reading request body failed")
			return
		}
		if int64(len(body)) > limit {
			b.tooLarge(w)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		b.rpc.ServeHTTP(w, r)
	})
}

func (b *Bridge) tooLarge(w http.ResponseWriter) {
	writeRPCError(w, http.StatusRequestEntityTooLarge, wire.CodeInvalidRequest,
		fmt.Sprintf("bridge: request body exceeds %d bytes", b.cfg.MaxBodyBytes))
}

// writeRPCError writes a JSON-RPC error response with a null id.
func writeRPCError(w http.ResponseWriter, status, code int, msg string) {
	body, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      nil,
		"error":   map[string]any{"code": code, "message": msg},
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// serveWS serves one WebSocket connection with a JSON-RPC server of its
// own, whose API carries the connection's subscription budget. It returns
// when the connection closes.
func (b *Bridge) serveWS(w http.ResponseWriter, r *http.Request) {
	srv, err := b.newRPCServer(&chessAPI{b: b, subs: newBudget(b.cfg.MaxSubscriptionsPerConn)})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer srv.Stop()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		http.Error(w, errBridgeClosed.Error(), http.StatusServiceUnavailable)
		return
	}
	b.conns[srv] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.conns, srv)
		b.mu.Unlock()
	}()
	// routes checked the origin; go-ethereum's own check lets all through.
	srv.WebsocketHandler([]string{"*"}).ServeHTTP(w, r)
}
