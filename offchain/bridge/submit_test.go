package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"sync/atomic"
	"testing"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum/common"
)

// TestSubmitRefused submits one bad state per scenario, through the HTTP
// server and the Go client, after the game has reached ply 1 (1. e4), and
// checks the error code and that nothing was stored.
func TestSubmitRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, bridge.NewMemStore())
	b := e.newBridge(bridge.Config{})
	c := e.dial(e.serve(b), "/rpc")
	stranger := testKey(t, "stranger")

	// Every scenario plays in its own game, so they cannot disturb each
	// other; setup returns the state to submit.
	tests := []struct {
		name  string
		setup func(id common.Hash, ply1 channel.SignedState) channel.SignedState
		code  int
		want  error
	}{
		{
			name: "signed by a stranger",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				return sign(t, e.domain, step(t, ply1.State, "e7e5"), stranger)
			},
			code: wire.CodeBadSignature, want: wire.ErrBadSignature,
		},
		{
			name: "malformed signature v",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				s := sign(t, e.domain, step(t, ply1.State, "e7e5"), e.black)
				s.Signature[64] = 7
				return s
			},
			code: wire.CodeBadSignature, want: wire.ErrBadSignature,
		},
		{
			name: "replay of a move from another game",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				other := gameID("other game")
				s := e.line(other, "e2e4", "e7e5")[1]
				// Move it onto this game: same players, same move, but the
				// signature covers the other game id.
				s.State.GameID = id
				s.State.PrevHash = ply1.State.StructHash()
				return s
			},
			code: wire.CodeBadSignature, want: wire.ErrBadSignature,
		},
		{
			name: "signed for another chain id",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				return sign(t, channel.DefaultDomain(big.NewInt(1)), step(t, ply1.State, "e7e5"), e.black)
			},
			code: wire.CodeBadSignature, want: wire.ErrBadSignature,
		},
		{
			name: "signed for another contract",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				d := channel.Domain{ChainID: testChainID, Contract: common.HexToAddress("0x1004")}
				return sign(t, d, step(t, ply1.State, "e7e5"), e.black)
			},
			code: wire.CodeBadSignature, want: wire.ErrBadSignature,
		},
		{
			name: "white moves on black's turn",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				return sign(t, e.domain, step(t, ply1.State, "e7e5"), e.white)
			},
			code: wire.CodeNotYourTurn, want: wire.ErrNotYourTurn,
		},
		{
			name: "white plays again at ply 3",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				s := step(t, step(t, ply1.State, "e7e5"), "g1f3")
				return sign(t, e.domain, s, e.white)
			},
			code: wire.CodeNotYourTurn, want: wire.ErrNotYourTurn,
		},
		{
			name: "ply gap",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				s := step(t, ply1.State, "e7e5")
				s.Ply = 4
				return sign(t, e.domain, s, e.black)
			},
			code: wire.CodeNotNext, want: wire.ErrNotNext,
		},
		{
			name: "prevHash mismatch",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				s := step(t, ply1.State, "e7e5")
				s.PrevHash = common.HexToHash("0x01")
				return sign(t, e.domain, s, e.black)
			},
			code: wire.CodeNotNext, want: wire.ErrNotNext,
		},
		{
			name: "another state at an accepted ply",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				return sign(t, e.domain, step(t, channel.StartState(id), "d2d4"), e.white)
			},
			code: wire.CodeNotNext, want: wire.ErrNotNext,
		},
		{
			name: "illegal move",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				s := step(t, ply1.State, "e7e5")
				s.Move = "e7e4"
				return sign(t, e.domain, s, e.black)
			},
			code: wire.CodeIllegalMove, want: wire.ErrIllegalMove,
		},
		{
			name: "move not in UCI",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				s := step(t, ply1.State, "e7e5")
				s.Move = "e5"
				return sign(t, e.domain, s, e.black)
			},
			code: wire.CodeIllegalMove, want: wire.ErrIllegalMove,
		},
		{
			name: "FEN of another position",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				s := step(t, ply1.State, "e7e5")
				s.FEN = step(t, ply1.State, "e7e6").FEN
				return sign(t, e.domain, s, e.black)
			},
			code: wire.CodeFENMismatch, want: wire.ErrFENMismatch,
		},
		{
			name: "unparsable FEN",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				s := step(t, ply1.State, "e7e5")
				s.FEN = "not a position"
				return sign(t, e.domain, s, e.black)
			},
			code: wire.CodeFENMismatch, want: wire.ErrFENMismatch,
		},
		{
			name: "duplicate",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				return ply1
			},
			code: wire.CodeDuplicate, want: wire.ErrDuplicate,
		},
		{
			name: "unknown game",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				return e.line(gameID("never opened"), "e2e4")[0]
			},
			code: wire.CodeUnknownGame, want: wire.ErrUnknownGame,
		},
		{
			name: "game ended on chain",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				e.setStatus(id, channel.StatusEnded)
				return sign(t, e.domain, step(t, ply1.State, "e7e5"), e.black)
			},
			code: wire.CodeGameNotActive, want: wire.ErrGameNotActive,
		},
		{
			name: "game cancelled on chain",
			setup: func(id common.Hash, ply1 channel.SignedState) channel.SignedState {
				e.setStatus(id, channel.StatusCancelled)
				return sign(t, e.domain, step(t, ply1.State, "e7e5"), e.black)
			},
			code: wire.CodeGameNotActive, want: wire.ErrGameNotActive,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := gameID("refused: " + tt.name)
			e.openGame(b, id)
			ply1 := e.line(id, "e2e4")[0]
			e.submitAll(b, []channel.SignedState{ply1})
			bad := tt.setup(id, ply1)

			_, err := c.SubmitMove(ctx, bad)
			if rpcCode(err) != tt.code || !errors.Is(err, tt.want) {
				t.Fatalf("SubmitMove: have %v (code %d), want %v (code %d)", err, rpcCode(err), tt.want, tt.code)
			}
			hist, err := b.History(ctx, bridge.HistoryRequest{GameID: id})
			if err != nil || len(hist) != 1 || !sameSigned(hist[0], ply1) {
				t.Fatalf("after refusal: have %d states (%v), want only ply 1", len(hist), err)
			}
		})
	}
}

// countingArbiter counts the game lookups that reach the arbiter (the
// node, in production).
type countingArbiter struct {
	bridge.Arbiter
	games atomic.Int64
}

func (a *countingArbiter) Game(ctx context.Context, id common.Hash) (bridge.GameInfo, error) {
	a.games.Add(1)
	return a.Arbiter.Game(ctx, id)
}

// TestSubmitForgedCostsNodeNothing: a state anyone can forge (signed by a
// stranger, or with a broken signature) is refused before the bridge asks
// the node about the game, so a flood of forged moves loads no node.
func TestSubmitForgedCostsNodeNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, bridge.NewMemStore())
	arb := &countingArbiter{Arbiter: e.arb}
	b, err := bridge.New(bridge.Config{}, e.store, arb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	id := gameID("forged")
	e.openGame(b, id)
	ply1 := e.line(id, "e2e4")[0]
	e.submitAll(b, []channel.SignedState{ply1})
	before := arb.games.Load()
	if before == 0 {
		t.Fatal("an accepted move asked the arbiter nothing: the counter does not count")
	}
	stranger := testKey(t, "stranger")
	for i := range 50 {
		bad := sign(t, e.domain, step(t, ply1.State, "e7e5"), stranger)
		if i%2 == 1 {
			bad.Signature[64] = 9
		}
		if _, err := b.SubmitMove(ctx, bridge.SubmitMoveRequest{State: bad}); !errors.Is(err, bridge.ErrBadSignature) {
			t.Fatalf("forged move %d: have %v, want ErrBadSignature", i, err)
		}
	}
	if got := arb.games.Load() - before; got != 0 {
		t.Fatalf("forged moves asked the arbiter %d times, want 0", got)
	}
}

// TestSubmitDuringClaim checks that play may continue while the arbiter
// reports a claim (the answer to a timeout claim is such a move).
func TestSubmitDuringClaim(t *testing.T) {
	e := newEnv(t, bridge.NewMemStore())
	b := e.newBridge(bridge.Config{})
	id := gameID("claimed")
	e.openGame(b, id)
	states := e.line(id, "e2e4", "e7e5")
	e.submitAll(b, states[:1])
	e.setStatus(id, channel.StatusClaimed)
	e.submitAll(b, states[1:])
}

// TestSubmitMalformedParams sends states the JSON decoder refuses.
func TestSubmitMalformedParams(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, bridge.NewMemStore())
	c := e.dial(e.serve(e.newBridge(bridge.Config{})), "/rpc")
	good, err := json.Marshal(e.line(gameID("params"), "e2e4")[0])
	if err != nil {
		t.Fatal(err)
	}
	var asMap map[string]any
	if err := json.Unmarshal(good, &asMap); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		param any
	}{
		{"missing signature", func() map[string]any {
			m := clone(asMap)
			delete(m, "signature")
			return m
		}()},
		{"unknown key", func() map[string]any {
			m := clone(asMap)
			m["extra"] = 1
			return m
		}()},
		{"short gameId", func() map[string]any {
			m := clone(asMap)
			m["gameId"] = "0x01"
			return m
		}()},
		{"not an object", "e2e4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out any
			err := c.RPC().CallContext(ctx, &out, "chess_submitMove", tt.param)
			var re interface{ ErrorCode() int }
			if !errors.As(err, &re) || re.ErrorCode() != wire.CodeInvalidParams {
				t.Fatalf("have %v, want code %d", err, wire.CodeInvalidParams)
			}
		})
	}
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestOpenGame covers chess_openGame and chess_getGame refusals.
func TestOpenGame(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, bridge.NewMemStore())
	c := e.dial(e.serve(e.newBridge(bridge.Config{})), "/rpc")
	tests := []struct {
		name   string
		status uint8 // arbiter status; 0 = unknown to the arbiter
		want   error
	}{
		{"unknown on chain", channel.StatusNone, wire.ErrGameNotActive},
		{"open, not joined", channel.StatusOpen, wire.ErrGameNotActive},
		{"ended", channel.StatusEnded, wire.ErrGameNotActive},
		{"active", channel.StatusActive, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := gameID("open: " + tt.name)
			if tt.status != channel.StatusNone {
				e.setStatus(id, tt.status)
			}
			_, err := c.OpenGame(ctx, id)
			if !errors.Is(err, tt.want) && (err != nil || tt.want != nil) {
				t.Fatalf("OpenGame: have %v, want %v", err, tt.want)
			}
			_, err = c.GetGame(ctx, id)
			if tt.want != nil && !errors.Is(err, wire.ErrUnknownGame) {
				t.Fatalf("GetGame of a refused game: have %v, want ErrUnknownGame", err)
			}
			if tt.want == nil {
				// Opening twice returns the same game; status follows the chain.
				e.setStatus(id, channel.StatusEnded)
				g, err := c.OpenGame(ctx, id)
				if err != nil || g.Status != channel.StatusEnded {
					t.Fatalf("second OpenGame: have %+v, %v; want status ended", g, err)
				}
			}
		})
	}
	if _, err := c.History(ctx, gameID("nope"), 0); !errors.Is(err, wire.ErrUnknownGame) {
		t.Fatalf("History of unknown game: have %v, want ErrUnknownGame", err)
	}
}

// TestErrorCodes checks the bridge's codes against the client's and the
// mapping from channel errors.
func TestErrorCodes(t *testing.T) {
	tests := []struct {
		err        error
		code, want int
	}{
		{bridge.ErrBadSignature, wire.CodeBadSignature, wire.CodeBadSignature},
		{bridge.ErrNotYourTurn, wire.CodeNotYourTurn, wire.CodeNotYourTurn},
		{bridge.ErrIllegalMove, wire.CodeIllegalMove, wire.CodeIllegalMove},
		{bridge.ErrFENMismatch, wire.CodeFENMismatch, wire.CodeFENMismatch},
		{bridge.ErrNotNext, wire.CodeNotNext, wire.CodeNotNext},
		{bridge.ErrUnknownGame, wire.CodeUnknownGame, wire.CodeUnknownGame},
		{bridge.ErrGameNotActive, wire.CodeGameNotActive, wire.CodeGameNotActive},
		{bridge.ErrDuplicate, wire.CodeDuplicate, wire.CodeDuplicate},
		{bridge.ErrFalseClaim, wire.CodeFalseClaim, wire.CodeFalseClaim},
		{errors.New("disk on fire"), wire.CodeInternal, wire.CodeInternal},
	}
	for _, tt := range tests {
		if tt.code != tt.want {
			t.Errorf("%v: bridge code %d, client code %d", tt.err, tt.code, tt.want)
		}
		if got := wire.ErrorCode(tt.err); got != tt.code {
			t.Errorf("ErrorCode(%v): have %d, want %d", tt.err, got, tt.code)
		}
	}
}
