package bridge_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// TestTwoInstancesPush runs two Bridges, each with its own HTTP server
// and its own handle on one store (the same handle for a store one
// process owns): moves submitted to either are pushed to a subscriber of
// the other.
func TestTwoInstancesPush(t *testing.T) {
	ctx := context.Background()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			db := backend(t, st.backend)
			e := newEnv(t, db.Handle(t))
			a, b := e.newBridge(bridge.Config{}), e.newBridgeOn(db.Handle(t), bridge.Config{})
			srvA, srvB := e.serve(a), e.serve(b)
			id := gameID("two instances")
			e.openGame(a, id)

			onA, onB := e.dial(srvA, "/ws"), e.dial(srvB, "/ws")
			pushedA := make(chan channel.SignedState, 16)
			pushedB := make(chan channel.SignedState, 16)
			subA, err := onA.SubscribeMoves(ctx, id, pushedA)
			if err != nil {
				t.Fatalf("subscribe on A: have %v, want nil", err)
			}
			defer subA.Unsubscribe()
			subB, err := onB.SubscribeMoves(ctx, id, pushedB)
			if err != nil {
				t.Fatalf("subscribe on B: have %v, want nil", err)
			}
			defer subB.Unsubscribe()

			for i, s := range e.line(id, scholarsMate...) {
				submitter := onA // white plays on A, black on B
				if i%2 == 1 {
					submitter = onB
				}
				if _, err := submitter.SubmitMove(ctx, s); err != nil {
					t.Fatalf("SubmitMove(ply %d): have %v, want nil", s.State.Ply, err)
				}
				if got := receive(t, pushedA, subA.Err()); !sameSigned(got, s) {
					t.Fatalf("push on A: have ply %d, want %d", got.State.Ply, s.State.Ply)
				}
				if got := receive(t, pushedB, subB.Err()); !sameSigned(got, s) {
					t.Fatalf("push on B: have ply %d, want %d", got.State.Ply, s.State.Ply)
				}
			}

			// A late subscriber catches up from ply 1 without gaps.
			late := make(chan channel.SignedState, 16)
			subL, err := e.dial(srvB, "/ws").SubscribeMovesFrom(ctx, id, 1, late)
			if err != nil {
				t.Fatalf("SubscribeMovesFrom: have %v, want nil", err)
			}
			defer subL.Unsubscribe()
			for ply := uint32(1); ply <= 7; ply++ {
				if got := receive(t, late, subL.Err()); got.State.Ply != ply {
					t.Fatalf("catch-up: have ply %d, want %d", got.State.Ply, ply)
				}
			}
		})
	}
}

// TestConcurrentSubmits races many submitters, spread over two Bridges on
// two handles of one store, on the same ply: exactly one state is accepted, the rest are
// refused as duplicates (the same state) or as not continuing the game (a
// rival state at that ply).
func TestConcurrentSubmits(t *testing.T) {
	ctx := context.Background()
	const submitters = 16
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			db := backend(t, st.backend)
			e := newEnv(t, db.Handle(t))
			bridges := []*bridge.Bridge{e.newBridge(bridge.Config{}), e.newBridgeOn(db.Handle(t), bridge.Config{})}
			for _, tt := range []struct {
				name  string
				moves []string // the ply-1 states submitted; cycled over submitters
			}{
				{"same state", []string{"e2e4"}},
				{"rival states", []string{"e2e4", "d2d4", "c2c4", "g1f3"}},
			} {
				t.Run(tt.name, func(t *testing.T) {
					id := gameID("race: " + tt.name)
					e.openGame(bridges[0], id)
					var candidates []channel.SignedState
					for _, m := range tt.moves {
						candidates = append(candidates, e.line(id, m)[0])
					}
					start := make(chan struct{})
					errs := make([]error, submitters)
					var wg sync.WaitGroup
					for i := range submitters {
						wg.Add(1)
						go func() {
							defer wg.Done()
							<-start
							_, errs[i] = bridges[i%2].SubmitMove(ctx, bridge.SubmitMoveRequest{State: candidates[i%len(candidates)]})
						}()
					}
					close(start)
					wg.Wait()

					accepted := -1
					for i, err := range errs {
						switch {
						case err == nil:
							if accepted >= 0 {
								t.Fatalf("submitters %d and %d both accepted", accepted, i)
							}
							accepted = i
						case errors.Is(err, bridge.ErrDuplicate), errors.Is(err, bridge.ErrNotNext):
						default:
							t.Fatalf("submitter %d: have %v, want accepted, duplicate or not-next", i, err)
						}
					}
					if accepted < 0 {
						t.Fatalf("no submitter accepted")
					}
					winner := candidates[accepted%len(candidates)]
					for i, err := range errs {
						same := sameSigned(candidates[i%len(candidates)], winner)
						if err != nil && same != errors.Is(err, bridge.ErrDuplicate) {
							t.Errorf("submitter %d (same as winner: %v): have %v", i, same, err)
						}
					}
					hist, err := bridges[1].History(ctx, bridge.HistoryRequest{GameID: id})
					if err != nil || len(hist) != 1 || !sameSigned(hist[0], winner) {
						t.Fatalf("History: have %d states, %v; want the winner only", len(hist), err)
					}
				})
			}
		})
	}
}
