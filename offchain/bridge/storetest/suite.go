package storetest

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// Factory returns a fresh, empty database for one test.
type Factory func(t *testing.T) *Backend

// wakeDeadline bounds the wait for a Watch wake-up. It catches a hang, not
// a slow store: a wake-up normally comes within a poll interval.
const wakeDeadline = 20 * time.Second

// Run checks every guarantee of bridge.Store on databases from newBackend,
// each check on a fresh one.
func Run(t *testing.T, newBackend Factory) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *Backend)
	}{
		{"UnknownGame", testUnknownGame},
		{"CreateGame", testCreateGame},
		{"AppendSequence", testAppendSequence},
		{"ReadYourWrites", testReadYourWrites},
		{"CompareAndSet", testCompareAndSet},
		{"WatchAcrossHandles", testWatchAcrossHandles},
		{"HistoryPaging", testHistoryPaging},
		{"Durability", testDurability},
		{"OutOfRange", testOutOfRange},
		{"GamesApart", testGamesApart},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			t.Cleanup(func() { b.CloseAll(t) })
			tc.run(t, b)
		})
	}
}

// create stores Game(id) through s.
func create(t *testing.T, s bridge.Store, id common.Hash) bridge.GameRecord {
	t.Helper()
	g := Game(id)
	got, err := s.CreateGame(t.Context(), g)
	if err != nil || !sameGame(got, g) {
		t.Fatalf("CreateGame: have %+v, %v; want %+v", got, err, g)
	}
	return g
}

// appendAll appends State(id, ply, 0) for plies from..to, rotating over
// handles.
func appendAll(t *testing.T, hs []bridge.Store, id common.Hash, from, to uint32) {
	t.Helper()
	for ply := from; ply <= to; ply++ {
		if err := hs[int(ply)%len(hs)].Append(t.Context(), State(id, ply, 0)); err != nil {
			t.Fatalf("Append(ply %d): have %v, want nil", ply, err)
		}
	}
}

// checkHead fails unless the newest state of id on s is want (ply 0: none).
func checkHead(t *testing.T, s bridge.Store, id common.Hash, want bridge.Record) {
	t.Helper()
	got, ok, err := s.Head(t.Context(), id)
	switch {
	case err != nil:
		t.Fatalf("Head: have %v, want nil", err)
	case want.Ply() == 0 && ok:
		t.Fatalf("Head: have ply %d, want none", got.Ply())
	case want.Ply() != 0 && (!ok || !SameRecord(got, want)):
		t.Fatalf("Head: have ply %d (ok %v) %+v, want ply %d %+v", got.Ply(), ok, got, want.Ply(), want)
	}
}

// checkStates fails unless the states of id on s from ply 1 are exactly
// want.
func checkStates(t *testing.T, s bridge.Store, id common.Hash, want []bridge.Record) {
	t.Helper()
	got, err := s.States(t.Context(), id, 1, len(want)+10)
	if err != nil {
		t.Fatalf("States: have %v, want nil", err)
	}
	if len(got) != len(want) {
		t.Fatalf("States: have %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !SameRecord(got[i], want[i]) {
			t.Fatalf("States[%d]: have %+v, want %+v", i, got[i], want[i])
		}
	}
}

func testUnknownGame(t *testing.T, b *Backend) {
	s := b.Handle(t)
	ctx := t.Context()
	id := GameID("unknown")
	if _, err := s.Game(ctx, id); !errors.Is(err, bridge.ErrNotFound) {
		t.Fatalf("Game: have %v, want ErrNotFound", err)
	}
	if _, ok, err := s.Head(ctx, id); ok || err != nil {
		t.Fatalf("Head: have ok %v, %v; want false, nil", ok, err)
	}
	if recs, err := s.States(ctx, id, 0, 10); len(recs) != 0 || err != nil {
		t.Fatalf("States: have %d, %v; want 0, nil", len(recs), err)
	}
	for _, ply := range []uint32{1, 2} {
		if err := s.Append(ctx, State(id, ply, 0)); !errors.Is(err, bridge.ErrNotFound) {
			t.Fatalf("Append(ply %d): have %v, want ErrNotFound", ply, err)
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if _, err := s.Watch(wctx, id); err != nil {
		t.Fatalf("Watch: have %v, want nil", err)
	}
	// Nothing was created on the way.
	if _, err := s.Game(ctx, id); !errors.Is(err, bridge.ErrNotFound) {
		t.Fatalf("Game after the refused appends: have %v, want ErrNotFound", err)
	}
}

func testCreateGame(t *testing.T, b *Backend) {
	hs := b.Handles(t, 2)
	ctx := t.Context()
	id := GameID("create")
	g := create(t, hs[0], id)

	rival := Game(id)
	rival.White, rival.Stake, rival.MoveTimeout = common.Address{1}, big.NewInt(1), 77
	for i, s := range hs {
		got, err := s.CreateGame(ctx, rival)
		if err != nil || !sameGame(got, g) {
			t.Fatalf("CreateGame again on handle %d: have %+v, %v; want the first game", i, got, err)
		}
		if got, err = s.Game(ctx, id); err != nil || !sameGame(got, g) {
			t.Fatalf("Game on handle %d: have %+v, %v; want %+v", i, got, err, g)
		}
	}

	for _, tt := range []struct {
		name  string
		stake *big.Int
	}{
		{"nil stake reads as zero", nil},
		{"zero stake", new(big.Int)},
		{"widest stake", new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := Game(GameID("create: " + tt.name))
			g.Stake = tt.stake
			if _, err := hs[0].CreateGame(ctx, g); err != nil {
				t.Fatalf("CreateGame: have %v, want nil", err)
			}
			got, err := hs[1].Game(ctx, g.ID)
			if err != nil || !sameGame(got, g) || got.Stake == nil {
				t.Fatalf("Game: have %+v, %v; want %+v with a non-nil stake", got, err, g)
			}
		})
	}
}

func testAppendSequence(t *testing.T, b *Backend) {
	s := b.Handle(t)
	id := GameID("sequence")
	create(t, s, id)
	checkHead(t, s, id, bridge.Record{})
	for _, tt := range []struct {
		name string
		rec  bridge.Record
		want error
	}{
		{"ply 0", State(id, 0, 0), bridge.ErrConflict},
		{"ply 2 before ply 1", State(id, 2, 0), bridge.ErrConflict},
		{"ply 1", State(id, 1, 0), nil},
		{"ply 1 again", State(id, 1, 0), bridge.ErrConflict},
		{"a rival ply 1", State(id, 1, 1), bridge.ErrConflict},
		{"ply 3 before ply 2", State(id, 3, 0), bridge.ErrConflict},
		{"ply 2", State(id, 2, 0), nil},
		{"ply 3", State(id, 3, 0), nil},
		{"ply 2 after ply 3", State(id, 2, 1), bridge.ErrConflict},
	} {
		if err := s.Append(t.Context(), tt.rec); !errors.Is(err, tt.want) {
			t.Fatalf("Append(%s): have %v, want %v", tt.name, err, tt.want)
		}
	}
	checkHead(t, s, id, State(id, 3, 0))
	checkStates(t, s, id, []bridge.Record{State(id, 1, 0), State(id, 2, 0), State(id, 3, 0)})
}

func testReadYourWrites(t *testing.T, b *Backend) {
	hs := b.Handles(t, 2)
	ctx := t.Context()
	id := GameID("read your writes")
	g := create(t, hs[0], id)
	if got, err := hs[1].Game(ctx, id); err != nil || !sameGame(got, g) {
		t.Fatalf("Game on the other handle right after CreateGame: have %+v, %v", got, err)
	}
	var want []bridge.Record
	for ply := uint32(1); ply <= 6; ply++ {
		w, r := hs[int(ply)%2], hs[int(ply+1)%2]
		rec := State(id, ply, 0)
		if err := w.Append(ctx, rec); err != nil {
			t.Fatalf("Append(ply %d): have %v, want nil", ply, err)
		}
		want = append(want, rec)
		// No waiting: the read starts after the write returned.
		checkHead(t, r, id, rec)
		checkStates(t, r, id, want)
	}
}

func testCompareAndSet(t *testing.T, b *Backend) {
	const handles, perHandle, plies = 3, 8, 4
	hs := b.Handles(t, handles)
	ctx := t.Context()
	id := GameID("compare and set")
	create(t, hs[0], id)

	var won []bridge.Record
	for ply := uint32(1); ply <= plies; ply++ {
		start := make(chan struct{})
		errs := make([]error, handles*perHandle)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = hs[i%handles].Append(ctx, State(id, ply, i))
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("ply %d: appenders %d and %d both succeeded", ply, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, bridge.ErrConflict):
				t.Fatalf("ply %d, appender %d: have %v, want nil or ErrConflict", ply, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("ply %d: no appender succeeded", ply)
		}
		won = append(won, State(id, ply, winner))
		for _, s := range hs {
			checkHead(t, s, id, won[len(won)-1])
		}
	}
	// Nothing stored is overwritten, by any handle, at any ply.
	for i, s := range hs {
		for ply := uint32(1); ply <= plies; ply++ {
			if err := s.Append(ctx, State(id, ply, 1000+i)); !errors.Is(err, bridge.ErrConflict) {
				t.Fatalf("handle %d: Append over ply %d: have %v, want ErrConflict", i, ply, err)
			}
		}
	}
	for _, s := range hs {
		checkStates(t, s, id, won)
	}
}

func testWatchAcrossHandles(t *testing.T, b *Backend) {
	hs := b.Handles(t, 2)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	id, other := GameID("watch"), GameID("watch: other game")
	create(t, hs[0], id)
	create(t, hs[0], other)
	wakes := make([]<-chan struct{}, len(hs))
	for i, s := range hs {
		w, err := s.Watch(ctx, id)
		if err != nil {
			t.Fatalf("Watch on handle %d: have %v, want nil", i, err)
		}
		wakes[i] = w
	}
	for ply := uint32(1); ply <= 4; ply++ {
		// Traffic on another game must not stand in for this one's.
		if err := hs[0].Append(ctx, State(other, ply, 0)); err != nil {
			t.Fatalf("Append to the other game: have %v, want nil", err)
		}
		drain(wakes...)
		writer := int(ply) % len(hs)
		if err := hs[writer].Append(ctx, State(id, ply, 0)); err != nil {
			t.Fatalf("Append(ply %d) on handle %d: have %v, want nil", ply, writer, err)
		}
		for i, w := range wakes {
			select {
			case <-w:
			case <-time.After(wakeDeadline):
				t.Fatalf("ply %d appended on handle %d: handle %d's watch not woken within %v", ply, writer, i, wakeDeadline)
			}
		}
	}
	// A watch of a game appended through a handle after the watch's
	// context ended takes nothing down with it.
	cancel()
	if err := hs[1].Append(t.Context(), State(id, 5, 0)); err != nil {
		t.Fatalf("Append after the watch ended: have %v, want nil", err)
	}
}

// drain empties the wake channels of what earlier appends left.
func drain(chs ...<-chan struct{}) {
	for _, ch := range chs {
		select {
		case <-ch:
		default:
		}
	}
}

func testHistoryPaging(t *testing.T, b *Backend) {
	const plies = 130
	hs := b.Handles(t, 2)
	ctx := t.Context()
	id := GameID("paging")
	create(t, hs[0], id)
	appendAll(t, hs, id, 1, plies)

	for _, tt := range []struct {
		name       string
		from       uint32
		limit      int
		first, end uint32 // plies first..end-1
	}{
		{"from 0 is from 1", 0, 10, 1, 11},
		{"first page", 1, 50, 1, 51},
		{"middle page", 51, 50, 51, 101},
		{"last, short page", 101, 50, 101, plies + 1},
		{"everything", 1, 1000, 1, plies + 1},
		{"one", 77, 1, 77, 78},
		{"the head", plies, 5, plies, plies + 1},
		{"past the head", plies + 1, 5, 0, 0},
		{"far past the head", 1 << 31, 5, 0, 0},
		{"limit 0", 1, 0, 0, 0},
		{"negative limit", 1, -1, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for i, s := range hs {
				recs, err := s.States(ctx, id, tt.from, tt.limit)
				if err != nil {
					t.Fatalf("handle %d: States(%d, %d): have %v, want nil", i, tt.from, tt.limit, err)
				}
				if len(recs) != int(tt.end-tt.first) {
					t.Fatalf("handle %d: States(%d, %d): have %d records, want %d", i, tt.from, tt.limit, len(recs), tt.end-tt.first)
				}
				for j, r := range recs {
					if want := State(id, tt.first+uint32(j), 0); !SameRecord(r, want) {
						t.Fatalf("handle %d: States(%d, %d)[%d]: have ply %d, want %d", i, tt.from, tt.limit, j, r.Ply(), want.Ply())
					}
				}
			}
		})
	}
	// Paging from the last ply plus one, as chess_history's callers do,
	// returns every state once.
	var next uint32 = 1
	for pages := 0; ; pages++ {
		recs, err := hs[pages%2].States(ctx, id, next, 32)
		if err != nil {
			t.Fatalf("page %d: have %v, want nil", pages, err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if r.Ply() != next {
				t.Fatalf("page %d: have ply %d, want %d", pages, r.Ply(), next)
			}
			next++
		}
	}
	if next != plies+1 {
		t.Fatalf("paging ended before ply %d, want after %d", next, plies)
	}
}

func testDurability(t *testing.T, b *Backend) {
	if !b.Durable {
		t.Skip("this store keeps nothing across a restart")
	}
	id := GameID("durable")
	s := b.Handle(t)
	g := create(t, s, id)
	appendAll(t, []bridge.Store{s}, id, 1, 3)
	b.CloseAll(t)

	s = b.Handle(t)
	ctx := t.Context()
	if got, err := s.Game(ctx, id); err != nil || !sameGame(got, g) {
		t.Fatalf("Game after reopening: have %+v, %v; want %+v", got, err, g)
	}
	checkHead(t, s, id, State(id, 3, 0))
	checkStates(t, s, id, []bridge.Record{State(id, 1, 0), State(id, 2, 0), State(id, 3, 0)})
	// The compare-and-set carries on from the stored head.
	if err := s.Append(ctx, State(id, 3, 1)); !errors.Is(err, bridge.ErrConflict) {
		t.Fatalf("Append over ply 3 after reopening: have %v, want ErrConflict", err)
	}
	if err := s.Append(ctx, State(id, 4, 0)); err != nil {
		t.Fatalf("Append(ply 4) after reopening: have %v, want nil", err)
	}
	b.CloseAll(t)
	checkHead(t, b.Handle(t), id, State(id, 4, 0))
}

func testOutOfRange(t *testing.T, b *Backend) {
	hs := b.Handles(t, 2)
	ctx := t.Context()
	id := GameID("out of range")
	create(t, hs[0], id)
	appendAll(t, hs, id, 1, 1)

	widest := State(id, 2, 0)
	widest.State.State.FEN = strings.Repeat("k", channel.MaxFENLength)
	widest.State.State.Move = strings.Repeat("q", channel.MaxMoveLength)
	for _, tt := range []struct {
		name string
		edit func(*bridge.Record)
	}{
		{"fen one byte over", func(r *bridge.Record) { r.State.State.FEN = strings.Repeat("k", channel.MaxFENLength+1) }},
		{"fen of a megabyte", func(r *bridge.Record) { r.State.State.FEN = strings.Repeat("k", 1<<20) }},
		{"move one byte over", func(r *bridge.Record) { r.State.State.Move = strings.Repeat("q", channel.MaxMoveLength+1) }},
		{"short signature", func(r *bridge.Record) { r.State.Signature = r.State.Signature[:channel.SignatureLength-1] }},
		{"long signature", func(r *bridge.Record) { r.State.Signature = append(r.State.Signature, 0) }},
		{"no signature", func(r *bridge.Record) { r.State.Signature = nil }},
		{"accepted at the zero time", func(r *bridge.Record) { r.Accepted = time.Time{} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := State(id, 2, 1)
			tt.edit(&rec)
			if err := hs[0].Append(ctx, rec); !errors.Is(err, bridge.ErrBadRecord) {
				t.Fatalf("Append: have %v, want ErrBadRecord", err)
			}
			checkHead(t, hs[1], id, State(id, 1, 0))
		})
	}
	t.Run("widest valid state", func(t *testing.T) {
		if err := hs[0].Append(ctx, widest); err != nil {
			t.Fatalf("Append: have %v, want nil", err)
		}
		checkHead(t, hs[1], id, widest)
	})

	for _, tt := range []struct {
		name  string
		stake *big.Int
	}{
		{"stake of 2^256", new(big.Int).Lsh(big.NewInt(1), 256)},
		{"stake of 2^4096", new(big.Int).Lsh(big.NewInt(1), 4096)},
		{"negative stake", big.NewInt(-1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := Game(GameID("out of range: " + tt.name))
			g.Stake = tt.stake
			if _, err := hs[0].CreateGame(ctx, g); !errors.Is(err, bridge.ErrBadRecord) {
				t.Fatalf("CreateGame: have %v, want ErrBadRecord", err)
			}
			if _, err := hs[1].Game(ctx, g.ID); !errors.Is(err, bridge.ErrNotFound) {
				t.Fatalf("Game after the refusal: have %v, want ErrNotFound", err)
			}
		})
	}
}

func testGamesApart(t *testing.T, b *Backend) {
	s := b.Handle(t)
	ctx := t.Context()
	a, c := GameID("apart a"), GameID("apart c")
	create(t, s, a)
	create(t, s, c)
	appendAll(t, []bridge.Store{s}, a, 1, 3)
	checkHead(t, s, c, bridge.Record{})
	if err := s.Append(ctx, State(c, 2, 0)); !errors.Is(err, bridge.ErrConflict) {
		t.Fatalf("Append(ply 2) to a game without states: have %v, want ErrConflict", err)
	}
	if err := s.Append(ctx, State(c, 1, 0)); err != nil {
		t.Fatalf("Append(ply 1): have %v, want nil", err)
	}
	checkStates(t, s, a, []bridge.Record{State(a, 1, 0), State(a, 2, 0), State(a, 3, 0)})
	checkStates(t, s, c, []bridge.Record{State(c, 1, 0)})
}
