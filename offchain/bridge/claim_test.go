package bridge_test

import (
	"context"
	"errors"
	"testing"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum/common"
)

// TestBuildClaim plays a line, then asks for a claim and checks either
// the refusal or the decoded calldata.
func TestBuildClaim(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, bridge.NewMemStore())
	b := e.newBridge(bridge.Config{})
	white, black := addr(e.white), addr(e.black)

	tests := []struct {
		name     string
		moves    []string
		kind     uint8
		claimant string // "white", "black" or "stranger"
		status   uint8  // arbiter status at claim time; 0 = active
		want     error
	}{
		{name: "white mates", moves: scholarsMate, kind: channel.ClaimCheckmate, claimant: "white"},
		{name: "black mates", moves: foolsMate, kind: channel.ClaimCheckmate, claimant: "black"},
		{name: "stalemate", moves: loydStalemate, kind: channel.ClaimDraw, claimant: "white"},
		{name: "fifty-move rule", moves: knightShuffle(100), kind: channel.ClaimDraw, claimant: "black"},
		{name: "timeout after the first move", moves: []string{"e2e4"}, kind: channel.ClaimTimeout, claimant: "white"},
		{name: "timeout mid-game", moves: []string{"e2e4", "e7e5", "g1f3", "b8c6"}, kind: channel.ClaimTimeout, claimant: "black"},

		{name: "timeout against a stalemated player", moves: loydStalemate, kind: channel.ClaimTimeout, claimant: "white", want: bridge.ErrFalseClaim},
		{name: "mate that is stalemate", moves: loydStalemate, kind: channel.ClaimCheckmate, claimant: "white", want: bridge.ErrFalseClaim},
		{name: "draw in a live game", moves: []string{"e2e4"}, kind: channel.ClaimDraw, claimant: "white", want: bridge.ErrFalseClaim},
		{name: "fifty-move rule one ply early", moves: knightShuffle(99), kind: channel.ClaimDraw, claimant: "white", want: bridge.ErrFalseClaim},
		{name: "claimant did not move last", moves: []string{"e2e4", "e7e5"}, kind: channel.ClaimTimeout, claimant: "white", want: bridge.ErrFalseClaim},
		{name: "no moves yet", moves: nil, kind: channel.ClaimTimeout, claimant: "black", want: bridge.ErrFalseClaim},
		{name: "claimant not a player", moves: []string{"e2e4"}, kind: channel.ClaimTimeout, claimant: "stranger", want: bridge.ErrInvalidParams},
		{name: "unknown kind", moves: []string{"e2e4"}, kind: 4, claimant: "white", want: bridge.ErrInvalidParams},
		{name: "kind zero", moves: []string{"e2e4"}, kind: 0, claimant: "white", want: bridge.ErrInvalidParams},
		{name: "game already claimed", moves: []string{"e2e4"}, kind: channel.ClaimTimeout, claimant: "white", status: channel.StatusClaimed, want: bridge.ErrGameNotActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := gameID("claim: " + tt.name)
			e.openGame(b, id)
			states := e.line(id, tt.moves...)
			e.submitAll(b, states)
			if tt.status != 0 {
				e.setStatus(id, tt.status)
			}
			claimant := map[string]common.Address{"white": white, "black": black, "stranger": addr(testKey(t, "stranger"))}[tt.claimant]
			tx, err := b.BuildClaim(ctx, bridge.BuildClaimRequest{GameID: id, Kind: tt.kind, Claimant: claimant})
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("BuildClaim: have %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("BuildClaim: have %v, want nil", err)
			}
			n := len(states)
			base := channel.SignedState{State: channel.StartState(id), Signature: []byte{}}
			if n > 1 {
				base = states[n-2]
			}
			checkClaimData(t, tx.Data, id, tt.kind, base, states[n-1])
		})
	}
}
