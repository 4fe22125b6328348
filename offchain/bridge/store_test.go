package bridge_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/dynamostore"
	"github.com/arbiter-chain/arbiter/offchain/bridge/pgstore"
	"github.com/arbiter-chain/arbiter/offchain/bridge/storetest"
	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// stores are the Store implementations the conformance suite and the
// multi-instance tests run against: each gives a fresh database.
var stores = []struct {
	name    string
	backend storetest.Factory
}{
	{"mem", func(t *testing.T) *storetest.Backend {
		s := bridge.NewMemStore()
		return &storetest.Backend{Single: true, Open: func() (bridge.ClosableStore, error) { return s, nil }}
	}},
	{"badger", func(t *testing.T) *storetest.Backend {
		s, err := bridge.OpenBadgerInMemory()
		if err != nil {
			t.Fatalf("OpenBadgerInMemory: have %v, want nil", err)
		}
		return &storetest.Backend{Single: true, Open: func() (bridge.ClosableStore, error) { return s, nil }}
	}},
	{"badger-disk", func(t *testing.T) *storetest.Backend {
		dir := t.TempDir()
		return &storetest.Backend{Single: true, Durable: true, Open: func() (bridge.ClosableStore, error) {
			return bridge.OpenBadger(dir)
		}}
	}},
	{"postgres", func(t *testing.T) *storetest.Backend {
		url := storetest.PostgresDB(t)
		return &storetest.Backend{Durable: true, Open: func() (bridge.ClosableStore, error) {
			return pgstore.Open(context.Background(), url)
		}}
	}},
	{"dynamodb", func(t *testing.T) *storetest.Backend {
		o := storetest.DynamoTable(t)
		return &storetest.Backend{Durable: true, Open: func() (bridge.ClosableStore, error) {
			return dynamostore.Open(context.Background(), o)
		}}
	}},
}

// backend returns a fresh database of st, whose handles are closed at
// the end of the test.
func backend(t *testing.T, f storetest.Factory) *storetest.Backend {
	t.Helper()
	b := f(t)
	t.Cleanup(func() { b.CloseAll(t) })
	return b
}

// TestConformance runs the Store conformance suite on every store.
func TestConformance(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) { storetest.Run(t, st.backend) })
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
	if _, err := c.SubmitMove(ctx, states[3]); rpcCode(err) != wire.CodeDuplicate {
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

// TestBadgerHeadCache: the head the badger store answers from memory after
// an append is the record it reads back from disk after a restart, a
// caller's changes to a returned head do not reach the next caller, and a
// failed append (a conflict) does not move the head.
func TestBadgerHeadCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	id := storetest.GameID("head cache")
	s1, err := bridge.OpenBadger(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s1.CreateGame(ctx, storetest.Game(id)); err != nil {
		t.Fatal(err)
	}
	for ply := uint32(1); ply <= 3; ply++ {
		if err := s1.Append(ctx, storetest.State(id, ply, 0)); err != nil {
			t.Fatalf("Append(%d): %v", ply, err)
		}
	}
	if err := s1.Append(ctx, storetest.State(id, 3, 1)); !errors.Is(err, bridge.ErrConflict) {
		t.Fatalf("second append at ply 3: have %v, want ErrConflict", err)
	}
	cached, ok, err := s1.Head(ctx, id)
	if err != nil || !ok || !storetest.SameRecord(cached, storetest.State(id, 3, 0)) {
		t.Fatalf("Head from memory: have %+v, %v, %v; want ply 3, variant 0", cached, ok, err)
	}
	cached.State.Signature[0] ^= 0xff
	again, _, _ := s1.Head(ctx, id)
	if !storetest.SameRecord(again, storetest.State(id, 3, 0)) {
		t.Fatalf("a caller's change to a head reached the next caller")
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := bridge.OpenBadger(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	stored, ok, err := s2.Head(ctx, id)
	if err != nil || !ok {
		t.Fatalf("Head from disk: %v, %v", ok, err)
	}
	if !reflect.DeepEqual(stored, again) {
		t.Fatalf("head from memory %+v differs from head read back from disk %+v", again, stored)
	}
}
