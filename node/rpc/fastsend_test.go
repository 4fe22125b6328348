package rpc

import (
	"bytes"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/internal/rpclimit"
)

// TestFastSendMatchesServer: a lone eth_sendRawTransaction is answered by
// sendFast, every other request by go-ethereum's server, and either way the
// answer (status, content type, body) is byte for byte the server's own.
func TestFastSendMatchesServer(t *testing.T) {
	e := newTestEnv(t, Config{Limits: rpclimit.Limits{MaxBodyBytes: 4096}})
	tx, err := types.SignNewTx(e.key1, e.signer, &types.DynamicFeeTx{ChainID: testChainID, Nonce: 7, To: &e.addr2, Gas: 21000,
		GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(1_000_000_000), Value: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	raw := hexutil.Encode(enc)
	send := func(id, params string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"method":"eth_sendRawTransaction","params":` + params + `}`
	}
	one := `["` + raw + `"]`
	tests := []struct {
		name     string
		body     string
		ctype    string
		length   int64 // Content-Length when non-zero; -1 for none (chunked)
		poolErr  error
		fast     bool   // answered by sendFast
		contains string // in the answer
	}{
		{name: "number id", body: send("1", one), fast: true, contains: tx.Hash().Hex()},
		{name: "string id", body: send(`"abc"`, one), fast: true, contains: `"id":"abc"`},
		{name: "id to escape", body: send(`"<a&b>"`, one), fast: true, contains: tx.Hash().Hex()},
		{name: "negative id", body: send("-7", one), fast: true},
		{name: "exponent id", body: send("1.5e3", one), fast: true},
		{name: "spaced", body: "\n  " + strings.ReplaceAll(send("2", `[ "`+raw+`" ]`), ",", " ,\n "), fast: true},
		{name: "unknown field", body: `{"foo":[1,2],"jsonrpc":"2.0","id":3,"method":"eth_sendRawTransaction","params":` + one + `}`, fast: true},
		{name: "nested unknown field", body: `{"x":{"a":"]}\"\\","b":[1,{"c":null},-2.5e-3,true]},"jsonrpc":"2.0","id":9,"method":"eth_sendRawTransaction","params":` + one + `,"y":[]}`, fast: true, contains: tx.Hash().Hex()},
		{name: "escaped key", body: `{"jsonr\u0070c":"2.0","id":4,"method":"eth_sendRawTransaction","params":` + one + `}`, fast: true, contains: tx.Hash().Hex()},
		{name: "escaped id", body: send(`"a\/b\u0041"`, one), fast: true, contains: `"id":"a\/b\u0041"`},
		{name: "repeated method", body: `{"jsonrpc":"2.0","id":4,"method":"eth_blockNumber","method":"eth_sendRawTransaction","params":` + one + `}`, fast: true, contains: tx.Hash().Hex()},
		{name: "keys in capitals", body: `{"JSONRPC":"2.0","ID":4,"METHOD":"eth_sendRawTransaction","PARAMS":` + one + `}`, contains: "-32600"},
		{name: "method not a string", body: `{"jsonrpc":"2.0","id":4,"method":"eth_sendRawTransaction","method":7,"params":` + one + `}`, fast: true},
		{name: "charset", body: send("5", one), ctype: "application/json; charset=utf-8", fast: true},
		{name: "json-rpc type", body: send("6", one), ctype: "application/json-rpc", fast: true},
		{name: "pool error", body: send("1", one), poolErr: errors.New("nonce too low: next nonce 9, tx nonce 7"), fast: true, contains: `"code":-32000`},
		{name: "coded pool error", body: send("1", one), poolErr: limitExceeded("sender <limit> & more"), fast: true, contains: `"code":-32005`},
		{name: "pool error with data", body: send("1", one), poolErr: revertError{data: []byte{1, 2}}, fast: true, contains: `"data":"0x0102"`},
		{name: "not a transaction", body: send("1", `["0x1234"]`), fast: true, contains: `"code":-32602`},
		{name: "empty transaction", body: send("1", `["0x"]`), fast: true, contains: "empty"},

		{name: "odd hex", body: send("1", `["0x123"]`), contains: `"code":-32602`},
		{name: "no 0x", body: send("1", `["1234"]`), contains: `"code":-32602`},
		{name: "number param", body: send("1", `[12]`), contains: `"code":-32602`},
		{name: "null param", body: send("1", `[null]`)},
		{name: "two params", body: send("1", `["`+raw+`","0x"]`), contains: "too many arguments"},
		{name: "no params", body: send("1", `[]`), contains: "missing value"},
		{name: "params object", body: send("1", `{"a":1}`), contains: `"code":-32602`},
		{name: "params absent", body: `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction"}`},
		{name: "version 1.0", body: `{"jsonrpc":"1.0","id":1,"method":"eth_sendRawTransaction","params":` + one + `}`},
		{name: "notification", body: `{"jsonrpc":"2.0","method":"eth_sendRawTransaction","params":` + one + `}`},
		{name: "null id", body: send("null", one)},
		{name: "object id", body: send(`{"a":1}`, one)},
		{name: "true id", body: send("true", one)},
		{name: "batch of one", body: "[" + send("1", one) + "]", contains: tx.Hash().Hex()},
		{name: "other method", body: `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`, contains: `"result":"0x`},
		{name: "capital method", body: `{"jsonrpc":"2.0","id":1,"method":"eth_SendRawTransaction","params":` + one + `}`, contains: "does not exist"},
		{name: "trailing bytes", body: send("1", one) + "xyz", contains: "-32700"},
		{name: "two objects", body: send("1", one) + send("2", one)},
		{name: "blank", body: "   \n"},
		{name: "malformed", body: `{"jsonrpc":"2.0","id":1,"method":`, contains: "-32700"},
		{name: "text type", body: send("1", one), ctype: "text/plain"},
		{name: "over the body limit", body: send("1", `["`+raw+`"]`) + strings.Repeat(" ", 4096)},
		{name: "chunked", body: send("1", one), length: -1, contains: tx.Hash().Hex()},
		{name: "short body", body: send("1", one)[:40], length: int64(len(send("1", one)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.pool.setErr(tt.poolErr)
			defer e.pool.setErr(nil)
			ctype := tt.ctype
			if ctype == "" {
				ctype = "application/json"
			}
			length := int64(len(tt.body))
			if tt.length != 0 {
				length = tt.length
			}
			answer, served := compareFastSend(t, e.srv, tt.body, ctype, length)
			if served == tt.fast {
				t.Errorf("answered by the server: %v, want %v", served, !tt.fast)
			}
			if !strings.Contains(answer, tt.contains) {
				t.Errorf("answer %q does not contain %q", answer, tt.contains)
			}
		})
	}
}

// compareFastSend serves body through sendFast and through go-ethereum's
// server alone, fails t unless the answers are the same, and returns the
// answer and whether sendFast handed the request to the server.
func compareFastSend(t testing.TB, srv *Server, body, ctype string, length int64) (answer string, served bool) {
	t.Helper()
	request := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(strings.NewReader(body)))
		r.ContentLength = length
		r.Header.Set("Content-Type", ctype)
		return r
	}
	fast := srv.sendFast(srv.eth, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served = true
		srv.rpc.ServeHTTP(w, r)
	}))
	have, want := httptest.NewRecorder(), httptest.NewRecorder()
	fast.ServeHTTP(have, request())
	srv.rpc.ServeHTTP(want, request())
	if have.Code != want.Code {
		t.Errorf("status %d, server's %d", have.Code, want.Code)
	}
	for _, k := range []string{"Content-Type", "Content-Length", "Transfer-Encoding"} {
		if h, w := have.Header().Get(k), want.Header().Get(k); h != w {
			t.Errorf("%s %q, server's %q", k, h, w)
		}
	}
	if !bytes.Equal(have.Body.Bytes(), want.Body.Bytes()) {
		t.Errorf("answer\n  %q\nserver's\n  %q", have.Body.String(), want.Body.String())
	}
	return have.Body.String(), served
}

// TestFastSendTimeoutAndPanic: a send that outlasts the request timeout (the
// HTTP server's write timeout less 100 ms) is answered with the server's
// timeout error before the connection's deadline, and one whose method
// panics with the server's crash error, the same as the server answers
// them. The held send returns only after both answers are in: one that
// returned as its context ended would race the timeout answer, in
// go-ethereum's server as in sendFast.
func TestFastSendTimeoutAndPanic(t *testing.T) {
	e := newTestEnv(t, Config{})
	tx, err := types.SignNewTx(e.key1, e.signer, &types.DynamicFeeTx{ChainID: testChainID, Nonce: 9, To: &e.addr2, Gas: 21000,
		GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(1_000_000_000), Value: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	body := `{"jsonrpc":"2.0","id":5,"method":"eth_sendRawTransaction","params":["` + hexutil.Encode(enc) + `"]}`
	serve := func(h http.Handler) *httptest.Server {
		hs := httptest.NewUnstartedServer(h)
		hs.Config.WriteTimeout = 400 * time.Millisecond
		hs.Start()
		t.Cleanup(hs.Close)
		return hs
	}
	var served atomic.Bool
	fast := serve(e.srv.sendFast(e.srv.eth, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Store(true)
		e.srv.rpc.ServeHTTP(w, r)
	})))
	server := serve(e.srv.rpc)
	client := &http.Client{Timeout: 10 * time.Second}
	post := func(url string) (int, string, string) {
		resp, err := client.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Content-Length"), string(b)
	}
	for _, tt := range []struct {
		name, want string
		set        func(bool)
	}{
		{"timeout", `{"jsonrpc":"2.0","id":5,"error":{"code":-32002,"message":"request timed out"}}`,
			func(on bool) {
				e.pool.mu.Lock()
				defer e.pool.mu.Unlock()
				if on {
					e.pool.hold = make(chan struct{})
				} else {
					close(e.pool.hold)
					e.pool.hold = nil
				}
			}},
		{"panic", `{"jsonrpc":"2.0","id":5,"error":{"code":-32603,"message":"method handler crashed"}}`,
			func(on bool) { e.pool.mu.Lock(); e.pool.panic = on; e.pool.mu.Unlock() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.set(true)
			defer tt.set(false)
			code, length, answer := post(fast.URL)
			wantCode, wantLength, want := post(server.URL)
			if served.Load() {
				t.Fatal("answered by the server, not sendFast")
			}
			if code != wantCode || length != wantLength || answer != want {
				t.Errorf("answer %d %s %q, server's %d %s %q", code, length, answer, wantCode, wantLength, want)
			}
			if answer != tt.want {
				t.Errorf("answer %q, want %q", answer, tt.want)
			}
		})
	}
}

// FuzzFastSend: whatever the body, sendFast answers as go-ethereum's server
// does.
func FuzzFastSend(f *testing.F) {
	e := newTestEnv(f, Config{Limits: rpclimit.Limits{MaxBodyBytes: 4096}})
	tx, err := types.SignNewTx(e.key1, e.signer, &types.DynamicFeeTx{ChainID: testChainID, Nonce: 7, To: &e.addr2, Gas: 21000,
		GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(1_000_000_000), Value: big.NewInt(1)})
	if err != nil {
		f.Fatal(err)
	}
	enc, err := tx.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	raw := hexutil.Encode(enc)
	f.Add(`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["` + raw + `"]}`)
	f.Add(`{"jsonrpc":"2.0","id":"x","method":"eth_sendRawTransaction","params":["0x12"]}`)
	f.Add(`{"x":{"a":"]}\"","b":[1,{"c":null}]},"jsonr\u0070c":"2.0","id":-1.5e3,"method":"eth_sendRawTransaction","params":[ "0x" ]}`)
	f.Add(`[{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["` + raw + `"]}]`)
	f.Fuzz(func(t *testing.T, body string) {
		compareFastSend(t, e.srv, body, "application/json", int64(len(body)))
	})
}

// TestFastSendThroughServer: a client library's eth_sendRawTransaction goes
// through the routed handler and reaches the pool; a pool error comes back
// as the server would send it.
func TestFastSendThroughServer(t *testing.T) {
	e := newTestEnv(t, Config{})
	tx, err := types.SignNewTx(e.key1, e.signer, &types.DynamicFeeTx{ChainID: testChainID, Nonce: 8, To: &e.addr2, Gas: 21000,
		GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(1_000_000_000), Value: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.SendTransaction(t.Context(), tx); err != nil {
		t.Fatal(err)
	}
	if e.pool.Get(tx.Hash()) == nil {
		t.Fatal("the transaction did not reach the pool")
	}
	e.pool.setErr(errors.New("transaction pool is full"))
	defer e.pool.setErr(nil)
	err = e.client.SendTransaction(t.Context(), tx)
	if err == nil || err.Error() != "transaction pool is full" || errorCode(err) != -32000 {
		t.Fatalf("pool error: have %v (code %d), want the pool's with -32000", err, errorCode(err))
	}
}
