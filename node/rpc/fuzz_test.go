package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/arbiter-chain/arbiter/node/rules"
)

// fuzzHangLimit is how long one fuzzed request may take before the target
// reports a hang. Requests on the fake chain take microseconds; the limit
// only tells a hang from a slow machine.
const fuzzHangLimit = 10 * time.Second

// fuzzAPIs are the receivers New registers, by namespace. TestFuzzAPIs
// keeps the list in step with the server.
var fuzzAPIs = map[string]reflect.Type{
	"eth":  reflect.TypeFor[*ethAPI](),
	"net":  reflect.TypeFor[*netAPI](),
	"web3": reflect.TypeFor[*web3API](),
}

var subscriptionType = reflect.TypeFor[*gethrpc.Subscription]()

// rpcMethods lists the JSON-RPC methods the server publishes, the way
// go-ethereum's server names them: every exported method of a registered
// receiver as namespace_lowerCamelName, and namespace_subscribe plus
// namespace_unsubscribe for a receiver with subscription methods.
func rpcMethods() []string {
	var out []string
	for ns, typ := range fuzzAPIs {
		subs := false
		for i := range typ.NumMethod() {
			m := typ.Method(i)
			if m.Type.NumOut() > 0 && m.Type.Out(0) == subscriptionType {
				subs = true
				continue
			}
			r := []rune(m.Name)
			r[0] = unicode.ToLower(r[0])
			out = append(out, ns+"_"+string(r))
		}
		if subs {
			out = append(out, ns+"_subscribe", ns+"_unsubscribe")
		}
	}
	slices.Sort(out)
	return out
}

// TestFuzzAPIs checks that FuzzRPCParams covers every namespace the server
// publishes and that every method it fuzzes exists.
func TestFuzzAPIs(t *testing.T) {
	e := newTestEnv(t, Config{})
	var modules map[string]string
	if err := e.raw.Call(&modules, "rpc_modules"); err != nil {
		t.Fatal(err)
	}
	var have []string
	for ns := range modules {
		if ns != "rpc" {
			have = append(have, ns)
		}
	}
	slices.Sort(have)
	var want []string
	for ns := range fuzzAPIs {
		want = append(want, ns)
	}
	slices.Sort(want)
	if !slices.Equal(have, want) {
		t.Fatalf("namespaces: have %v, want %v (add new receivers to fuzzAPIs)", have, want)
	}
	for _, m := range rpcMethods() {
		if strings.HasSuffix(m, "_subscribe") || strings.HasSuffix(m, "_unsubscribe") {
			continue // over HTTP these answer "notifications not supported"
		}
		resp := postRPC(t, e.srv.Handler(), m, []byte(`[]`))
		if resp.Error != nil && resp.Error.Code == -32601 {
			t.Errorf("%s: have %q, want a registered method", m, resp.Error.Message)
		}
	}
}

// rpcResponse is a JSON-RPC response as the fuzz target checks it.
type rpcResponse struct {
	Version string           `json:"jsonrpc"`
	ID      *json.RawMessage `json:"id"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// postRPC posts one call of method with params (any bytes) to h and checks
// that the answer is an HTTP 200 carrying a JSON-RPC 2.0 response with
// either a result or an error.
func postRPC(t *testing.T, h http.Handler, method string, params []byte) rpcResponse {
	t.Helper()
	body := make([]byte, 0, len(params)+64)
	body = append(body, `{"jsonrpc":"2.0","id":1,"method":`...)
	body = strconv.AppendQuote(body, method)
	body = append(body, `,"params":`...)
	body = append(body, params...)
	body = append(body, '}')

	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		h.ServeHTTP(rec, req)
	}()
	select {
	case p := <-done:
		if p != nil {
			t.Fatalf("%s %q: handler panicked: %v", method, params, p)
		}
	case <-time.After(fuzzHangLimit):
		t.Fatalf("%s %q: no response within %v", method, params, fuzzHangLimit)
	}

	if rec.Code != http.StatusOK {
		t.Fatalf("%s %q: HTTP status: have %d, want 200 (body %q)", method, params, rec.Code, rec.Body.String())
	}
	var resp rpcResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("%s %q: response is not a JSON-RPC object: %v (body %q)", method, params, err, rec.Body.String())
	}
	if resp.Version != "2.0" {
		t.Fatalf("%s %q: jsonrpc: have %q, want 2.0", method, params, resp.Version)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &keys); err != nil {
		t.Fatalf("%s %q: response is not a JSON object: %v", method, params, err)
	}
	_, hasResult := keys["result"]
	_, hasError := keys["error"]
	if hasResult == hasError || (hasError && resp.Error == nil) {
		t.Fatalf("%s %q: want exactly one of result and error (body %q)", method, params, rec.Body.String())
	}
	// go-ethereum's server turns a panicking method into this error.
	if hasError && resp.Error.Code == -32603 && resp.Error.Message == "method handler crashed" {
		t.Fatalf("%s %q: the method panicked", method, params)
	}
	if json.Valid(body) && (resp.ID == nil || string(*resp.ID) != "1") {
		t.Fatalf("%s %q: id: have %s, want 1", method, params, rec.Body.String())
	}
	return resp
}

// checkingPool is the fake pool behind the static checks of the real one,
// so that eth_sendRawTransaction runs the whole decode-and-check path. It
// keeps at most a few transactions, so that fuzzing does not fill memory.
type checkingPool struct {
	*fakePool
	rules rules.Static
	mu    sync.Mutex
	n     int
}

func (p *checkingPool) Submit(ctx context.Context, tx *types.Transaction) error {
	if _, err := p.rules.CheckStatic(tx); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n >= 16 {
		return fmt.Errorf("pool full")
	}
	p.n++
	return p.fakePool.Submit(ctx, tx)
}

// rpcSeeds returns params for the methods, built from the test chain's
// real blocks, transactions and accounts.
func rpcSeeds(t testing.TB, e *testEnv) map[string][]string {
	t.Helper()
	q := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	raw, err := e.txs[2].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b1 := e.chain.blocks[1]
	addr, contract, tx := q(e.addr1), q(contractAddr), q(e.txs[1].Hash())
	return map[string][]string{
		"eth_blockNumber":                         {`[]`},
		"eth_chainId":                             {`[]`},
		"eth_getBlockByNumber":                    {`["0x1",true]`, `["latest",false]`, `["finalized",true]`, `["0xffffffffffffffff",false]`},
		"eth_getBlockByHash":                      {`[` + q(b1.Hash()) + `,true]`},
		"eth_getBlockTransactionCountByNumber":    {`["pending"]`},
		"eth_getBlockTransactionCountByHash":      {`[` + q(b1.Hash()) + `]`},
		"eth_getTransactionByBlockNumberAndIndex": {`["0x1","0x1"]`, `["earliest","0xffffffff"]`},
		"eth_getTransactionByBlockHashAndIndex":   {`[` + q(b1.Hash()) + `,"0x0"]`},
		"eth_getBlockReceipts":                    {`["0x1"]`, `[` + q(b1.Hash()) + `]`, `[{"blockHash":` + q(e.chain.side.Hash()) + `,"requireCanonical":true}]`},
		"eth_getBalance":                          {`[` + addr + `,"latest"]`, `[` + addr + `,{"blockNumber":"0x2"}]`},
		"eth_getTransactionCount":                 {`[` + addr + `,"pending"]`},
		"eth_getCode":                             {`[` + contract + `]`},
		"eth_getStorageAt":                        {`[` + contract + `,"0x1","latest"]`, `[` + contract + `,"0x0000000000000000000000000000000000000000000000000000000000000001"]`},
		"eth_sendRawTransaction":                  {`[` + q(hexutil.Bytes(raw)) + `]`, `["0x02c0"]`},
		"eth_getTransactionByHash":                {`[` + tx + `]`},
		"eth_getTransactionReceipt":               {`[` + tx + `]`},
		"eth_call":                                {`[{"to":` + contract + `,"data":"0x0102"},"latest"]`, `[{"to":` + q(revertAddr) + `}]`},
		"eth_estimateGas":                         {`[{"from":` + addr + `,"to":` + q(refundAddr) + `,"input":"0xff"}]`, `[{"to":` + contract + `,"gas":"0x5208"}]`},
		"eth_gasPrice":                            {`[]`},
		"eth_maxPriorityFeePerGas":                {`[]`},
		"eth_feeHistory":                          {`["0x4","latest",[10,50,90]]`, `[1024,"0x2",[]]`},
		"eth_getLogs":                             {`[{"fromBlock":"0x0","toBlock":"latest","address":` + contract + `,"topics":[[` + q(topicA) + `,null],` + q(topicB) + `]}]`, `[{"blockHash":` + q(b1.Hash()) + `}]`},
		"eth_subscribe":                           {`["newHeads"]`, `["logs",{"address":[` + contract + `]}]`},
		"eth_unsubscribe":                         {`["0x1"]`},
		"net_version":                             {`[]`},
		"net_peerCount":                           {`[]`},
		"web3_sha3":                               {`["0x68656c6c6f"]`},
	}
}

// FuzzRPCParams posts {"jsonrpc":"2.0","id":1,"method":M,"params":P} to the
// server's HTTP handler over the fake chain, for every method M the server
// publishes and fuzzed bytes P. Whatever P holds, the answer is an HTTP 200
// carrying a JSON-RPC response (a result or an error), never a panic, a
// 5xx or a hang, and a published method is always found.
func FuzzRPCParams(f *testing.F) {
	e := newTestEnv(f, Config{})
	pool := &checkingPool{fakePool: newFakePool(), rules: rules.NewStatic(testChainID, testGasLimit)}
	srv, err := New(Config{GasPrice: big.NewInt(1)}, e.chain, pool)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Close)
	h := srv.Handler()

	methods := rpcMethods()
	seeds := rpcSeeds(f, e)
	for i, m := range methods {
		f.Add(uint8(i), []byte(`[]`))
		for _, p := range seeds[m] {
			f.Add(uint8(i), []byte(p))
		}
	}
	f.Add(uint8(0), []byte(`{"a":1}`))
	f.Add(uint8(0), []byte(`null`))
	f.Fuzz(func(t *testing.T, method uint8, params []byte) {
		m := methods[int(method)%len(methods)]
		resp := postRPC(t, h, m, params)
		notifications := strings.HasSuffix(m, "_subscribe") || strings.HasSuffix(m, "_unsubscribe")
		if resp.Error != nil && resp.Error.Code == -32601 && !notifications {
			t.Fatalf("%s %q: a published method was not found: %s", m, params, resp.Error.Message)
		}
	})
}
