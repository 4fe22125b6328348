package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/gorilla/mux"

	"github.com/arbiter-chain/arbiter/web"
)

// maxVouchBody bounds the body of POST /demo/vouch.
const maxVouchBody = 1 << 10

// vouchTimeout bounds one vouching (a transaction and its receipt).
const vouchTimeout = 30 * time.Second

// errNoNode is served by /node when the page has no node to reach.
var errNoNode = errors.New("bridge: this bridge has no node connection for the page")

// Voucher vouches for a browser's development key and funds it, so the key
// may play. Only the demo provides one: on a real network a member vouches
// through the membership contract.
type Voucher interface {
	Vouch(ctx context.Context, account common.Address) (common.Hash, error)
}

// PageConfig configures the chess page served by Bridge.PageHandler.
type PageConfig struct {
	// Node is the node the page reads the chain through and sends its
	// transactions to (POST /node, a fixed set of eth_ methods). Nil
	// leaves the page without chain access.
	Node NodeCaller
	// Vouch, when set, serves POST /demo/vouch for the page's development
	// key. Demo only.
	Vouch Voucher
}

// PageHandler returns the bridge's handler with the chess page in front:
// GET / (the page), GET /app.js, /style.css, /LICENSES.txt (its assets),
// GET /page/config (chain id, arbiter address, demo mode), POST /node
// (the node proxy) and, with a Voucher, POST /demo/vouch. Every other
// request goes to Handler.
func (b *Bridge) PageHandler(cfg PageConfig) http.Handler {
	files := web.Chess()
	r := mux.NewRouter()
	config := func(req *http.Request) (map[string]any, error) {
		d, err := b.domain(req.Context())
		if err != nil {
			return nil, err
		}
		return map[string]any{"chainId": d.ChainID.Uint64(), "arbiter": d.Contract, "demo": cfg.Vouch != nil, "node": cfg.Node != nil}, nil
	}
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		panic(err) // embedded at build time
	}
	// The page gets its configuration inline, saving a round trip before
	// it can draw the board.
	r.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		c, err := config(req)
		if err != nil {
			http.Error(w, "bridge: chain id unknown", http.StatusServiceUnavailable)
			return
		}
		js, _ := json.Marshal(c)
		page := bytes.Replace(index, []byte("<!--config-->"), []byte(`<script id="config" type="application/json">`+string(js)+`</script>`), 1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(page)
	}).Methods(http.MethodGet)
	for _, name := range []string{"app.js", "style.css", "LICENSES.txt"} {
		r.Handle("/"+name, web.File(files, name)).Methods(http.MethodGet)
	}
	r.HandleFunc("/page/config", func(w http.ResponseWriter, req *http.Request) {
		c, err := config(req)
		if err != nil {
			http.Error(w, "bridge: chain id unknown", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, http.StatusOK, c)
	}).Methods(http.MethodGet)
	r.Handle("/node", &nodeProxy{b: b, node: cfg.Node}).Methods(http.MethodPost)
	if cfg.Vouch != nil {
		r.HandleFunc("/demo/vouch", func(w http.ResponseWriter, req *http.Request) {
			var in struct {
				Account common.Address `json:"account"`
			}
			if err := json.NewDecoder(io.LimitReader(req.Body, maxVouchBody)).Decode(&in); err != nil || in.Account == (common.Address{}) {
				http.Error(w, "want {\"account\": \"0x…\"}", http.StatusBadRequest)
				return
			}
			ctx, cancel := context.WithTimeout(req.Context(), vouchTimeout)
			defer cancel()
			tx, err := cfg.Vouch.Vouch(ctx, in.Account)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"tx": tx})
		}).Methods(http.MethodPost)
	}
	r.PathPrefix("/").Handler(b.Handler())
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
