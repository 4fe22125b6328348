package demo

import (
	"context"
	"fmt"

	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/arbiter-chain/arbiter/internal/browsertest"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/client"
)

// served is the demo's network with the page served and dev-key vouching
// on, as arbiter demo --serve runs it, with a node connection for checks.
type served struct {
	n   *network
	eth *ethclient.Client
}

func startServed(t *testing.T) *served {
	t.Helper()
	dir := t.TempDir()
	logFile, err := os.Create(filepath.Join(dir, "demo.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				lines := strings.Split(string(b), "\n")
				t.Logf("last lines of the network's log:\n%s", strings.Join(lines[max(0, len(lines)-80):], "\n"))
			}
		}
	})
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := startNetwork(ctx, dir, genesis.EnginePoS, log, netOptions{vouch: true})
	if err != nil {
		t.Fatalf("start network: %v", err)
	}
	t.Cleanup(n.close)
	eth, err := ethclient.Dial(n.rpcURL(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eth.Close)
	return &served{n: n, eth: eth}
}

// person is one browser context playing through the page.
type person struct {
	name  string
	tab   context.Context
	close context.CancelFunc
	addr  common.Address
}

const describePage = `JSON.stringify({ply: document.body.dataset.ply, status: document.body.dataset.status, myturn: document.body.dataset.myturn,
  allowed: document.body.dataset.allowed, text: (document.getElementById('status')||{}).textContent, result: (document.getElementById('result')||{}).textContent,
  actions: [...document.querySelectorAll('#actions button')].map(b => b.id), toasts: [...document.querySelectorAll('#toasts li')].slice(0, 3).map(l => l.textContent)})`

// arrive opens the page in a fresh browser context and has the demo vouch
// for the page's development key.
func arrive(t *testing.T, b *browsertest.Browser, s *served, name string) *person {
	t.Helper()
	tab, closeTab := b.TabCancel(t)
	browsertest.Do(t, tab, chromedp.Navigate(s.n.pageURL))
	browsertest.WaitJS(t, tab, `document.body.dataset.allowed === 'false'`, browsertest.Timeout, describePage)
	browsertest.Click(t, tab, "#vouch")
	browsertest.WaitJS(t, tab, `document.body.dataset.allowed === 'true'`, browsertest.Timeout, describePage)
	p := &person{name: name, tab: tab, close: closeTab, addr: common.HexToAddress(browsertest.Eval[string](t, tab, `document.body.dataset.me`))}
	// The page reads its balance from the node the test reads: once it
	// shows the funds, the test sees them too.
	browsertest.WaitJS(t, tab, `document.getElementById('me-balance').textContent === '100 ether'`, browsertest.Timeout, describePage)
	t.Logf("%s plays as %s (a development key generated in the page)", name, p.addr)
	return p
}

// openAndJoin has white open a game against black with the page's form
// and black join it from the lobby; it returns the game id.
func openAndJoin(t *testing.T, white, black *person, moveTimeout int) common.Hash {
	t.Helper()
	browsertest.SetValue(t, white.tab, "#open-opponent", black.addr.Hex())
	browsertest.SetValue(t, white.tab, "#open-stake", "1")
	browsertest.SetValue(t, white.tab, "#open-timeout", fmt.Sprint(moveTimeout))
	browsertest.Click(t, white.tab, "#open-btn")
	browsertest.WaitJS(t, white.tab, `!!document.body.dataset.game`, browsertest.Timeout, describePage)
	id := common.HexToHash(browsertest.Eval[string](t, white.tab, `document.body.dataset.game`))
	join := fmt.Sprintf(`[data-join="%s"]`, strings.ToLower(id.Hex()))
	browsertest.WaitJS(t, black.tab, fmt.Sprintf(`!!document.querySelector('%s')`, join), browsertest.Timeout, describePage)
	browsertest.Click(t, black.tab, join)
	for _, p := range []*person{white, black} {
		browsertest.WaitJS(t, p.tab, fmt.Sprintf(`document.body.dataset.game === '%s' && document.body.dataset.status === '2'`, strings.ToLower(id.Hex())), browsertest.Timeout, describePage)
	}
	return id
}

// play makes moves alternately, white first from ply: the mover clicks the
// piece and then the target square, and both pages must show the new ply
// (the opponent's over the bridge's WebSocket).
func play(t *testing.T, white, black *person, ply int, moves ...string) {
	t.Helper()
	for _, m := range moves {
		mover := white
		if ply%2 == 1 {
			mover = black
		}
		browsertest.WaitJS(t, mover.tab, fmt.Sprintf(`document.body.dataset.ply === '%d' && document.body.dataset.myturn === 'true'`, ply), browsertest.Timeout, describePage)
		browsertest.Click(t, mover.tab, fmt.Sprintf(`[data-square="%s"]`, m[:2]))
		browsertest.Click(t, mover.tab, fmt.Sprintf(`[data-square="%s"]`, m[2:4]))
		ply++
		for _, p := range []*person{white, black} {
			browsertest.WaitJS(t, p.tab, fmt.Sprintf(`document.body.dataset.ply === '%d'`, ply), browsertest.Timeout, describePage)
		}
	}
}

func clickAction(t *testing.T, p *person, id string) {
	t.Helper()
	browsertest.WaitJS(t, p.tab, fmt.Sprintf(`!!document.getElementById('%s') && !document.getElementById('%s').disabled`, id, id), browsertest.Timeout, describePage)
	browsertest.Click(t, p.tab, "#"+id)
}

func (s *served) gameInfo(t *testing.T, id common.Hash) botInfo {
	t.Helper()
	b := &bot{p: &player{eth: s.eth}}
	info, err := b.game(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func (s *served) balance(t *testing.T, a common.Address) *big.Int {
	t.Helper()
	v, err := s.eth.BalanceAt(context.Background(), a, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkSignatures verifies every accepted state of the game with Go's
// channel.RecoverState: the page's EIP-712 hashing and signing must be
// the protocol's.
func checkSignatures(t *testing.T, s *served, id common.Hash, white, black common.Address, plies int) {
	t.Helper()
	c, err := client.Dial(s.n.bridgeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	states, err := c.History(context.Background(), id, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != plies {
		t.Fatalf("bridge history: have %d states, want %d", len(states), plies)
	}
	d := channel.DefaultDomain(s.n.chainID)
	for _, st := range states {
		signer, err := channel.RecoverState(d, st.State, st.Signature)
		want := white
		if st.State.Ply%2 == 0 {
			want = black
		}
		if err != nil || signer != want {
			t.Errorf("ply %d: RecoverState gives %s (%v), want %s", st.State.Ply, signer, err, want)
		}
	}
}

// TestBrowserGameToMate has two people, each in their own browser context
// with a development key the demo vouches for, open and join a game
// through the page and play the fool's mate by clicking squares. The
// winner claims checkmate from the page and finalizes after the window;
// the loser's page shows the result, and the chain shows the game ended,
// black winning, with the stake moved from white to black. The page's
// signatures are checked with Go's channel.RecoverState, a screenshot of
// the board mid-game is saved as chess-board.png, and the time from
// navigation to the first board drawn is logged.
func TestBrowserGameToMate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four nodes and a browser")
	}
	b := browsertest.New(t)
	s := startServed(t)
	white, black := arrive(t, b, s, "white"), arrive(t, b, s, "black")
	before := map[*person]*big.Int{white: s.balance(t, white.addr), black: s.balance(t, black.addr)}

	id := openAndJoin(t, white, black, 3)
	play(t, white, black, 0, "f2f3", "e7e5", "g2g4")
	browsertest.Screenshot(t, black.tab, "chess-board.png")

	play(t, white, black, 3, "d8h4")
	browsertest.WaitJS(t, white.tab, `document.getElementById('status').textContent.includes('Checkmate')`, browsertest.Timeout, describePage)
	clickAction(t, black, "act-claim-mate")
	browsertest.WaitJS(t, black.tab, `document.body.dataset.status === '3'`, browsertest.Timeout, describePage)
	clickAction(t, black, "act-finalize")
	for _, p := range []*person{white, black} {
		browsertest.WaitJS(t, p.tab, `document.body.dataset.status === '4' && document.getElementById('result').textContent.includes('Black wins')`, browsertest.Timeout, describePage)
	}
	// The reason comes from the GameEnded event, which the page may read a
	// refresh after the status: wait for it rather than read it once.
	browsertest.WaitJS(t, white.tab, `document.getElementById('result').textContent.includes('checkmate')`, browsertest.Timeout, describePage)

	info := s.gameInfo(t, id)
	if info.Status != channel.StatusEnded || info.Result != channel.ResultBlackWins {
		t.Fatalf("on chain: have status %d result %d, want %d and %d", info.Status, info.Result, channel.StatusEnded, channel.ResultBlackWins)
	}
	stake := big.NewInt(1e18)
	for p, delta := range map[*person]*big.Int{white: new(big.Int).Neg(stake), black: stake} {
		if got := new(big.Int).Sub(s.balance(t, p.addr), before[p]); got.Cmp(delta) != 0 {
			t.Errorf("%s's balance moved by %v wei, want %v", p.name, got, delta)
		}
	}
	checkSignatures(t, s, id, white.addr, black.addr, 4)

	// Someone opens the finished game from a link, the players' tabs
	// closed: how long from navigation to the board drawn?
	white.close()
	black.close()
	for i := range 3 {
		watcher := b.Tab(t)
		browsertest.Do(t, watcher, chromedp.Navigate(s.n.pageURL+"#game="+id.Hex()))
		browsertest.WaitJS(t, watcher, `window.arbiterFirstBoard !== undefined && document.querySelectorAll('[data-square]').length === 64`, browsertest.Timeout, describePage)
		first := browsertest.Eval[float64](t, watcher, `window.arbiterFirstBoard`)
		t.Logf("time to first board, load %d (navigation start to board drawn): %.0f ms; stages: %s", i+1, first, browsertest.Eval[string](t, watcher, `JSON.stringify(window.arbiterTimes)`))
	}
}

// TestBrowserStaleClaimRefuted has white keep a timeout claim built by the
// bridge on ply 1, play on to ply 3 and then send the kept (now stale)
// claim from the page. The watchtower holds white's ply 3 and refutes the
// claim; white's page shows the refutation, by the watchtower, and the
// result, and the chain shows black winning.
func TestBrowserStaleClaimRefuted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four nodes and a browser")
	}
	b := browsertest.New(t)
	s := startServed(t)
	white, black := arrive(t, b, s, "white"), arrive(t, b, s, "black")
	id := openAndJoin(t, white, black, 20)
	play(t, white, black, 0, "e2e4")
	clickAction(t, white, "act-save-claim")
	browsertest.WaitJS(t, white.tab, `!!document.getElementById('act-send-saved')`, browsertest.Timeout, describePage)
	play(t, white, black, 1, "e7e5", "g1f3")
	clickAction(t, white, "act-send-saved")
	browsertest.WaitJS(t, white.tab, `!!document.querySelector('#events [data-kind="refuted"][data-by="watchtower"]')`, browsertest.Timeout, describePage)
	browsertest.WaitJS(t, white.tab, `document.getElementById('result').textContent.includes('Black wins') && document.getElementById('result').textContent.includes('stale claim refuted')`, browsertest.Timeout, describePage)
	claimed := browsertest.Eval[string](t, white.tab, `document.querySelector('#events [data-kind="claimed"]').textContent`)
	if !strings.Contains(claimed, "resting on ply 1") || !strings.Contains(claimed, "by white") {
		t.Errorf("claim event on the page: have %q, want white's claim resting on ply 1", claimed)
	}
	info := s.gameInfo(t, id)
	if info.Status != channel.StatusEnded || info.Result != channel.ResultBlackWins {
		t.Fatalf("on chain: have status %d result %d, want %d and %d", info.Status, info.Result, channel.StatusEnded, channel.ResultBlackWins)
	}
	checkSignatures(t, s, id, white.addr, black.addr, 3)
}
