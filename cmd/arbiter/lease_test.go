package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/jackc/pgx/v5"

	chesscontract "github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/storetest"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/watcher"
)

// TestWatchtowerFailover runs two `arbiter bridge --watch` processes on
// one PostgreSQL database against a live node. Exactly one gains the
// watchtower lease. That one is frozen (SIGSTOP: it holds the lease but
// cannot act), a stale timeout claim lands on chain, and the frozen
// holder is killed with SIGKILL. The other must take the lease over,
// resume from the checkpoint in the database and refute the claim inside
// its window, with the watchtower's only transaction: the game ends with
// the claimant losing.
func TestWatchtowerFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dbURL := storetest.PostgresDB(t)
	bin := buildBinary(t)
	ec := startEventChain(t, 0)
	keyFile := filepath.Join(t.TempDir(), "tower.key")
	if err := crypto.SaveECDSA(keyFile, ec.tower); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var (
		addrs [2]string
		procs [2]*bridgeProc
	)
	for i := range procs {
		addrs[i] = freeAddr(t)
		procs[i] = startBridgeListening(t, fmt.Sprintf("bridge %d", i+1), bin, "--node", ec.url, "--listen", addrs[i], "--store", dbURL,
			"--watch", "--key", keyFile, "--poll", "50ms", "--log-level", "debug")
	}
	defer func() {
		for _, p := range procs {
			_ = p.stop(syscall.SIGKILL)
		}
	}()
	var leader, follower int
	select {
	case <-procs[0].leased:
		leader, follower = 0, 1
	case <-procs[1].leased:
		leader, follower = 1, 0
	case <-time.After(60 * time.Second):
		t.Fatalf("neither bridge gained the watchtower lease within 60s")
	}
	if len(procs[follower].leased) != 0 {
		t.Fatalf("both bridges gained the lease")
	}

	// A game played through the follower's bridge (the store is shared),
	// then the holder frozen: it keeps the lease but cannot refute.
	white, black := ec.claim[0], ec.claim[1]
	const moveTimeout = 100 // blocks: the claim's window
	id := chesscontract.GameID(crypto.PubkeyToAddress(white.PublicKey), 0)
	if err := ec.call(ctx, white, 0, nil, "open", crypto.PubkeyToAddress(black.PublicKey), uint64(moveTimeout)); err != nil {
		t.Fatalf("open: have %v, want nil", err)
	}
	if err := ec.call(ctx, black, 0, nil, "join", [32]byte(id)); err != nil {
		t.Fatalf("join: have %v, want nil", err)
	}
	c := dialBridge(t, "http://"+addrs[follower]+"/rpc")
	if _, err := c.OpenGame(ctx, id); err != nil {
		t.Fatalf("OpenGame: have %v, want nil", err)
	}
	domain := channel.DefaultDomain(big.NewInt(bridgeTestChainID))
	states, err := signedLine(domain, id, white, black, "g1f3", "g8f6", "f3g1", "f6g8", "b1c3")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if _, err := c.SubmitMove(ctx, s); err != nil {
			t.Fatalf("SubmitMove(ply %d): have %v, want nil", s.State.Ply, err)
		}
	}
	if err := procs[leader].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	base, last := states[1], states[2]
	if err := ec.call(ctx, white, 1, nil, "claim", [32]byte(id), channel.ClaimTimeout,
		stateTuple(base.State), base.Signature, stateTuple(last.State), last.Signature); err != nil {
		t.Fatalf("stale claim: have %v, want nil", err)
	}
	arb := bridge.NewChainArbiter(ec.client, chesscontract.Address)
	claimed, err := arb.Game(ctx, id)
	if err != nil || claimed.Status != channel.StatusClaimed {
		t.Fatalf("game after the claim: have %+v, %v; want claimed", claimed, err)
	}
	killed := time.Now()
	if err := procs[leader].stop(syscall.SIGKILL); err == nil {
		t.Fatalf("the killed holder exited cleanly")
	}
	select {
	case <-procs[follower].leased:
		t.Logf("lease taken over %v after the SIGKILL", time.Since(killed).Round(time.Millisecond))
	case <-procs[follower].exited:
		t.Fatalf("the follower exited")
	case <-time.After(60 * time.Second):
		t.Fatalf("the follower did not gain the lease within 60s of the holder's death")
	}

	var ended bridge.GameInfo
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if ended, err = arb.Game(ctx, id); err == nil && ended.Status == channel.StatusEnded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("game not ended within 2 minutes of the failover: have %+v, %v", ended, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a real node
	}
	t.Logf("game ended by the refute %v after the SIGKILL", time.Since(killed).Round(time.Millisecond))
	if ended.Result != channel.ResultBlackWins {
		t.Fatalf("result: have %d, want %d (the stale claimant loses)", ended.Result, channel.ResultBlackWins)
	}

	// The record in the shared database names the refute, the tower's
	// only transaction, mined inside the claim's window.
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var raw []byte
	if err := conn.QueryRow(ctx, `SELECT record FROM watcher_handled WHERE convert_from(record, 'UTF8')::jsonb->>'event' = $1`,
		channel.EventGameClaimed).Scan(&raw); err != nil {
		t.Fatalf("the claim's record: %v", err)
	}
	var rec watcher.Handled
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != watcher.OutcomeRefuted || rec.GameID != id {
		t.Fatalf("claim record: have %s on %s, want %s on %s", rec.Outcome, rec.GameID, watcher.OutcomeRefuted, id)
	}
	r := waitReceipt(t, ec.client, rec.Action)
	if r.Status != types.ReceiptStatusSuccessful || r.BlockNumber.Uint64() > claimed.Deadline {
		t.Fatalf("refute: status %d in block %d, want success by block %d", r.Status, r.BlockNumber, claimed.Deadline)
	}
	nonce, err := ec.client.NonceAt(ctx, crypto.PubkeyToAddress(ec.tower.PublicKey), nil)
	if err != nil || nonce != 1 {
		t.Fatalf("watchtower transactions: have %d, %v; want 1", nonce, err)
	}
}
