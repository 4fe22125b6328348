package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/arbiter-chain/arbiter/consensus/pow"
	chesscontract "github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/node"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
	"github.com/arbiter-chain/arbiter/offchain/client"
	"github.com/arbiter-chain/arbiter/offchain/watcher"
)

const bridgeTestChainID = 4711

func bridgeTestKey(label string) *ecdsa.PrivateKey {
	k, _ := crypto.ToECDSA(crypto.Keccak256([]byte("bridge test " + label)))
	return k
}

// eventChain is an in-process member node mining PoW blocks of difficulty
// 1 with the chess arbiter, whose players generate arbiter events.
type eventChain struct {
	url    string
	client *ethclient.Client
	abi    abi.ABI
	signer types.Signer
	tower  *ecdsa.PrivateKey
	pairs  [][2]*ecdsa.PrivateKey // white, black
	claim  [2]*ecdsa.PrivateKey   // the pair whose games end in stale claims
}

func startEventChain(t *testing.T, pairs int) *eventChain {
	t.Helper()
	g := &genesis.Genesis{
		ChainID: bridgeTestChainID, Engine: genesis.EnginePoW,
		PoW:       &pow.Config{MinDifficulty: 1, InitialDifficulty: 1},
		BlockTime: genesis.Duration(time.Second), GasLimit: 30_000_000,
		Alloc:     map[common.Address]genesis.Account{},
		Contracts: []string{"membership", "chess"},
	}
	ec := &eventChain{tower: bridgeTestKey("tower"), signer: types.LatestSignerForChainID(big.NewInt(bridgeTestChainID))}
	miner := bridgeTestKey("miner")
	ec.claim = [2]*ecdsa.PrivateKey{bridgeTestKey("claim white"), bridgeTestKey("claim black")}
	keys := []*ecdsa.PrivateKey{miner, ec.tower, ec.claim[0], ec.claim[1]}
	for i := range pairs {
		p := [2]*ecdsa.PrivateKey{bridgeTestKey(fmt.Sprint("white ", i)), bridgeTestKey(fmt.Sprint("black ", i))}
		ec.pairs = append(ec.pairs, p)
		keys = append(keys, p[0], p[1])
	}
	for i, k := range keys {
		a := crypto.PubkeyToAddress(k.PublicKey)
		g.Members = append(g.Members, genesis.Member{Address: a, Name: fmt.Sprint(i)})
		g.Alloc[a] = genesis.Account{Balance: (*math.HexOrDecimal256)(new(big.Int).Lsh(big.NewInt(1), 100))}
	}
	dir := filepath.Join(t.TempDir(), "node")
	if _, err := node.Init(dir, g); err != nil {
		t.Fatalf("node.Init: have %v, want nil", err)
	}
	n, err := node.New(node.Config{DataDir: dir, Key: miner, RPCAddr: "127.0.0.1:0", Mine: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("node.New: have %v, want nil", err)
	}
	if err := n.Start(); err != nil {
		t.Fatalf("node.Start: have %v, want nil", err)
	}
	t.Cleanup(func() { n.Close() })
	ec.url = "http://" + n.RPCAddr().String()
	if ec.client, err = ethclient.Dial(ec.url); err != nil {
		t.Fatalf("dial: have %v, want nil", err)
	}
	t.Cleanup(ec.client.Close)
	if ec.abi, err = channel.ArbiterABI(); err != nil {
		t.Fatalf("ArbiterABI: have %v, want nil", err)
	}
	return ec
}

// call sends a call of the arbiter with the given nonce and waits for its
// receipt, polling the node (which mines on its own schedule).
func (ec *eventChain) call(ctx context.Context, key *ecdsa.PrivateKey, nonce uint64, value *big.Int, method string, args ...any) error {
	data, err := ec.abi.Pack(method, args...)
	if err != nil {
		return err
	}
	return ec.send(ctx, key, nonce, value, chesscontract.Address, method, data)
}

// send sends a transaction of data to to with the given nonce and waits
// for a successful receipt; what names it in errors.
func (ec *eventChain) send(ctx context.Context, key *ecdsa.PrivateKey, nonce uint64, value *big.Int, to common.Address, what string, data []byte) error {
	method := what
	tx := types.MustSignNewTx(key, ec.signer, &types.LegacyTx{Nonce: nonce, To: &to, Value: value, Gas: 1_000_000, GasPrice: big.NewInt(1e9), Data: data})
	if err := ec.client.SendTransaction(ctx, tx); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	for {
		r, err := ec.client.TransactionReceipt(ctx, tx.Hash())
		if err == nil && r != nil {
			if r.Status != types.ReceiptStatusSuccessful {
				return fmt.Errorf("%s: status %d", method, r.Status)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// generate has every pair open, join and resign games until ctx is done:
// three arbiter events per game.
func (ec *eventChain) generate(ctx context.Context, t *testing.T) *sync.WaitGroup {
	var wg sync.WaitGroup
	stake := big.NewInt(1000)
	for _, p := range ec.pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			white, black := p[0], p[1]
			var wn, bn uint64 // nonces: each account sends only from here
			for ctx.Err() == nil {
				id := chesscontract.GameID(crypto.PubkeyToAddress(white.PublicKey), wn)
				steps := []func() error{
					func() error {
						return ec.call(ctx, white, wn, stake, "open", crypto.PubkeyToAddress(black.PublicKey), uint64(100))
					},
					func() error { return ec.call(ctx, black, bn, stake, "join", [32]byte(id)) },
					func() error { return ec.call(ctx, black, bn+1, nil, "resign", [32]byte(id)) },
				}
				for _, step := range steps {
					if err := step(); err != nil {
						if ctx.Err() == nil {
							t.Errorf("generator: %v", err)
						}
						return
					}
				}
				wn, bn = wn+1, bn+2
			}
		}()
	}
	return &wg
}

// claimer has a pair play games through the bridge and make stale claims
// the watchtower must refute: open and join a game, submit plies 1 to 5
// to the bridge (retrying while the bridge is down), then white claims a
// timeout on its ply 3. It waits for the game to end before the next one
// and returns the number of claims made.
func (ec *eventChain) claimer(ctx context.Context, t *testing.T, bridgeURL string, white, black *ecdsa.PrivateKey) int {
	c, err := client.Dial(bridgeURL)
	if err != nil {
		t.Errorf("claimer: dial: %v", err)
		return 0
	}
	defer c.Close()
	arb := bridge.NewChainArbiter(ec.client, chesscontract.Address)
	domain := channel.DefaultDomain(big.NewInt(bridgeTestChainID))
	// retry runs fn until it succeeds or ctx is done: the bridge is killed
	// and restarted under the claimer's feet.
	retry := func(fn func() error) bool {
		for ctx.Err() == nil {
			if err := fn(); err == nil {
				return true
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
		return false
	}
	var wn, bn uint64
	claims := 0
	for ctx.Err() == nil {
		id := chesscontract.GameID(crypto.PubkeyToAddress(white.PublicKey), wn)
		if err := ec.call(ctx, white, wn, nil, "open", crypto.PubkeyToAddress(black.PublicKey), uint64(chesscontract.MaxMoveTimeout)); err != nil {
			return claims
		}
		if err := ec.call(ctx, black, bn, nil, "join", [32]byte(id)); err != nil {
			return claims
		}
		if !retry(func() error { _, err := c.OpenGame(ctx, id); return err }) {
			return claims
		}
		states, err := signedLine(domain, id, white, black, "g1f3", "g8f6", "f3g1", "f6g8", "b1c3")
		if err != nil {
			t.Errorf("claimer: %v", err)
			return claims
		}
		for _, st := range states {
			ok := retry(func() error {
				_, err := c.SubmitMove(ctx, st)
				if errors.Is(err, wire.ErrDuplicate) {
					return nil // stored before a kill
				}
				return err
			})
			if !ok {
				return claims
			}
		}
		base, last := states[1], states[2]
		err = ec.call(ctx, white, wn+1, nil, "claim", [32]byte(id), channel.ClaimTimeout,
			stateTuple(base.State), base.Signature, stateTuple(last.State), last.Signature)
		if err != nil {
			return claims
		}
		claims++
		ended := retry(func() error {
			info, err := arb.Game(ctx, id)
			if err == nil && info.Status != channel.StatusEnded {
				err = errors.New("not ended")
			}
			return err
		})
		if !ended {
			return claims
		}
		wn, bn = wn+2, bn+1
	}
	return claims
}

// abiState is the arbiter's ABI State tuple.
type abiState struct {
	GameId   [32]byte //nolint:revive // must match the ABI name gameId
	Ply      uint32
	Fen      string
	Move     string
	PrevHash [32]byte
}

func stateTuple(s channel.State) abiState {
	return abiState{GameId: s.GameID, Ply: s.Ply, Fen: s.FEN, Move: s.Move, PrevHash: s.PrevHash}
}

// signedLine returns the states of moves from the start of game id, each
// signed by the player who made it.
func signedLine(d channel.Domain, id common.Hash, white, black *ecdsa.PrivateKey, moves ...string) ([]channel.SignedState, error) {
	prev := channel.StartState(id)
	var out []channel.SignedState
	for _, m := range moves {
		pos, err := chessrules.ParseFEN(prev.FEN)
		if err != nil {
			return nil, err
		}
		after, err := chessrules.ApplyUCI(pos, m)
		if err != nil {
			return nil, err
		}
		next := channel.State{GameID: id, Ply: prev.Ply + 1, FEN: after.FEN(), Move: m, PrevHash: prev.StructHash()}
		key := white
		if next.Ply%2 == 0 {
			key = black
		}
		sig, err := channel.SignState(d, next, key)
		if err != nil {
			return nil, err
		}
		out = append(out, channel.SignedState{State: next, Signature: sig})
		prev = next
	}
	return out, nil
}

// logPos names an arbiter log by block number and index.
type logPos struct {
	block uint64
	index uint
}

var (
	handledLine   = regexp.MustCompile(`msg="watcher handled event" block=(\d+) index=(\d+)`)
	progressLine  = regexp.MustCompile(`msg="watcher progress" block=(\d+)`)
	listeningLine = regexp.MustCompile(`msg="bridge listening" addr=(\S+)`)
	leaseLine     = regexp.MustCompile(`msg="lease gained"`)
	problemLine   = regexp.MustCompile(`level=(WARN|ERROR)`)
)

// bridgeProc is a running `arbiter bridge`; a goroutine reads its log and
// sends what it reports on the channels, which are buffered well beyond
// what a test run produces so the process never blocks on its stderr.
type bridgeProc struct {
	cmd       *exec.Cmd
	handled   chan logPos
	progress  chan uint64
	listening chan string
	leased    chan struct{} // a value each time it gains the watchtower lease
	exited    chan struct{} // closed when its stderr is closed
}

// startBridgeListening starts `arbiter bridge` with args (startBridge) and
// waits for its "bridge listening" line, failing the test if it exits
// first or stays silent for a minute. name says which bridge in failures.
func startBridgeListening(t *testing.T, name, bin string, args ...string) *bridgeProc {
	t.Helper()
	p := startBridge(t, bin, args...)
	select {
	case <-p.listening:
	case <-p.exited:
		t.Fatalf("%s exited while starting", name)
	case <-time.After(60 * time.Second):
		p.stop(syscall.SIGKILL)
		t.Fatalf("%s: no \"bridge listening\" within 60s", name)
	}
	return p
}

func startBridge(t *testing.T, bin string, args ...string) *bridgeProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"bridge"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &bridgeProc{cmd: cmd, handled: make(chan logPos, 1<<16), progress: make(chan uint64, 1<<16),
		listening: make(chan string, 1), leased: make(chan struct{}, 16), exited: make(chan struct{})}
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if m := handledLine.FindStringSubmatch(line); m != nil {
				b, _ := strconv.ParseUint(m[1], 10, 64)
				i, _ := strconv.ParseUint(m[2], 10, 32)
				p.handled <- logPos{b, uint(i)}
			} else if m := progressLine.FindStringSubmatch(line); m != nil {
				b, _ := strconv.ParseUint(m[1], 10, 64)
				p.progress <- b
			} else if m := listeningLine.FindStringSubmatch(line); m != nil {
				p.listening <- m[1]
			} else if leaseLine.MatchString(line) {
				p.leased <- struct{}{}
			} else if problemLine.MatchString(line) {
				t.Logf("bridge: %s", line)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	return p
}

// stop signals the process, waits for it and its log reader, and returns
// its exit error.
func (p *bridgeProc) stop(sig syscall.Signal) error {
	_ = p.cmd.Process.Signal(sig)
	<-p.exited
	return p.cmd.Wait()
}

// TestWatcherResumesAfterKill runs `arbiter bridge --watch` against a live
// node while players open, join and resign games, kills it with SIGKILL
// at random moments at least five times and restarts it on the same data
// directory. At the end the watcher's records must be exactly the arbiter
// logs on chain up to its checkpoint, each recorded once, and no event may
// have been reported handled twice across the runs.
func TestWatcherResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	bin := buildBinary(t)
	ec := startEventChain(t, 4)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "tower.key")
	if err := crypto.SaveECDSA(keyFile, ec.tower); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "bridge")
	listen := freeAddr(t)
	args := []string{"--node", ec.url, "--listen", listen, "--datadir", dataDir, "--key", keyFile,
		"--watch", "--poll", "50ms", "--log-level", "debug"}

	ctx, stopGen := context.WithCancel(context.Background())
	defer stopGen()
	gen := ec.generate(ctx, t)
	claims := make(chan int, 1)
	go func() { claims <- ec.claimer(ctx, t, "http://"+listen+"/rpc", ec.claim[0], ec.claim[1]) }()

	const minKills = 6
	rng := rand.New(rand.NewPCG(3, 4))
	reported := map[logPos]int{} // "watcher handled event" lines, across runs
	for kill := 1; kill <= minKills; kill++ {
		p := startBridge(t, bin, args...)
		select {
		case addr := <-p.listening:
			if addr != listen {
				p.stop(syscall.SIGKILL)
				t.Fatalf("run %d: listening on %s, want %s", kill, addr, listen)
			}
		case <-time.After(30 * time.Second):
			p.stop(syscall.SIGKILL)
			t.Fatalf("run %d: no \"bridge listening\" within 30s", kill)
		}
		select {
		case pos := <-p.handled:
			reported[pos]++
		case <-time.After(60 * time.Second):
			p.stop(syscall.SIGKILL)
			t.Fatalf("run %d: no event handled within 60s", kill)
		}
		deadline := time.After(time.Duration(rng.IntN(400)) * time.Millisecond)
	wait:
		for {
			select {
			case pos := <-p.handled:
				reported[pos]++
			case <-deadline:
				break wait
			}
		}
		p.stop(syscall.SIGKILL)
		close(p.handled)
		for pos := range p.handled { // reported before the kill
			reported[pos]++
		}
		t.Logf("kill %d: %d events reported handled so far", kill, len(reported))
	}
	stopGen()
	gen.Wait()
	claimed := <-claims

	// A last run catches up with the chain and stops cleanly.
	head, err := ec.client.BlockNumber(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := startBridge(t, bin, args...)
	timeout := time.After(60 * time.Second)
	for caughtUp := false; !caughtUp; {
		select {
		case pos := <-p.handled:
			reported[pos]++
		case b := <-p.progress:
			caughtUp = b >= head
		case <-timeout:
			p.stop(syscall.SIGKILL)
			t.Fatalf("final run did not reach block %d within 60s", head)
		}
	}
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("final run: exit %v, want a clean stop", err)
	}
	close(p.handled)
	for pos := range p.handled {
		reported[pos]++
	}

	snap, err := watcher.ReadSnapshot(filepath.Join(dataDir, "watcher"))
	if err != nil {
		t.Fatalf("ReadSnapshot: have %v, want nil", err)
	}
	var onChain []logPos
	for from := uint64(0); from < snap.Checkpoint.Block; from += 5000 {
		to := min(from+4999, snap.Checkpoint.Block-1)
		logs, err := ec.client.FilterLogs(context.Background(), ethereum.FilterQuery{
			FromBlock: new(big.Int).SetUint64(from), ToBlock: new(big.Int).SetUint64(to),
			Addresses: []common.Address{chesscontract.Address},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range logs {
			onChain = append(onChain, logPos{l.BlockNumber, l.Index})
		}
	}
	recorded := make([]logPos, len(snap.Handled))
	for i, h := range snap.Handled {
		recorded[i] = logPos{h.Block, h.Index}
		if h.Seq != uint64(i+1) {
			t.Fatalf("record %d: seq %d, want %d (a record was written twice)", i, h.Seq, i+1)
		}
		if h.Outcome == watcher.OutcomeQuarantined {
			t.Fatalf("record %d quarantined: %s", i, h.Detail)
		}
	}
	if !slices.Equal(recorded, onChain) {
		t.Fatalf("records differ from the chain's logs: have %d, want %d\nhave %v\nwant %v", len(recorded), len(onChain), recorded, onChain)
	}
	if snap.Sequence != uint64(len(recorded)) {
		t.Fatalf("sequence: have %d, want %d", snap.Sequence, len(recorded))
	}
	for pos, n := range reported {
		if n > 1 {
			t.Fatalf("event %d/%d reported handled %d times", pos.block, pos.index, n)
		}
		if !slices.Contains(recorded, pos) {
			t.Fatalf("event %d/%d reported handled but not recorded", pos.block, pos.index)
		}
	}
	// Every stale claim was refuted by exactly one transaction of the
	// watchtower, whatever the kills interrupted.
	var refutes []common.Hash
	for _, h := range snap.Handled {
		if h.Event != channel.EventGameClaimed {
			continue
		}
		if h.Outcome != watcher.OutcomeRefuted {
			t.Fatalf("claim in block %d: outcome %s (%s), want %s", h.Block, h.Outcome, h.Detail, watcher.OutcomeRefuted)
		}
		refutes = append(refutes, h.Action)
	}
	if len(refutes) < claimed || claimed == 0 {
		t.Fatalf("claims: %d recorded, %d made; want every claim recorded and at least one", len(refutes), claimed)
	}
	towerNonce, err := ec.client.PendingNonceAt(context.Background(), crypto.PubkeyToAddress(ec.tower.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if towerNonce != uint64(len(refutes)) {
		t.Fatalf("watchtower sent %d transactions for %d claims, want one each", towerNonce, len(refutes))
	}
	for _, h := range refutes {
		if r := waitReceipt(t, ec.client, h); r.Status != types.ReceiptStatusSuccessful {
			t.Fatalf("refute %s: status %d", h, r.Status)
		}
	}
	if len(onChain) < 3*len(ec.pairs) {
		t.Fatalf("only %d arbiter events on chain: the generator did not run", len(onChain))
	}
	t.Logf("%d arbiter events up to block %d recorded exactly once over %d kills; %d stale claims refuted once each", len(onChain), snap.Checkpoint.Block-1, minKills, len(refutes))
}

// TestBridgeColdStart measures `arbiter bridge` from process start to its
// first answered GET /healthz, over ten runs on fresh data directories,
// and logs the median.
func TestBridgeColdStart(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	bin := buildBinary(t)
	const runs = 10
	var took []time.Duration
	for range runs {
		took = append(took, coldStart(t, bin))
	}
	slices.Sort(took)
	t.Logf("bridge cold start, process start to first /healthz answer, %d runs: median %v (min %v, max %v)",
		runs, took[runs/2], took[0], took[runs-1])
}

// waitReceipt polls for a receipt until a deadline.
func waitReceipt(t *testing.T, c *ethclient.Client, h common.Hash) *types.Receipt {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if r, err := c.TransactionReceipt(context.Background(), h); err == nil && r != nil {
			return r
		}
		time.Sleep(10 * time.Millisecond) // polling a real node
	}
	t.Fatalf("no receipt for %s within 30s", h)
	return nil
}

// coldStart starts the bridge on a free port and polls /healthz until it
// answers.
func coldStart(t *testing.T, bin string) time.Duration {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, "bridge", "--node", "http://127.0.0.1:1", "--listen", addr, "--datadir", t.TempDir(), "--log-level", "warn")
	client := &http.Client{Timeout: time.Second}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	waitReady(t, "bridge on "+addr, 10*time.Second, time.Millisecond, nil, func() bool {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return time.Since(start)
}
