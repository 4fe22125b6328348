package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// A lone eth_sendRawTransaction over HTTP is the request a loaded node
// answers most, and go-ethereum's server spends nearly as much on it as the
// signature recovery it leads to: a handler and a goroutine per request, a
// context per call, the method found by name and called by reflection
// (docs/decisions/0044-lone-send-fast-path.md).
// sendFast answers exactly that request itself and hands every other one,
// untouched, to the server: a request it is not sure of is the server's.
// The answer is the one the server would give, byte for byte
// (TestFastSendMatchesServer).

// maxFastBody bounds the body sendFast reads itself: a transfer or a
// contract call is a few hundred bytes. A longer body goes to the server
// unread.
const maxFastBody = 64 << 10

// sendFast wraps next (the JSON-RPC server) for POST /.
func (s *Server) sendFast(eth *ethAPI, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength <= 0 || r.ContentLength > maxFastBody || r.ContentLength > int64(s.cfg.Limits.MaxBodyBytes) || !jsonContent(r) {
			next.ServeHTTP(w, r)
			return
		}
		body := make([]byte, r.ContentLength)
		n, err := io.ReadFull(r.Body, body)
		if err != nil {
			// The server reads what arrived and meets the same error.
			r.Body = readAgain{io.MultiReader(bytes.NewReader(body[:n]), errReader{err}), r.Body}
			next.ServeHTTP(w, r)
			return
		}
		id, raw, ok := lonePost(body)
		if !ok {
			r.Body = readAgain{bytes.NewReader(body), r.Body}
			next.ServeHTTP(w, r)
			return
		}
		// As the server runs a call: cancelled, and answered with a
		// timeout error, just before the HTTP server's write deadline,
		// however long the method then takes to return.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		var (
			answered sync.Once
			timer    *time.Timer
		)
		if timeout, ok := gethrpc.ContextRequestTimeout(ctx); ok {
			timer = time.AfterFunc(timeout, func() {
				cancel()
				answered.Do(func() { writeAnswer(w, id, nil, errTimeoutObject, true) })
			})
		}
		hash, err := sendOnce(ctx, eth, raw)
		if timer != nil {
			timer.Stop()
		}
		answered.Do(func() {
			if err != nil {
				writeAnswer(w, id, nil, errorObject(err), false)
				return
			}
			writeAnswer(w, id, hash.Bytes(), nil, false)
		})
	})
}

// errTimeoutObject is the server's error object for a call that ran past
// the request timeout.
var errTimeoutObject = json.RawMessage(`{"code":-32002,"message":"request timed out"}`)

// sendOnce calls SendRawTransaction, turning a panic into the error the
// server answers one with.
func sendOnce(ctx context.Context, eth *ethAPI, raw hexutil.Bytes) (hash common.Hash, err error) {
	defer func() {
		if p := recover(); p != nil {
			slog.Error("rpc: eth_sendRawTransaction crashed", "panic", p, "stack", string(debug.Stack()))
			hash, err = common.Hash{}, &codedError{code: -32603, msg: "method handler crashed"}
		}
	}()
	return eth.SendRawTransaction(ctx, raw)
}

// writeAnswer writes the server's answer to a call with this id: the hash
// as its result, or the error object (none if nil, as the server leaves an
// error it cannot encode out). An answer written on a timeout (isError) is
// sent whole and at once, as the server sends it.
func writeAnswer(w http.ResponseWriter, id json.RawMessage, hash []byte, errObj json.RawMessage, isError bool) {
	out := make([]byte, 0, 128)
	out = append(out, `{"jsonrpc":"2.0","id":`...)
	out = append(out, id...)
	if errObj != nil {
		out = append(out, `,"error":`...)
		out = append(out, errObj...)
	}
	if hash != nil {
		out = append(out, `,"result":"`...)
		out = append(out, hexutil.Encode(hash)...)
		out = append(out, '"')
	}
	out = append(out, '}')
	h := w.Header()
	h.Set("content-type", "application/json")
	h.Set("content-length", strconv.Itoa(len(out)))
	if isError {
		h.Set("transfer-encoding", "identity")
	}
	_, _ = w.Write(out)
	if f, ok := w.(http.Flusher); ok && isError {
		f.Flush()
	}
}

// lonePost returns the id, as sent, and the raw transaction of body if body
// is one eth_sendRawTransaction call with version 2.0, a number or string
// id and one string parameter that decodes as hex; ok is false for
// anything else. Fields are read as go-ethereum's server reads them: names
// exactly (after unescaping), the last of a repeated one counts, others
// ignored.
func lonePost(body []byte) (id json.RawMessage, raw hexutil.Bytes, ok bool) {
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' || !json.Valid(body) {
		return nil, nil, false
	}
	var (
		version, method string
		params          []byte
	)
	// body is valid JSON: an object of "key": value pairs.
	for i = skipSpace(body, i+1); i < len(body) && body[i] == '"'; {
		end := skipValue(body, i)
		key := body[i:end]
		i = skipSpace(body, end)
		i = skipSpace(body, i+1) // :
		end = skipValue(body, i)
		value := body[i:end]
		switch jsonString(key) {
		case "jsonrpc":
			if v, ok := jsonStringOK(value); ok {
				version = v
			}
		case "id":
			id = value
		case "method":
			if v, ok := jsonStringOK(value); ok {
				method = v
			}
		case "params":
			params = value
		}
		i = skipSpace(body, end)
		if i < len(body) && body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	if method != "eth_sendRawTransaction" || version != "2.0" || len(id) == 0 {
		return nil, nil, false
	}
	if c := id[0]; c != '"' && c != '-' && (c < '0' || c > '9') {
		return nil, nil, false
	}
	// params: [ "0x..." ], one string.
	if len(params) == 0 || params[0] != '[' {
		return nil, nil, false
	}
	j := skipSpace(params, 1)
	if j == len(params) || params[j] != '"' {
		return nil, nil, false
	}
	end := skipValue(params, j)
	if k := skipSpace(params, end); k != len(params)-1 || params[k] != ']' {
		return nil, nil, false
	}
	if err := raw.UnmarshalJSON(params[j:end]); err != nil {
		return nil, nil, false
	}
	return id, raw, true
}

// skipSpace returns the index of the first byte of b from i that is not
// JSON whitespace, len(b) if none.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		}
		break
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i], in
// input already known to be valid JSON.
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			i++
		case '{', '[':
			depth++
			i++
		case '}', ']':
			depth--
			i++
		default:
			// A number or a literal runs to the next delimiter.
			for i < len(b) && !delimiter(b[i]) {
				i++
			}
		}
		if depth == 0 {
			return i
		}
		if depth > 0 {
			i = skipSpace(b, i)
			if i < len(b) && (b[i] == ',' || b[i] == ':') {
				i++
			}
			i = skipSpace(b, i)
		}
	}
	return i
}

// delimiter reports whether c ends a JSON number or literal.
func delimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ':', ']', '}':
		return true
	}
	return false
}

// jsonString returns the string a JSON string literal holds, "" if it is
// not one.
func jsonString(lit []byte) string {
	s, _ := jsonStringOK(lit)
	return s
}

// jsonStringOK returns the string a JSON string literal holds, and false if
// lit is not a string literal.
func jsonStringOK(lit []byte) (string, bool) {
	if len(lit) < 2 || lit[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(lit, '\\') < 0 {
		return string(lit[1 : len(lit)-1]), true
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return "", false
	}
	return s, true
}

// fastError is go-ethereum's JSON-RPC error object.
type fastError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// errorObject encodes err as go-ethereum's server does: code -32000 unless
// err has its own (rpc.Error), and its data if it has any (rpc.DataError).
func errorObject(err error) json.RawMessage {
	e := fastError{Code: -32000, Message: err.Error()}
	if ec, ok := err.(gethrpc.Error); ok {
		e.Code = ec.ErrorCode()
	}
	if de, ok := err.(gethrpc.DataError); ok {
		e.Data = de.ErrorData()
	}
	enc, err := json.Marshal(e)
	if err != nil {
		return nil
	}
	return enc
}

// jsonContent reports whether r's content type is one go-ethereum's server
// takes.
func jsonContent(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("content-type"))
	if err != nil {
		return false
	}
	switch mt {
	case "application/json", "application/json-rpc", "application/jsonrequest":
		return true
	}
	return false
}

// readAgain is a request body read again from r, closed as the original.
type readAgain struct {
	io.Reader
	orig io.ReadCloser
}

func (b readAgain) Close() error { return b.orig.Close() }

// errReader returns err once what came before it is read.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
