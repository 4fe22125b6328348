package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// nodeCallTimeout bounds one call forwarded to the node.
const nodeCallTimeout = 30 * time.Second

// NodeCaller is the JSON-RPC client the page's node proxy forwards
// through; go-ethereum's *rpc.Client implements it.
type NodeCaller interface {
	CallContext(ctx context.Context, result any, method string, args ...any) error
}

// nodeMethods are the node methods the page may call through the bridge:
// reads, and sending transactions it signed itself. The node applies its
// own limits (log ranges, body sizes) on top.
var nodeMethods = map[string]bool{
	"eth_chainId": true, "eth_blockNumber": true, "eth_gasPrice": true,
	"eth_getBalance": true, "eth_getTransactionCount": true,
	"eth_call": true, "eth_estimateGas": true, "eth_sendRawTransaction": true,
	"eth_getTransactionReceipt": true, "eth_getTransactionByHash": true,
	"eth_getLogs": true, "eth_getBlockByNumber": true,
}

// nodeProxy serves POST /node: JSON-RPC calls of nodeMethods, single or
// batched, forwarded one by one to the node. Bodies and batches have the
// bridge's own limits.
type nodeProxy struct {
	b    *Bridge
	node NodeCaller
}

type proxyRequest struct {
	Version string            `json:"jsonrpc"`
	ID      json.RawMessage   `json:"id"`
	Method  string            `json:"method"`
	Params  []json.RawMessage `json:"params"`
}

type proxyError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

type proxyResponse struct {
	Version string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *proxyError     `json:"error,omitempty"`
}

func (p *nodeProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	limit := int64(p.b.cfg.MaxBodyBytes)
	if r.ContentLength > limit {
		p.b.tooLarge(w)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeRPCError(w, http.StatusBadRequest, wire.CodeInvalidRequest, "bridge: reading request body failed")
		return
	}
	if int64(len(body)) > limit {
		p.b.tooLarge(w)
		return
	}
	body = bytes.TrimSpace(body)
	batch := len(body) > 0 && body[0] == '['
	var reqs []proxyRequest
	if batch {
		err = json.Unmarshal(body, &reqs)
	} else {
		var one proxyRequest
		err = json.Unmarshal(body, &one)
		reqs = []proxyRequest{one}
	}
	if err != nil {
		writeRPCError(w, http.StatusOK, -32700, "bridge: malformed JSON-RPC request")
		return
	}
	if len(reqs) == 0 || len(reqs) > p.b.cfg.MaxBatchItems {
		writeRPCError(w, http.StatusOK, wire.CodeInvalidRequest, "bridge: batch is empty or too large")
		return
	}
	out := make([]proxyResponse, len(reqs))
	for i, req := range reqs {
		out[i] = p.call(r.Context(), req)
	}
	if batch {
		writeJSON(w, http.StatusOK, out)
	} else {
		writeJSON(w, http.StatusOK, out[0])
	}
}

// call forwards one request, keeping the node's error code and data (a
// revert reason) intact.
func (p *nodeProxy) call(ctx context.Context, req proxyRequest) proxyResponse {
	resp := proxyResponse{Version: "2.0", ID: req.ID}
	switch {
	case p.node == nil:
		resp.Error = &proxyError{Code: wire.CodeInternal, Message: errNoNode.Error()}
		return resp
	case !nodeMethods[req.Method]:
		resp.Error = &proxyError{Code: -32601, Message: "bridge: method not available through /node: " + truncate(req.Method)}
		return resp
	}
	ctx, cancel := context.WithTimeout(ctx, nodeCallTimeout)
	defer cancel()
	args := make([]any, len(req.Params))
	for i, a := range req.Params {
		args[i] = a
	}
	var res json.RawMessage
	if err := p.node.CallContext(ctx, &res, req.Method, args...); err != nil {
		e := &proxyError{Code: wire.CodeInternal, Message: err.Error()}
		var rerr gethrpc.Error
		if errors.As(err, &rerr) {
			e.Code = rerr.ErrorCode()
		}
		var derr gethrpc.DataError
		if errors.As(err, &derr) {
			e.Data = derr.ErrorData()
		}
		resp.Error = e
		return resp
	}
	if res == nil {
		res = json.RawMessage("null")
	}
	resp.Result = res
	return resp
}

// truncate shortens untrusted input before it goes into a message.
func truncate(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
