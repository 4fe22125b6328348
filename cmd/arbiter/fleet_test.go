package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/jackc/pgx/v5"

	chesscontract "github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/offchain/bridge/storetest"
	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/client"
)

// TestMain stops the database servers the store tests may have started.
func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// scholarsMate is a game that ends in checkmate at white's fourth move.
var scholarsMate = []string{"e2e4", "e7e5", "f1c4", "b8c6", "d1h5", "g8f6", "h5f7"}

// whiteFirstMoves are the twenty legal first moves, for rival states at
// ply 1.
var whiteFirstMoves = []string{
	"a2a3", "a2a4", "b2b3", "b2b4", "c2c3", "c2c4", "d2d3", "d2d4", "e2e3", "e2e4",
	"f2f3", "f2f4", "g2g3", "g2g4", "h2h3", "h2h4", "b1a3", "b1c3", "g1f3", "g1h3",
}

// openOnChain has white open and black join a game with the given
// nonces, and returns its id.
func openOnChain(t *testing.T, ctx context.Context, ec *eventChain, white, black *ecdsa.PrivateKey, wn, bn uint64) common.Hash {
	t.Helper()
	stake := big.NewInt(1000)
	id := chesscontract.GameID(crypto.PubkeyToAddress(white.PublicKey), wn)
	if err := ec.call(ctx, white, wn, stake, "open", crypto.PubkeyToAddress(black.PublicKey), uint64(100)); err != nil {
		t.Fatalf("open: have %v, want nil", err)
	}
	if err := ec.call(ctx, black, bn, stake, "join", [32]byte(id)); err != nil {
		t.Fatalf("join: have %v, want nil", err)
	}
	return id
}

// dialBridge connects a bridge client, closed at the end of the test.
func dialBridge(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.Dial(url)
	if err != nil {
		t.Fatalf("dial %s: have %v, want nil", url, err)
	}
	t.Cleanup(c.Close)
	return c
}

// pushed waits for the next state a subscription pushes, failing after a
// deadline that catches a hang.
func pushed(t *testing.T, who string, ch <-chan channel.SignedState, errc <-chan error) channel.SignedState {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case err := <-errc:
		t.Fatalf("%s: subscription ended: %v", who, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: nothing pushed within 30s", who)
	}
	return channel.SignedState{}
}

// TestBridgeFleetPostgres runs two `arbiter bridge` processes on one
// PostgreSQL database against a live node. White plays through instance
// 1 and black through instance 2, each subscribed on their own instance:
// every move of a full game must reach both. Then 100 concurrent,
// conflicting submissions of one ply, split over both instances, must
// leave exactly one state accepted and stored.
func TestBridgeFleetPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dbURL := storetest.PostgresDB(t)
	bin := buildBinary(t)
	ec := startEventChain(t, 1)
	white, black := ec.pairs[0][0], ec.pairs[0][1]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var addrs [2]string
	var procs [2]*bridgeProc
	for i := range procs {
		addrs[i] = freeAddr(t)
		procs[i] = startBridgeListening(t, fmt.Sprintf("bridge %d", i+1), bin, "--node", ec.url, "--listen", addrs[i], "--store", dbURL)
	}
	defer func() {
		for i, p := range procs {
			if err := p.stop(syscall.SIGTERM); err != nil {
				t.Errorf("bridge %d: exit %v, want a clean stop", i+1, err)
			}
		}
	}()
	game := openOnChain(t, ctx, ec, white, black, 0, 0)
	race := openOnChain(t, ctx, ec, white, black, 1, 1)
	domain := channel.DefaultDomain(big.NewInt(bridgeTestChainID))

	t.Run("game across instances", func(t *testing.T) {
		onW := dialBridge(t, "ws://"+addrs[0]+"/ws")
		onB := dialBridge(t, "ws://"+addrs[1]+"/ws")
		if _, err := onW.OpenGame(ctx, game); err != nil {
			t.Fatalf("OpenGame on instance 1: have %v, want nil", err)
		}
		if g, err := onB.GetGame(ctx, game); err != nil || g.White != crypto.PubkeyToAddress(white.PublicKey) {
			t.Fatalf("GetGame on instance 2: have %+v, %v", g, err)
		}
		pushW, pushB := make(chan channel.SignedState, 16), make(chan channel.SignedState, 16)
		subW, err := onW.SubscribeMoves(ctx, game, pushW)
		if err != nil {
			t.Fatalf("subscribe on instance 1: have %v, want nil", err)
		}
		defer subW.Unsubscribe()
		subB, err := onB.SubscribeMoves(ctx, game, pushB)
		if err != nil {
			t.Fatalf("subscribe on instance 2: have %v, want nil", err)
		}
		defer subB.Unsubscribe()

		states, err := signedLine(domain, game, white, black, scholarsMate...)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range states {
			mover := onW
			if i%2 == 1 {
				mover = onB
			}
			if _, err := mover.SubmitMove(ctx, s); err != nil {
				t.Fatalf("SubmitMove(ply %d): have %v, want nil", s.State.Ply, err)
			}
			if got := pushed(t, "white on instance 1", pushW, subW.Err()); !sameState(got, s) {
				t.Fatalf("instance 1 pushed ply %d, want %d", got.State.Ply, s.State.Ply)
			}
			if got := pushed(t, "black on instance 2", pushB, subB.Err()); !sameState(got, s) {
				t.Fatalf("instance 2 pushed ply %d, want %d", got.State.Ply, s.State.Ply)
			}
		}
		if _, err := onB.BuildClaim(ctx, game, channel.ClaimCheckmate, crypto.PubkeyToAddress(white.PublicKey)); err != nil {
			t.Fatalf("BuildClaim(checkmate) on instance 2: have %v, want nil", err)
		}
	})

	t.Run("100 conflicting submissions", func(t *testing.T) {
		const submissions = 100
		rpcs := [2]*client.Client{dialBridge(t, "http://"+addrs[0]+"/rpc"), dialBridge(t, "http://"+addrs[1]+"/rpc")}
		if _, err := rpcs[1].OpenGame(ctx, race); err != nil {
			t.Fatalf("OpenGame: have %v, want nil", err)
		}
		candidates := make([]channel.SignedState, len(whiteFirstMoves))
		for i, m := range whiteFirstMoves {
			line, err := signedLine(domain, race, white, black, m)
			if err != nil {
				t.Fatal(err)
			}
			candidates[i] = line[0]
		}
		errs := make([]error, submissions)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range submissions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = rpcs[i%2].SubmitMove(ctx, candidates[i%len(candidates)])
			}()
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("submissions %d and %d both accepted", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, wire.ErrDuplicate) && !errors.Is(err, wire.ErrNotNext):
				t.Fatalf("submission %d: have %v, want accepted, duplicate or not-next", i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("no submission accepted")
		}
		won := candidates[winner%len(candidates)]
		for i, err := range errs {
			same := i%len(candidates) == winner%len(candidates)
			if err != nil && same != errors.Is(err, wire.ErrDuplicate) {
				t.Errorf("submission %d (the winner's state: %v): have %v", i, same, err)
			}
		}
		for i, c := range rpcs {
			hist, err := c.History(ctx, race, 0)
			if err != nil || len(hist) != 1 || !sameState(hist[0], won) {
				t.Fatalf("History on instance %d: have %d states, %v; want the winner only", i+1, len(hist), err)
			}
		}
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var rows int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM bridge_states WHERE game_id = $1`, race[:]).Scan(&rows); err != nil || rows != 1 {
			t.Fatalf("rows stored for the raced game: have %d, %v; want 1", rows, err)
		}
	})
}

func sameState(a, b channel.SignedState) bool {
	return a.State == b.State && string(a.Signature) == string(b.Signature)
}

// TestBridgeRefusesWithoutStore starts `arbiter bridge` on stores it
// cannot use: it must exit with an error naming the store, not serve.
func TestBridgeRefusesWithoutStore(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"no store at all", nil},
		{"bad URL", []string{"--store", "mysql://u@h/db"}},
		{"postgres unreachable", []string{"--store", "postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable", "--store-timeout", "20s"}},
		{"dynamodb unreachable", []string{"--store", "dynamodb://table?endpoint=http://127.0.0.1:1", "--store-timeout", "20s"}},
		{"watch without a data directory", []string{"--store", "memory:", "--watch", "--key", "k"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--node", "http://127.0.0.1:1", "--listen", freeAddr(t), "--log-level", "error"}, tt.args...)
			err := runBridge(args, os.Stdout)
			if err == nil {
				t.Fatalf("runBridge(%v): have nil, want an error", tt.args)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("runBridge: the error repeats the password: %v", err)
			}
		})
	}
}
