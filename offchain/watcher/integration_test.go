package watcher

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/arbiter-chain/arbiter/consensus/pow"
	chesscontract "github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/node"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

const nodeChainID = 9393

// liveChain is an in-process member node mining PoW blocks of difficulty
// 1 with the membership and chess contracts, and a client of its RPC.
type liveChain struct {
	tb     testing.TB
	client *ethclient.Client
	signer types.Signer
}

// startChain starts a node whose members are the given keys plus a miner.
func startChain(tb testing.TB, members ...*ecdsa.PrivateKey) *liveChain {
	tb.Helper()
	g := &genesis.Genesis{
		ChainID: nodeChainID, Engine: genesis.EnginePoW,
		PoW:       &pow.Config{MinDifficulty: 1, InitialDifficulty: 1},
		BlockTime: genesis.Duration(time.Second), GasLimit: 30_000_000,
		Alloc:     map[common.Address]genesis.Account{},
		Contracts: []string{"membership", "chess"},
	}
	miner := testKey("miner")
	fund := (*math.HexOrDecimal256)(new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18)))
	for i, k := range append([]*ecdsa.PrivateKey{miner}, members...) {
		g.Members = append(g.Members, genesis.Member{Address: addrOf(k), Name: fmt.Sprint(i)})
		g.Alloc[addrOf(k)] = genesis.Account{Balance: fund}
	}
	dir := filepath.Join(tb.TempDir(), "node")
	if _, err := node.Init(dir, g); err != nil {
		tb.Fatalf("node.Init: have %v, want nil", err)
	}
	n, err := node.New(node.Config{DataDir: dir, Key: miner, RPCAddr: "127.0.0.1:0", Mine: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	requireNoErr(tb, "node.New", err)
	requireNoErr(tb, "node.Start", n.Start())
	tb.Cleanup(func() { n.Close() })
	c, err := ethclient.Dial("http://" + n.RPCAddr().String())
	requireNoErr(tb, "Dial", err)
	tb.Cleanup(c.Close)
	return &liveChain{tb: tb, client: c, signer: types.LatestSignerForChainID(big.NewInt(nodeChainID))}
}

// send calls the arbiter from key with value and waits for the receipt,
// failing unless it succeeded.
func (lc *liveChain) send(ctx context.Context, key *ecdsa.PrivateKey, value *big.Int, method string, args ...any) *types.Receipt {
	lc.tb.Helper()
	a, err := channel.ArbiterABI()
	requireNoErr(lc.tb, "ArbiterABI", err)
	data, err := a.Pack(method, args...)
	requireNoErr(lc.tb, "pack "+method, err)
	nonce, err := lc.client.PendingNonceAt(ctx, addrOf(key))
	requireNoErr(lc.tb, "PendingNonceAt", err)
	to := chesscontract.Address
	tx := types.MustSignNewTx(key, lc.signer, &types.LegacyTx{Nonce: nonce, To: &to, Value: value, Gas: 2_000_000, GasPrice: big.NewInt(1e9), Data: data})
	requireNoErr(lc.tb, "send "+method, lc.client.SendTransaction(ctx, tx))
	r := lc.receipt(ctx, tx.Hash())
	if r.Status != types.ReceiptStatusSuccessful {
		_, err := lc.client.CallContract(ctx, ethereum.CallMsg{From: addrOf(key), To: &to, Value: value, Data: data}, nil)
		lc.tb.Fatalf("%s: status %d (%v)", method, r.Status, err)
	}
	return r
}

// receipt polls for a transaction's receipt until a deadline: the node
// mines on its own schedule.
func (lc *liveChain) receipt(ctx context.Context, h common.Hash) *types.Receipt {
	lc.tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := lc.client.TransactionReceipt(ctx, h)
		if err == nil && r != nil {
			return r
		}
		if time.Now().After(deadline) {
			lc.tb.Fatalf("no receipt for %s within 30s: %v", h, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a real node
	}
}

// game returns the arbiter's view of a game.
func (lc *liveChain) game(ctx context.Context, id common.Hash) bridge.GameInfo {
	lc.tb.Helper()
	info, err := bridge.NewChainArbiter(lc.client, chesscontract.Address).Game(ctx, id)
	requireNoErr(lc.tb, "game view", err)
	return info
}

// waitStatus polls the arbiter until the game reaches status, failing
// after a deadline.
func (lc *liveChain) waitStatus(ctx context.Context, id common.Hash, status uint8) bridge.GameInfo {
	lc.tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info := lc.game(ctx, id)
		if info.Status == status {
			return info
		}
		if time.Now().After(deadline) {
			lc.tb.Fatalf("game %s: status %d after 30s, want %d", id, info.Status, status)
		}
		time.Sleep(20 * time.Millisecond) // polling a real node
	}
}

// TestWatchtowerOnChain runs the watcher against a live node with the real
// chess arbiter. Two games are opened and joined by transactions and
// played into the bridge's store. In the first, white claims a timeout on
// a stale state (ply 3, having signed ply 5): the watchtower refutes it
// and white forfeits. In the second, white claims a timeout at ply 3
// while the store holds black's ply 4: the watchtower answers it and the
// game is active again.
func TestWatchtowerOnChain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a node")
	}
	white, black, tower := testKey("white"), testKey("black"), testKey("tower")
	lc := startChain(t, white, black, tower)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	store := bridge.NewMemStore()
	br, err := bridge.New(bridge.Config{}, store, bridge.NewChainArbiter(lc.client, chesscontract.Address))
	requireNoErr(t, "bridge.New", err)
	defer br.Close()
	domain := channel.DefaultDomain(big.NewInt(nodeChainID))
	e := &env{tb: t, domain: domain, white: white, black: black}

	stake := big.NewInt(1e18)
	open := func() common.Hash {
		t.Helper()
		nonce, err := lc.client.PendingNonceAt(ctx, addrOf(white))
		requireNoErr(t, "nonce", err)
		lc.send(ctx, white, stake, "open", addrOf(black), uint64(chesscontract.MaxMoveTimeout))
		id := chesscontract.GameID(addrOf(white), nonce)
		lc.send(ctx, black, stake, "join", [32]byte(id))
		_, err = br.OpenGame(ctx, bridge.OpenGameRequest{GameID: id})
		requireNoErr(t, "OpenGame", err)
		return id
	}
	play := func(id common.Hash, n int) []channel.SignedState {
		t.Helper()
		states := e.play(channel.StartState(id), shuffle(n)...)
		for _, s := range states {
			_, err := br.SubmitMove(ctx, bridge.SubmitMoveRequest{State: s})
			requireNoErr(t, "SubmitMove", err)
		}
		return states
	}
	stale, answered := open(), open()
	s1 := play(stale, 5)
	s2 := play(answered, 4)

	db, err := OpenInMemory()
	requireNoErr(t, "OpenInMemory", err)
	defer db.Close()
	notes := NewMemNotifier()
	w, err := New(Config{Key: tower, PollInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, db, lc.client, store, notes)
	requireNoErr(t, "New", err)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() {
		stop()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run: have %v, want %v", err, context.Canceled)
		}
	}()

	lc.send(ctx, white, nil, "claim", [32]byte(stale), channel.ClaimTimeout, channel.NewABIState(s1[1].State), s1[1].Signature, channel.NewABIState(s1[2].State), s1[2].Signature)
	if info := lc.waitStatus(ctx, stale, channel.StatusEnded); info.Result != channel.ResultBlackWins {
		t.Fatalf("stale claim: result %d, want %d (black wins)", info.Result, channel.ResultBlackWins)
	}
	lc.send(ctx, white, nil, "claim", [32]byte(answered), channel.ClaimTimeout, channel.NewABIState(s2[1].State), s2[1].Signature, channel.NewABIState(s2[2].State), s2[2].Signature)
	lc.waitStatus(ctx, answered, channel.StatusClaimed)
	lc.waitStatus(ctx, answered, channel.StatusActive)

	// The watcher records every arbiter log up to its checkpoint once.
	deadline := time.Now().Add(30 * time.Second)
	for {
		cp, err := w.Checkpoint()
		requireNoErr(t, "Checkpoint", err)
		logs, err := lc.client.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(0), ToBlock: new(big.Int).SetUint64(cp.Block - 1), Addresses: []common.Address{chesscontract.Address}})
		requireNoErr(t, "FilterLogs", err)
		recs, err := db.Handled()
		requireNoErr(t, "Handled", err)
		if len(logs) == 8 && len(recs) == len(logs) { // 2 x (opened, joined, claimed) + ended + answered
			for i, l := range logs {
				if recs[i].BlockHash != l.BlockHash || recs[i].Index != l.Index || recs[i].Seq != uint64(i+1) {
					t.Fatalf("record %d: have %+v, want log %d/%d", i, recs[i], l.BlockNumber, l.Index)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %d records for %d logs, want 8 and 8", len(recs), len(logs))
		}
		time.Sleep(20 * time.Millisecond) // polling a real node
	}
	got := map[common.Hash]string{}
	for _, n := range notes.Notifications() {
		if n.Player != addrOf(black) {
			t.Fatalf("notification to %s, want black %s", n.Player, addrOf(black))
		}
		got[n.GameID] = n.Event
	}
	if got[stale] != NoticeRefuted || got[answered] != NoticeAnswered {
		t.Fatalf("notifications: have %v, want %s for the stale claim and %s for the timeout", got, NoticeRefuted, NoticeAnswered)
	}
}
