package bridge_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
	"github.com/arbiter-chain/arbiter/offchain/client"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// testChainID is the chain the test arbiter reports.
var testChainID = big.NewInt(31337)

// Opening lines used across the tests, in UCI.
var (
	scholarsMate = []string{"e2e4", "e7e5", "f1c4", "b8c6", "d1h5", "g8f6", "h5f7"}
	foolsMate    = []string{"f2f3", "e7e5", "g2g4", "d8h4"}
	// loydStalemate ends with black stalemated after white's 19th ply.
	loydStalemate = []string{
		"e2e3", "a7a5", "d1h5", "a8a6", "h5a5", "h7h5", "h2h4", "a6h6", "a5c7", "f7f6",
		"c7d7", "e8f7", "d7b7", "d8d3", "b7b8", "d3h7", "b8c8", "f7g6", "c8e6",
	}
)

// knightShuffle returns n plies of both sides' king knights hopping out and
// back, a game that never ends.
func knightShuffle(n int) []string {
	cycle := []string{"g1f3", "g8f6", "f3g1", "f6g8"}
	out := make([]string, n)
	for i := range out {
		out[i] = cycle[i%len(cycle)]
	}
	return out
}

// testKey derives a fixed private key from a label.
func testKey(tb testing.TB, label string) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := crypto.ToECDSA(crypto.Keccak256([]byte(label)))
	if err != nil {
		tb.Fatalf("ToECDSA: have %v, want nil", err)
	}
	return key
}

func addr(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }

func gameID(label string) common.Hash { return crypto.Keccak256Hash([]byte(label)) }

// env is a bridge over a MemArbiter with white and black players.
type env struct {
	tb           testing.TB
	domain       channel.Domain
	white, black *ecdsa.PrivateKey
	arb          *bridge.MemArbiter
	store        bridge.Store
}

func newEnv(tb testing.TB, store bridge.Store) *env {
	tb.Helper()
	return &env{
		tb:     tb,
		domain: channel.DefaultDomain(testChainID),
		white:  testKey(tb, "white"),
		black:  testKey(tb, "black"),
		arb:    bridge.NewMemArbiter(testChainID),
		store:  store,
	}
}

// activate makes the arbiter report game id as active between the env's
// players.
func (e *env) activate(id common.Hash) {
	e.setStatus(id, channel.StatusActive)
}

func (e *env) setStatus(id common.Hash, status uint8) {
	e.arb.SetGame(id, bridge.GameInfo{
		White: addr(e.white), Black: addr(e.black),
		Stake: big.NewInt(1e18), MoveTimeout: 20, Status: status,
	})
}

// newBridge returns a Bridge over the env's store and arbiter, closed at
// the end of the test.
func (e *env) newBridge(cfg bridge.Config) *bridge.Bridge {
	e.tb.Helper()
	b, err := bridge.New(cfg, e.store, e.arb)
	if err != nil {
		e.tb.Fatalf("New: have %v, want nil", err)
	}
	e.tb.Cleanup(b.Close)
	return b
}

// newBridgeOn returns a Bridge over store (another handle on the env's
// database) and the env's arbiter, closed at the end of the test.
func (e *env) newBridgeOn(store bridge.Store, cfg bridge.Config) *bridge.Bridge {
	e.tb.Helper()
	b, err := bridge.New(cfg, store, e.arb)
	if err != nil {
		e.tb.Fatalf("New: have %v, want nil", err)
	}
	e.tb.Cleanup(b.Close)
	return b
}

// serve starts an HTTP server for b, closed at the end of the test.
func (e *env) serve(b *bridge.Bridge) *httptest.Server {
	srv := httptest.NewServer(b.Handler())
	e.tb.Cleanup(srv.Close)
	return srv
}

// dial connects a client to srv over HTTP ("/rpc") or WebSocket ("/ws").
func (e *env) dial(srv *httptest.Server, path string) *client.Client {
	e.tb.Helper()
	url := srv.URL + path
	if path == "/ws" {
		url = "ws" + strings.TrimPrefix(srv.URL, "http") + path
	}
	c, err := client.Dial(url)
	if err != nil {
		e.tb.Fatalf("Dial(%s): have %v, want nil", url, err)
	}
	e.tb.Cleanup(c.Close)
	return c
}

// keyFor returns the key of the player who signs ply.
func (e *env) keyFor(ply uint32) *ecdsa.PrivateKey {
	if channel.Signer(ply) == chessrules.White {
		return e.white
	}
	return e.black
}

// sign signs s with key in domain d.
func sign(tb testing.TB, d channel.Domain, s channel.State, key *ecdsa.PrivateKey) channel.SignedState {
	tb.Helper()
	sig, err := channel.SignState(d, s, key)
	if err != nil {
		tb.Fatalf("SignState: have %v, want nil", err)
	}
	return channel.SignedState{State: s, Signature: sig}
}

// step returns the state after prev that plays move, with the canonical FEN.
func step(tb testing.TB, prev channel.State, move string) channel.State {
	tb.Helper()
	pos, err := chessrules.ParseFEN(prev.FEN)
	if err != nil {
		tb.Fatalf("ParseFEN: have %v, want nil", err)
	}
	next, err := chessrules.ApplyUCI(pos, move)
	if err != nil {
		tb.Fatalf("ApplyUCI(%q) at ply %d: have %v, want nil", move, prev.Ply+1, err)
	}
	return channel.State{GameID: prev.GameID, Ply: prev.Ply + 1, FEN: next.FEN(), Move: move, PrevHash: prev.StructHash()}
}

// line returns the states of moves played from the start of game id, each
// signed by the player who made it.
func (e *env) line(id common.Hash, moves ...string) []channel.SignedState {
	e.tb.Helper()
	prev := channel.StartState(id)
	out := make([]channel.SignedState, len(moves))
	for i, m := range moves {
		next := step(e.tb, prev, m)
		out[i] = sign(e.tb, e.domain, next, e.keyFor(next.Ply))
		prev = next
	}
	return out
}

// openGame activates and registers game id on b.
func (e *env) openGame(b *bridge.Bridge, id common.Hash) {
	e.tb.Helper()
	e.activate(id)
	if _, err := b.OpenGame(context.Background(), bridge.OpenGameRequest{GameID: id}); err != nil {
		e.tb.Fatalf("OpenGame: have %v, want nil", err)
	}
}

// submitAll submits states through b and fails on any refusal.
func (e *env) submitAll(b *bridge.Bridge, states []channel.SignedState) {
	e.tb.Helper()
	for _, s := range states {
		if _, err := b.SubmitMove(context.Background(), bridge.SubmitMoveRequest{State: s}); err != nil {
			e.tb.Fatalf("SubmitMove(ply %d %s): have %v, want nil", s.State.Ply, s.State.Move, err)
		}
	}
}

// rpcCode returns the JSON-RPC code of a client error, or 0.
func rpcCode(err error) int {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

// receive waits for the next state on ch, failing after a generous
// deadline (a hang, not a timing assumption).
func receive(tb testing.TB, ch <-chan channel.SignedState, errc <-chan error) channel.SignedState {
	tb.Helper()
	select {
	case s := <-ch:
		return s
	case err := <-errc:
		tb.Fatalf("subscription ended: %v", err)
	case <-time.After(10 * time.Second):
		tb.Fatalf("no state pushed within 10s")
	}
	return channel.SignedState{}
}

func sameSigned(a, b channel.SignedState) bool {
	return a.State == b.State && string(a.Signature) == string(b.Signature)
}
