package bridge_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
	"github.com/ethereum/go-ethereum/common"
)

// TestScholarsMate plays a whole game through the HTTP server with the Go
// client: white over HTTP, black over WebSocket with a subscription; white
// mates and builds the checkmate claim.
func TestScholarsMate(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, bridge.NewMemStore())
	srv := e.serve(e.newBridge(bridge.Config{}))
	white, black := e.dial(srv, "/rpc"), e.dial(srv, "/ws")
	id := gameID("scholar")
	e.activate(id)

	g, err := white.OpenGame(ctx, id)
	if err != nil {
		t.Fatalf("OpenGame: have %v, want nil", err)
	}
	if g.White != addr(e.white) || g.Black != addr(e.black) || g.Ply != 0 || g.FEN != chessrules.StartFEN ||
		g.ToMove != "white" || g.Status != channel.StatusActive || g.Stake.ToInt().Int64() != 1e18 || g.MoveTimeout != 20 {
		t.Fatalf("OpenGame: have %+v", g)
	}

	// Each player watches for the other's moves.
	pushedToBlack := make(chan channel.SignedState, 16)
	sub, err := black.SubscribeMoves(ctx, id, pushedToBlack)
	if err != nil {
		t.Fatalf("SubscribeMoves: have %v, want nil", err)
	}
	defer sub.Unsubscribe()

	states := e.line(id, scholarsMate...)
	for _, s := range states {
		c := white
		if channel.Signer(s.State.Ply) == chessrules.Black {
			c = black
		}
		r, err := c.SubmitMove(ctx, s)
		if err != nil {
			t.Fatalf("SubmitMove(ply %d %s): have %v, want nil", s.State.Ply, s.State.Move, err)
		}
		if !r.Accepted || r.Ply != s.State.Ply || r.FEN != s.State.FEN {
			t.Fatalf("SubmitMove(ply %d): have %+v", s.State.Ply, r)
		}
		if got := receive(t, pushedToBlack, sub.Err()); !sameSigned(got, s) {
			t.Fatalf("pushed: have ply %d %s, want ply %d %s", got.State.Ply, got.State.Move, s.State.Ply, s.State.Move)
		}
	}

	g, err = black.GetGame(ctx, id)
	if err != nil {
		t.Fatalf("GetGame: have %v, want nil", err)
	}
	if g.Ply != 7 || g.FEN != states[6].State.FEN || g.ToMove != "black" {
		t.Fatalf("GetGame: have ply %d fen %q to move %s", g.Ply, g.FEN, g.ToMove)
	}
	hist, err := black.History(ctx, id, 0)
	if err != nil {
		t.Fatalf("History: have %v, want nil", err)
	}
	if len(hist) != len(states) {
		t.Fatalf("History: have %d states, want %d", len(hist), len(states))
	}
	for i := range hist {
		if !sameSigned(hist[i], states[i]) {
			t.Fatalf("History[%d]: have ply %d, want ply %d", i, hist[i].State.Ply, states[i].State.Ply)
		}
	}
	if hist, err = black.History(ctx, id, 6); err != nil || len(hist) != 2 || hist[0].State.Ply != 6 {
		t.Fatalf("History(from 6): have %d states, %v; want 2 from ply 6", len(hist), err)
	}

	// Black is mated: any move is illegal.
	after := channel.State{GameID: id, Ply: 8, FEN: states[6].State.FEN, Move: "e8e7", PrevHash: states[6].State.StructHash()}
	if _, err := black.SubmitMove(ctx, sign(t, e.domain, after, e.black)); !errors.Is(err, wire.ErrIllegalMove) {
		t.Fatalf("move after mate: have %v, want ErrIllegalMove", err)
	}

	tx, err := white.BuildClaim(ctx, id, channel.ClaimCheckmate, addr(e.white))
	if err != nil {
		t.Fatalf("BuildClaim: have %v, want nil", err)
	}
	if tx.To != common.HexToAddress(channel.ArbiterContract) {
		t.Fatalf("BuildClaim to: have %s, want %s", tx.To, channel.ArbiterContract)
	}
	checkClaimData(t, tx.Data, id, channel.ClaimCheckmate, states[5], states[6])

	for _, c := range []struct {
		name     string
		kind     uint8
		claimant common.Address
	}{
		{"timeout against a mated player", channel.ClaimTimeout, addr(e.white)},
		{"draw in a mate", channel.ClaimDraw, addr(e.white)},
		{"mate claimed by the mated side", channel.ClaimCheckmate, addr(e.black)},
	} {
		if _, err := white.BuildClaim(ctx, id, c.kind, c.claimant); !errors.Is(err, wire.ErrFalseClaim) {
			t.Errorf("BuildClaim(%s): have %v, want ErrFalseClaim", c.name, err)
		}
	}
}

// decodedState is how go-ethereum's ABI decoder returns the State tuple.
type decodedState = struct {
	GameId   [32]uint8 `json:"gameId"`
	Ply      uint32    `json:"ply"`
	Fen      string    `json:"fen"`
	Move     string    `json:"move"`
	PrevHash [32]uint8 `json:"prevHash"`
}

// checkClaimData decodes claim calldata with the ABI and compares every
// argument.
func checkClaimData(t *testing.T, data []byte, id common.Hash, kind uint8, base, last channel.SignedState) {
	t.Helper()
	a, err := channel.ArbiterABI()
	if err != nil {
		t.Fatalf("ArbiterABI: have %v, want nil", err)
	}
	m, err := a.MethodById(data)
	if err != nil || m.Name != "claim" {
		t.Fatalf("MethodById: have %v, %v; want claim", m, err)
	}
	args, err := m.Inputs.Unpack(data[4:])
	if err != nil {
		t.Fatalf("Unpack: have %v, want nil", err)
	}
	tuple := func(s channel.State) decodedState {
		return decodedState{GameId: s.GameID, Ply: s.Ply, Fen: s.FEN, Move: s.Move, PrevHash: s.PrevHash}
	}
	want := []any{[32]byte(id), kind, tuple(base.State), base.Signature, tuple(last.State), last.Signature}
	if len(args) != len(want) {
		t.Fatalf("claim args: have %d, want %d", len(args), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(args[i], want[i]) {
			t.Errorf("claim arg %d (%s): have %#v, want %#v", i, m.Inputs[i].Name, args[i], want[i])
		}
	}
}
