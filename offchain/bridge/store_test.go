package bridge_test

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
)

// stores are the Store implementations every store test runs against.
var stores = []struct {
	name string
	open func(t *testing.T) bridge.Store
}{
	{"mem", func(t *testing.T) bridge.Store { return bridge.NewMemStore() }},
	{"badger", func(t *testing.T) bridge.Store {
		s, err := bridge.OpenBadgerInMemory()
		if err != nil {
			t.Fatalf("OpenBadgerInMemory: have %v, want nil", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"badger-disk", func(t *testing.T) bridge.Store {
		s, err := bridge.OpenBadger(t.TempDir())
		if err != nil {
			t.Fatalf("OpenBadger: have %v, want nil", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
}

// TestStore checks the Store contract on every implementation.
func TestStore(t *testing.T) {
	ctx := context.Background()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			e := newEnv(t, s)
			id := gameID("store")
			g := bridge.GameRecord{ID: id, White: addr(e.white), Black: addr(e.black), Stake: big.NewInt(5), MoveTimeout: 9}
			states := e.line(id, "e2e4", "e7e5", "g1f3")
			rec := func(i int) bridge.Record {
				return bridge.Record{State: states[i], Accepted: time.Unix(0, int64(1000+i))}
			}

			if _, err := s.Game(ctx, id); !errors.Is(err, bridge.ErrNotFound) {
				t.Fatalf("Game before create: have %v, want ErrNotFound", err)
			}
			if err := s.Append(ctx, rec(0)); !errors.Is(err, bridge.ErrNotFound) {
				t.Fatalf("Append to unknown game: have %v, want ErrNotFound", err)
			}
			got, err := s.CreateGame(ctx, g)
			if err != nil || got.White != g.White || got.Stake.Cmp(g.Stake) != 0 || got.MoveTimeout != 9 {
				t.Fatalf("CreateGame: have %+v, %v", got, err)
			}
			other := g
			other.MoveTimeout = 77
			if got, err = s.CreateGame(ctx, other); err != nil || got.MoveTimeout != 9 {
				t.Fatalf("CreateGame again: have %+v, %v; want the first game", got, err)
			}
			if _, ok, err := s.Head(ctx, id); ok || err != nil {
				t.Fatalf("Head of empty game: have ok %v, %v", ok, err)
			}

			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			wake, err := s.Watch(wctx, id)
			if err != nil {
				t.Fatalf("Watch: have %v, want nil", err)
			}

			for _, tt := range []struct {
				name string
				rec  bridge.Record
				want error
			}{
				{"ply 2 before ply 1", rec(1), bridge.ErrConflict},
				{"ply 1", rec(0), nil},
				{"ply 1 again", rec(0), bridge.ErrConflict},
				{"ply 3 before ply 2", rec(2), bridge.ErrConflict},
				{"ply 2", rec(1), nil},
				{"ply 3", rec(2), nil},
			} {
				if err := s.Append(ctx, tt.rec); !errors.Is(err, tt.want) {
					t.Fatalf("Append(%s): have %v, want %v", tt.name, err, tt.want)
				}
			}
			select {
			case <-wake:
			default:
				t.Fatalf("Watch: no wake-up after Append")
			}

			head, ok, err := s.Head(ctx, id)
			if err != nil || !ok || !sameSigned(head.State, states[2]) || !head.Accepted.Equal(rec(2).Accepted) {
				t.Fatalf("Head: have %+v, %v, %v", head, ok, err)
			}
			for _, tt := range []struct {
				from       uint32
				limit      int
				wantPlies  []uint32
				wantLength int
			}{
				{0, 10, []uint32{1, 2, 3}, 3},
				{1, 10, []uint32{1, 2, 3}, 3},
				{2, 10, []uint32{2, 3}, 2},
				{2, 1, []uint32{2}, 1},
				{4, 10, nil, 0},
			} {
				recs, err := s.States(ctx, id, tt.from, tt.limit)
				if err != nil || len(recs) != tt.wantLength {
					t.Fatalf("States(%d, %d): have %d, %v; want %d", tt.from, tt.limit, len(recs), err, tt.wantLength)
				}
				for i, r := range recs {
					if r.Ply() != tt.wantPlies[i] || !sameSigned(r.State, states[r.Ply()-1]) {
						t.Fatalf("States(%d, %d)[%d]: have ply %d", tt.from, tt.limit, i, r.Ply())
					}
				}
			}
			if recs, err := s.States(ctx, gameID("none"), 0, 10); err != nil || len(recs) != 0 {
				t.Fatalf("States of unknown game: have %d, %v", len(recs), err)
			}
		})
	}
}

// TestBadgerRestart plays half a game, closes the store and the bridge,
// reopens both, and finishes the game.
func TestBadgerRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	id := gameID("restart")

	s1, err := bridge.OpenBadger(dir)
	if err != nil {
		t.Fatalf("OpenBadger: have %v, want nil", err)
	}
	e := newEnv(t, s1)
	states := e.line(id, scholarsMate...)
	b1, err := bridge.New(bridge.Config{}, s1, e.arb)
	if err != nil {
		t.Fatal(err)
	}
	e.openGame(b1, id)
	e.submitAll(b1, states[:4])
	b1.Close()
	if err := s1.Close(); err != nil {
		t.Fatalf("Close: have %v, want nil", err)
	}

	s2, err := bridge.OpenBadger(dir)
	if err != nil {
		t.Fatalf("reopen: have %v, want nil", err)
	}
	defer s2.Close()
	e.store = s2
	b2 := e.newBridge(bridge.Config{})
	c := e.dial(e.serve(b2), "/rpc")
	hist, err := c.History(ctx, id, 0)
	if err != nil || len(hist) != 4 {
		t.Fatalf("History after restart: have %d states, %v; want 4", len(hist), err)
	}
	for i := range hist {
		if !sameSigned(hist[i], states[i]) {
			t.Fatalf("History[%d] after restart differs", i)
		}
	}
	if _, err := c.SubmitMove(ctx, states[3]); rpcCode(err) != bridge.CodeDuplicate {
		t.Fatalf("resubmit ply 4 after restart: have %v, want duplicate", err)
	}
	for _, s := range states[4:] {
		if _, err := c.SubmitMove(ctx, s); err != nil {
			t.Fatalf("SubmitMove(ply %d) after restart: have %v, want nil", s.State.Ply, err)
		}
	}
	g, err := c.GetGame(ctx, id)
	if err != nil || g.Ply != 7 || g.White != addr(e.white) || g.Stake.ToInt().Int64() != 1e18 {
		t.Fatalf("GetGame after restart: have %+v, %v", g, err)
	}
}

// TestPollWatch drives PollWatch, the Watch of stores without push, over
// a MemStore's Head.
func TestPollWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := bridge.NewMemStore()
	e := newEnv(t, s)
	id := gameID("poll")
	if _, err := s.CreateGame(ctx, bridge.GameRecord{ID: id, White: addr(e.white), Black: addr(e.black)}); err != nil {
		t.Fatal(err)
	}
	headPly := func(ctx context.Context) (uint32, error) {
		r, ok, err := s.Head(ctx, id)
		if !ok {
			return 0, err
		}
		return r.Ply(), err
	}
	wake, err := bridge.PollWatch(ctx, time.Millisecond, headPly)
	if err != nil {
		t.Fatalf("PollWatch: have %v, want nil", err)
	}
	states := e.line(id, "e2e4", "e7e5")
	for _, st := range states {
		if err := s.Append(ctx, bridge.Record{State: st, Accepted: time.Now()}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-wake:
		case <-time.After(10 * time.Second):
			t.Fatalf("no wake-up for ply %d", st.State.Ply)
		}
	}
}
