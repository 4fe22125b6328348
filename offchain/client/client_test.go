package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/client"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"
)

// codedError is a JSON-RPC error with a code, as the bridge sends them.
type codedError struct {
	code int
	msg  string
}

func (e *codedError) Error() string  { return e.msg }
func (e *codedError) ErrorCode() int { return e.code }

// fakeBridge answers chess_submitMove with the error whose code is the
// state's ply, and chess_getGame with a fixed game.
type fakeBridge struct{}

func (fakeBridge) SubmitMove(_ context.Context, s channel.SignedState) (*client.MoveReceipt, error) {
	if s.State.Ply == 1 {
		return &client.MoveReceipt{Accepted: true, Ply: 1, FEN: s.State.FEN}, nil
	}
	return nil, &codedError{code: -int(s.State.Ply), msg: "refused"}
}

func (fakeBridge) GetGame(_ context.Context, id common.Hash) (*client.Game, error) {
	return &client.Game{GameID: id, Ply: 3, ToMove: "black"}, nil
}

func newClient(t *testing.T) *client.Client {
	t.Helper()
	srv := rpc.NewServer()
	if err := srv.RegisterName("chess", fakeBridge{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	c := client.NewClient(rpc.DialInProc(srv))
	t.Cleanup(c.Close)
	return c
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	tests := []struct {
		code int
		want error
	}{
		{wire.CodeBadSignature, wire.ErrBadSignature},
		{wire.CodeNotYourTurn, wire.ErrNotYourTurn},
		{wire.CodeIllegalMove, wire.ErrIllegalMove},
		{wire.CodeFENMismatch, wire.ErrFENMismatch},
		{wire.CodeNotNext, wire.ErrNotNext},
		{wire.CodeUnknownGame, wire.ErrUnknownGame},
		{wire.CodeGameNotActive, wire.ErrGameNotActive},
		{wire.CodeDuplicate, wire.ErrDuplicate},
		{wire.CodeFalseClaim, wire.ErrFalseClaim},
		{-32000, nil},
	}
	for _, tt := range tests {
		s := channel.SignedState{State: channel.State{Ply: uint32(-tt.code)}, Signature: make([]byte, channel.SignatureLength)}
		_, err := c.SubmitMove(ctx, s)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Code != tt.code || ce.ErrorCode() != tt.code {
			t.Errorf("code %d: have %v, want *Error with that code", tt.code, err)
			continue
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("code %d: have %v, want errors.Is %v", tt.code, err, tt.want)
		}
		if tt.want == nil && errors.Unwrap(err) != nil {
			t.Errorf("code %d: unwraps to %v, want nil", tt.code, errors.Unwrap(err))
		}
	}
}

func TestCalls(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	s := channel.SignedState{State: channel.State{Ply: 1, FEN: "x"}, Signature: make([]byte, channel.SignatureLength)}
	r, err := c.SubmitMove(ctx, s)
	if err != nil || !r.Accepted || r.Ply != 1 || r.FEN != "x" {
		t.Fatalf("SubmitMove: have %+v, %v", r, err)
	}
	id := common.HexToHash("0x42")
	g, err := c.GetGame(ctx, id)
	if err != nil || g.GameID != id || g.Ply != 3 || g.ToMove != "black" {
		t.Fatalf("GetGame: have %+v, %v", g, err)
	}
	if _, err := c.History(ctx, id, 0); err == nil {
		t.Fatalf("History on a server without it: have nil error")
	}
}
