package bridge

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-lambda-go/events"
	"github.com/ethereum/go-ethereum/crypto"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
)

// fuzzHangLimit is how long one fuzzed request may take before the target
// reports a hang; requests on the in-memory store take microseconds.
const fuzzHangLimit = 10 * time.Second

var (
	fuzzChainID = big.NewInt(31337)
	fuzzWhite   = crypto.ToECDSAUnsafe(crypto.Keccak256([]byte("fuzz white")))
	fuzzBlack   = crypto.ToECDSAUnsafe(crypto.Keccak256([]byte("fuzz black")))
	fuzzGame    = crypto.Keccak256Hash([]byte("fuzz game"))
)

// chessMethods lists the JSON-RPC methods of chessAPI the way go-ethereum's
// server names them, chess_subscribe and chess_unsubscribe for its
// subscription methods.
func chessMethods() []string {
	sub := reflect.TypeFor[*gethrpc.Subscription]()
	typ := reflect.TypeFor[*chessAPI]()
	var out []string
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		if m.Type.NumOut() > 0 && m.Type.Out(0) == sub {
			continue
		}
		r := []rune(m.Name)
		r[0] = unicode.ToLower(r[0])
		out = append(out, "chess_"+string(r))
	}
	out = append(out, "chess_subscribe", "chess_unsubscribe")
	slices.Sort(out)
	return out
}

// fuzzLine returns signed states of moves from the start of fuzzGame.
func fuzzLine(t testing.TB, moves ...string) []channel.SignedState {
	t.Helper()
	d := channel.DefaultDomain(fuzzChainID)
	prev := channel.StartState(fuzzGame)
	var out []channel.SignedState
	for _, m := range moves {
		pos, err := chessrules.ParseFEN(prev.FEN)
		if err != nil {
			t.Fatal(err)
		}
		after, err := chessrules.ApplyUCI(pos, m)
		if err != nil {
			t.Fatal(err)
		}
		next := channel.State{GameID: fuzzGame, Ply: prev.Ply + 1, FEN: after.FEN(), Move: m, PrevHash: prev.StructHash()}
		key := fuzzBlack
		if channel.Signer(next.Ply) == chessrules.White {
			key = fuzzWhite
		}
		sig, err := channel.SignState(d, next, key)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, channel.SignedState{State: next, Signature: sig})
		prev = next
	}
	return out
}

// fuzzBridge returns a bridge over a fresh in-memory store on which
// fuzzGame is open and holds the first accepted plies of line.
func fuzzBridge(t testing.TB, line []channel.SignedState) *Bridge {
	t.Helper()
	arb := NewMemArbiter(fuzzChainID)
	arb.SetGame(fuzzGame, GameInfo{
		White: crypto.PubkeyToAddress(fuzzWhite.PublicKey), Black: crypto.PubkeyToAddress(fuzzBlack.PublicKey),
		Stake: big.NewInt(1e18), MoveTimeout: 20, Status: channel.StatusActive,
	})
	b, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, NewMemStore(), arb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx := context.Background()
	if _, err := b.OpenGame(ctx, OpenGameRequest{GameID: fuzzGame}); err != nil {
		t.Fatal(err)
	}
	for _, s := range line {
		if _, err := b.SubmitMove(ctx, SubmitMoveRequest{State: s}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// postChess posts one call of method with params (any bytes) to h and
// checks that the answer is an HTTP 200 with a JSON-RPC 2.0 response
// holding a result or an error, and that the error is not an internal one
// (client input never breaks the in-memory store or arbiter).
func postChess(t *testing.T, h http.Handler, method string, params []byte) (code int) {
	t.Helper()
	body := append([]byte(`{"jsonrpc":"2.0","id":1,"method":`), strconv.Quote(method)...)
	body = append(append(append(body, `,"params":`...), params...), '}')
	req := httptest.NewRequest(http.MethodPost, "/rpc", bytes.NewReader(body))
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
		t.Fatalf("%s %q: HTTP status %d, want 200 (body %q)", method, params, rec.Code, rec.Body.String())
	}
	var keys map[string]json.RawMessage
	var resp struct {
		Version string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(rec.Body.Bytes(), &keys) != nil || json.Unmarshal(rec.Body.Bytes(), &resp) != nil || resp.Version != "2.0" {
		t.Fatalf("%s %q: not a JSON-RPC response: %q", method, params, rec.Body.String())
	}
	_, hasResult := keys["result"]
	_, hasError := keys["error"]
	if hasResult == hasError || (hasError && resp.Error == nil) {
		t.Fatalf("%s %q: want exactly one of result and error: %q", method, params, rec.Body.String())
	}
	if json.Valid(body) && string(resp.ID) != "1" {
		t.Fatalf("%s %q: id %s, want 1", method, params, resp.ID)
	}
	if resp.Error == nil {
		return 0
	}
	if resp.Error.Message == "bridge: internal error" || resp.Error.Message == "method handler crashed" {
		t.Fatalf("%s %q: %d %s", method, params, resp.Error.Code, resp.Error.Message)
	}
	return resp.Error.Code
}

// TestChessMethods checks that the bridge publishes exactly the chess
// namespace and every method FuzzBridgeParams fuzzes.
func TestChessMethods(t *testing.T) {
	b := fuzzBridge(t, nil)
	for _, m := range chessMethods() {
		if m == "chess_subscribe" || m == "chess_unsubscribe" {
			continue // over HTTP these answer "notifications not supported"
		}
		if code := postChess(t, b.Handler(), m, []byte(`[]`)); code == -32601 {
			t.Errorf("%s: not found", m)
		}
	}
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	c, err := gethrpc.Dial(srv.URL + "/rpc")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var modules map[string]string
	if err := c.Call(&modules, "rpc_modules"); err != nil {
		t.Fatal(err)
	}
	delete(modules, "rpc")
	if len(modules) != 1 || modules["chess"] == "" {
		t.Fatalf("namespaces: have %v, want only chess", modules)
	}
}

// FuzzBridgeParams posts {"jsonrpc":"2.0","id":1,"method":M,"params":P}
// to the bridge's HTTP handler for every chess_* method M and fuzzed P,
// on a fresh in-memory game with two accepted plies. The answer is always
// an HTTP 200 JSON-RPC response, never a panic, a hang or an internal
// error, and a published method is always found.
func FuzzBridgeParams(f *testing.F) {
	line := fuzzLine(f, "e2e4", "e7e5", "g1f3", "b8c6")
	methods := chessMethods()
	q := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		return string(b)
	}
	id := q(fuzzGame)
	seeds := map[string][]string{
		"chess_openGame":   {`[` + id + `]`},
		"chess_getGame":    {`[` + id + `]`, `["0x00"]`},
		"chess_submitMove": {`[` + q(line[2]) + `]`, `[` + q(line[3]) + `]`, `[` + q(line[1]) + `]`},
		"chess_history":    {`[` + id + `,0]`, `[` + id + `,4294967295]`},
		"chess_buildClaim": {`[` + id + `,1,` + q(crypto.PubkeyToAddress(fuzzWhite.PublicKey)) + `]`, `[` + id + `,3,"0x0000000000000000000000000000000000000000"]`},
		"chess_subscribe":  {`["moves",` + id + `]`},
	}
	for i, m := range methods {
		f.Add(uint8(i), []byte(`[]`))
		for _, p := range seeds[m] {
			f.Add(uint8(i), []byte(p))
		}
	}
	f.Fuzz(func(t *testing.T, method uint8, params []byte) {
		b := fuzzBridge(t, line[:2])
		m := methods[int(method)%len(methods)]
		code := postChess(t, b.Handler(), m, params)
		if code == -32601 && m != "chess_subscribe" && m != "chess_unsubscribe" {
			t.Fatalf("%s %q: a published method was not found", m, params)
		}
	})
}

// FuzzLambdaEvent hands the Lambda adapter an API Gateway event with a
// fuzzed body, base64 flag and path. It never fails, and a request the
// adapter passes on is answered as over HTTP.
func FuzzLambdaEvent(f *testing.F) {
	line := fuzzLine(f, "e2e4", "e7e5", "g1f3")
	call, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "chess_submitMove", "params": []any{line[2]}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(call), false, "/rpc")
	f.Add(base64.StdEncoding.EncodeToString(call), true, "/prod/rpc")
	f.Add("!!", true, "/rpc")
	f.Add(`{}`, false, "/other")
	f.Fuzz(func(t *testing.T, body string, b64 bool, path string) {
		b := fuzzBridge(t, line[:2])
		ev := events.APIGatewayV2HTTPRequest{RawPath: path, Body: body, IsBase64Encoded: b64,
			Headers: map[string]string{"content-type": "application/json"}}
		ev.RequestContext.HTTP.Method = http.MethodPost
		var (
			resp events.APIGatewayV2HTTPResponse
			err  error
		)
		done := make(chan any, 1)
		go func() {
			defer func() { done <- recover() }()
			resp, err = b.LambdaHandler()(context.Background(), ev)
		}()
		select {
		case p := <-done:
			if p != nil {
				t.Fatalf("handler panicked: %v", p)
			}
		case <-time.After(fuzzHangLimit):
			t.Fatalf("no response within %v", fuzzHangLimit)
		}
		if err != nil {
			t.Fatalf("handler error: %v", err)
		}
		if resp.StatusCode >= 500 || resp.StatusCode < 200 {
			t.Fatalf("status %d: %q", resp.StatusCode, resp.Body)
		}
		if resp.StatusCode == http.StatusOK && bytes.Contains([]byte(resp.Body), []byte("bridge: internal error")) {
			t.Fatalf("internal error for client input: %q", resp.Body)
		}
	})
}
