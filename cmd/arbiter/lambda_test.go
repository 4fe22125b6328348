package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/storetest"
	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// lambdaRuntime is a stand-in for the AWS Lambda Runtime API (version
// 2018-06-01) that a function process polls: it hands one event at a time
// to GET …/invocation/next and collects what the function POSTs to
// …/invocation/{id}/response or …/error.
type lambdaRuntime struct {
	srv  *httptest.Server
	next chan lambdaInvoke

	mu      sync.Mutex
	seq     int
	waiting map[string]chan lambdaResult
}

type lambdaInvoke struct {
	id      string
	payload []byte
}

type lambdaResult struct {
	body   []byte
	failed bool // posted to …/error
}

func startLambdaRuntime(t *testing.T) *lambdaRuntime {
	t.Helper()
	rt := &lambdaRuntime{next: make(chan lambdaInvoke), waiting: make(map[string]chan lambdaResult)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case inv := <-rt.next:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:arbiter-bridge")
			_, _ = w.Write(inv.payload)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/{outcome}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		outcome := r.PathValue("outcome")
		rt.mu.Lock()
		ch := rt.waiting[r.PathValue("id")]
		delete(rt.waiting, r.PathValue("id"))
		rt.mu.Unlock()
		if err != nil || ch == nil || (outcome != "response" && outcome != "error") {
			http.Error(w, "unexpected post", http.StatusBadRequest)
			return
		}
		ch <- lambdaResult{body: body, failed: outcome == "error"}
		w.WriteHeader(http.StatusAccepted)
	})
	rt.srv = httptest.NewServer(mux)
	t.Cleanup(rt.srv.Close)
	return rt
}

// addr is the value of AWS_LAMBDA_RUNTIME_API: host and port.
func (rt *lambdaRuntime) addr() string { return strings.TrimPrefix(rt.srv.URL, "http://") }

// invoke hands payload to the function and waits for its answer.
func (rt *lambdaRuntime) invoke(t *testing.T, payload []byte, exited <-chan struct{}) lambdaResult {
	t.Helper()
	rt.mu.Lock()
	rt.seq++
	inv := lambdaInvoke{id: fmt.Sprintf("req-%d", rt.seq), payload: payload}
	ch := make(chan lambdaResult, 1)
	rt.waiting[inv.id] = ch
	rt.mu.Unlock()
	deadline := time.After(60 * time.Second)
	select {
	case rt.next <- inv:
	case <-exited:
		t.Fatalf("%s: the function exited", inv.id)
	case <-deadline:
		t.Fatalf("%s: the function did not ask for it within 60s", inv.id)
	}
	select {
	case res := <-ch:
		return res
	case <-exited:
		t.Fatalf("%s: the function exited", inv.id)
	case <-deadline:
		t.Fatalf("%s: no answer within 60s", inv.id)
	}
	return lambdaResult{}
}

// lambdaFunction is a running arbiter-lambda process.
type lambdaFunction struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	exited chan struct{}
}

func startLambdaFunction(t *testing.T, bin string, env ...string) *lambdaFunction {
	t.Helper()
	f := &lambdaFunction{cmd: exec.Command(bin), stderr: new(bytes.Buffer), exited: make(chan struct{})}
	f.cmd.Env = append(os.Environ(), env...)
	f.cmd.Stderr = f.stderr
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = f.cmd.Wait()
		close(f.exited)
	}()
	t.Cleanup(func() {
		stopProcess(f.cmd.Process, f.exited, syscall.SIGKILL, 10*time.Second, true)
		if t.Failed() {
			t.Logf("function log:\n%s", f.stderr)
		}
	})
	return f
}

// rpcEvent is an API Gateway HTTP API (payload 2.0) event of a JSON-RPC
// call to /prod/rpc.
func rpcEvent(t *testing.T, id int, method string, params ...any) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err != nil {
		t.Fatal(err)
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST /rpc", RawPath: "/prod/rpc",
		Headers: map[string]string{"content-type": "application/json"},
		Body:    string(body),
	}
	ev.RequestContext.Stage = "prod"
	ev.RequestContext.DomainName = "bridge.example"
	ev.RequestContext.HTTP = events.APIGatewayV2HTTPRequestContextHTTPDescription{
		Method: http.MethodPost, Path: "/prod/rpc", Protocol: "HTTP/1.1", SourceIP: "192.0.2.1",
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rpcReply is a JSON-RPC response.
type rpcReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestLambdaFunction runs the built arbiter-lambda function under a
// stand-in Lambda runtime, over a DynamoDB-compatible server and a live
// node: API Gateway events open a game, play it to checkmate and build
// the claim, which the chain then accepts.
func TestLambdaFunction(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	storeURL := storetest.DynamoURL(t)
	bin := buildCommand(t, "../arbiter-lambda", "bootstrap")
	ec := startEventChain(t, 1)
	white, black := ec.pairs[0][0], ec.pairs[0][1]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rt := startLambdaRuntime(t)
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + rt.addr(), "AWS_EC2_METADATA_DISABLED=true",
		"ARBITER_NODE=" + ec.url, "ARBITER_CHAIN_ID=" + strconv.Itoa(bridgeTestChainID),
	}

	t.Run("cold start without its store", func(t *testing.T) {
		missing := strings.Replace(storeURL, "dynamodb://", "dynamodb://missing-", 1)
		f := startLambdaFunction(t, bin, append(env, "ARBITER_STORE="+missing)...)
		select {
		case <-f.exited:
		case <-time.After(60 * time.Second):
			t.Fatalf("the function kept running without its table")
		}
		if f.cmd.ProcessState.Success() || !strings.Contains(f.stderr.String(), "does not exist") {
			t.Fatalf("exit %v, log %q; want a failure naming the missing table", f.cmd.ProcessState, f.stderr)
		}
	})

	f := startLambdaFunction(t, bin, append(env, "ARBITER_STORE="+storeURL)...)
	seq := 0
	call := func(method string, params ...any) rpcReply {
		t.Helper()
		seq++
		res := rt.invoke(t, rpcEvent(t, seq, method, params...), f.exited)
		if res.failed {
			t.Fatalf("%s: the function reported an error: %s", method, res.body)
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(res.body, &resp); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: have response %s, %v; want status 200", method, res.body, err)
		}
		var reply rpcReply
		if err := json.Unmarshal([]byte(resp.Body), &reply); err != nil {
			t.Fatalf("%s: body %q: %v", method, resp.Body, err)
		}
		return reply
	}
	result := func(method string, out any, params ...any) {
		t.Helper()
		reply := call(method, params...)
		if reply.Error != nil {
			t.Fatalf("%s: have error %d %s, want a result", method, reply.Error.Code, reply.Error.Message)
		}
		if err := json.Unmarshal(reply.Result, out); err != nil {
			t.Fatalf("%s: result %s: %v", method, reply.Result, err)
		}
	}

	id := openOnChain(t, ctx, ec, white, black, 0, 0)
	var g bridge.Game
	result("chess_openGame", &g, id)
	if g.Status != channel.StatusActive || g.White != crypto.PubkeyToAddress(white.PublicKey) {
		t.Fatalf("chess_openGame: have %+v, want the active game", g)
	}
	states, err := signedLine(channel.DefaultDomain(big.NewInt(bridgeTestChainID)), id, white, black, scholarsMate...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		var r bridge.MoveReceipt
		result("chess_submitMove", &r, s)
		if !r.Accepted || r.Ply != s.State.Ply {
			t.Fatalf("chess_submitMove(ply %d): have %+v", s.State.Ply, r)
		}
	}
	if reply := call("chess_submitMove", states[6]); reply.Error == nil || reply.Error.Code != wire.CodeDuplicate {
		t.Fatalf("resubmitting the mate: have %+v, want error %d", reply.Error, wire.CodeDuplicate)
	}
	result("chess_getGame", &g, id)
	if g.Ply != 7 || g.ToMove != "black" {
		t.Fatalf("chess_getGame: have ply %d, %s to move; want 7, black", g.Ply, g.ToMove)
	}
	var claim bridge.ClaimTx
	result("chess_buildClaim", &claim, id, channel.ClaimCheckmate, crypto.PubkeyToAddress(white.PublicKey))
	if err := ec.send(ctx, white, 1, nil, claim.To, "claim", claim.Data); err != nil {
		t.Fatalf("sending the built claim: have %v, want a successful receipt", err)
	}
	result("chess_getGame", &g, id)
	if g.Status != channel.StatusClaimed {
		t.Fatalf("status after the claim: have %d, want %d (claimed)", g.Status, channel.StatusClaimed)
	}
}
