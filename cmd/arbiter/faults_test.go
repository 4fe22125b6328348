package main

import (
	"context"
	"crypto/ecdsa"
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/arbiter-chain/arbiter/node"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/p2p"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

var (
	faultsDuration = flag.Duration("faults.duration", 3*time.Minute,
		"how long TestFaultInjection keeps injecting faults (each kind runs at least once)")
	faultsSeed = flag.Uint64("faults.seed", 0, "seed of TestFaultInjection's schedule (0: a new one, logged)")
)

const (
	// faultBlockTime is the block time of the fault test's network.
	faultBlockTime = 500 * time.Millisecond
	// faultRecoveryBound is how soon after a heal every live node must
	// have finalized a height that no node had finalized at the heal.
	faultRecoveryBound = 10 * time.Second
	// faultStuckBound is when the test gives up waiting for a recovery.
	faultStuckBound = 60 * time.Second
	// faultCIEnv set to 1 makes missing tools a failure, not a skip.
	faultCIEnv = "ARBITER_CI"
	// faultReportEnv names a file to write the report to (.json for
	// JSON, anything else for markdown).
	faultReportEnv = "ARBITER_FAULTS_REPORT"
	faultP2PPort   = 30301
	faultRPCPort   = 8545
	faultMembers   = 4
)

// TestFaultInjection runs a four-validator proof-of-stake network as real
// `arbiter node` processes, each in its own network namespace, while a
// client sends transfers and plays chess games through an `arbiter bridge`
// process, and injects faults one after another: kill -9 of one node and
// of two, SIGSTOP, an isolated node, a 2+2 partition, two halves linked by
// one pair only, packet loss and a bandwidth cap on one node, and a node
// whose clock is skewed. It checks that no two nodes ever report different
// blocks final at one height (sampling "finalized" throughout and
// comparing every canonical height up to each node's final one), that
// without a quorum nothing is decided and with one finality goes on, that
// after every heal each node finalizes a new height within 10 s, and that
// every transaction whose receipt the client saw is in every node's final
// chain exactly once, in the block the receipt named.
//
// It needs root, ip, tc and iptables (.ci/faults-deps installs them);
// without them it skips, or fails when ARBITER_CI=1. -faults.duration sets
// the length of the fault phase, -faults.seed replays a schedule, and
// ARBITER_FAULTS_REPORT=FILE writes the summary as JSON or markdown.
func TestFaultInjection(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes for minutes")
	}
	if err := faultPrereqs(); err != nil {
		if os.Getenv(faultCIEnv) == "1" {
			t.Fatalf("%v (%s=1: not skipping)", err, faultCIEnv)
		}
		t.Skip(err)
	}
	seed := *faultsSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("schedule seed %d (replay with -faults.seed=%d), fault phase %v, block time %v", seed, seed, *faultsDuration, faultBlockTime)
	ft := newFaultTest(t, seed)
	ft.run(t, *faultsDuration)
}

// faultTest is one run: the network, its nodes, the load and what was
// measured.
type faultTest struct {
	fn      *faultNet
	pn      *posNet
	nodes   []*posNode
	running []bool // the process is up and not stopped
	rng     *rand.Rand
	load    *faultLoad
	start   time.Time
	report  faultReport
}

// newFaultTest builds the namespaces, writes the genesis and data
// directories, starts the four nodes and the bridge, and prepares (does
// not start) the load.
func newFaultTest(t *testing.T, seed uint64) *faultTest {
	t.Helper()
	bin := buildBinary(t)
	fn := newFaultNet(t, faultMembers)
	dir := t.TempDir()
	g, keys, clients := faultGenesis(t, fn)
	genFile := filepath.Join(dir, node.GenesisFile)
	if err := g.Write(genFile); err != nil {
		t.Fatal(err)
	}
	pn := &posNet{bin: bin, dir: dir, members: faultMembers,
		final: map[uint64]common.Hash{}, finalBy: map[uint64]string{}, checked: map[*posNode]uint64{}}
	ft := &faultTest{fn: fn, pn: pn, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		report: faultReport{Seed: seed, BlockTime: faultBlockTime.String(), Nodes: faultMembers}}
	for i, key := range keys {
		m := filepath.Join(dir, fmt.Sprintf("member%d", i+1))
		if err := os.MkdirAll(m, 0o700); err != nil {
			t.Fatal(err)
		}
		keyFile := filepath.Join(m, "key")
		if err := crypto.SaveECDSA(keyFile, key); err != nil {
			t.Fatal(err)
		}
		if _, err := node.Init(filepath.Join(m, "data"), g); err != nil {
			t.Fatalf("member %d: %v", i+1, err)
		}
		p := pn.newNodeAt(t, fmt.Sprintf("node%d", i+1), filepath.Join(m, "data"), keyFile,
			fmt.Sprintf("%s:%d", fn.hosts[i].ip, faultRPCPort))
		p.prefix = fn.prefixFor(i)
		pn.nodes = append(pn.nodes, p)
	}
	ft.nodes, ft.running = pn.nodes, make([]bool, faultMembers)
	// Registered after the network's cleanup, so it runs before it: the
	// processes go before their namespaces.
	t.Cleanup(func() { pn.stopAll(t) })

	posStartAll(t, ft.nodes)
	for i := range ft.running {
		ft.running[i] = true
	}
	f, took := posWaitFinal(t, ft.nodes, 3, 60*time.Second, "start-up")
	t.Logf("4 nodes in namespaces %s-n1..4 on %s.0/24 finalized >= 3 after %v: %v", fn.prefix, fn.subnet, took.Round(time.Millisecond), f)

	chainID := new(big.Int).SetUint64(g.ChainID)
	arbABI, err := channel.ArbiterABI()
	if err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	// The bridge's log is kept, and shown only if the test fails: it
	// reports every call that failed while its node was down.
	bp := startProc(t, "bridge", "bridge", "--node", "http://"+ft.nodes[0].rpcAddr, "--listen", listen,
		"--datadir", filepath.Join(dir, "bridge"))
	if _, err := bp.waitLine(listeningLine, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	ft.load = &faultLoad{signer: types.LatestSignerForChainID(chainID), gasPrice: g.MinGasPriceBig(),
		bridge: "http://" + listen + "/rpc", domain: channel.DefaultDomain(chainID), abi: arbABI}
	for _, p := range ft.nodes {
		ft.load.nodes = append(ft.load.nodes, ethclient.NewClient(p.client))
	}
	ft.load.clientKeys = clients
	return ft
}

// faultGenesis returns a proof-of-stake genesis whose four members listen
// for p2p in their namespaces, plus funded client accounts that the first
// member allows to transact (four transfer senders and two chess pairs),
// with the members' keys and the clients' keys.
func faultGenesis(t *testing.T, fn *faultNet) (*genesis.Genesis, []*ecdsa.PrivateKey, []*ecdsa.PrivateKey) {
	t.Helper()
	g, keys, err := node.TestnetGenesis(faultMembers, genesis.EnginePoS, 0, faultBlockTime)
	if err != nil {
		t.Fatal(err)
	}
	for i, key := range keys {
		id, err := p2p.PeerIDOf(key)
		if err != nil {
			t.Fatal(err)
		}
		g.Members[i].Multiaddr = fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", fn.hosts[i].ip, faultP2PPort, id)
	}
	fund := new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(1e18))
	var clients []*ecdsa.PrivateKey
	for range 8 {
		k, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, k)
		a := crypto.PubkeyToAddress(k.PublicKey)
		g.Alloc[a] = genesis.Account{Balance: (*math.HexOrDecimal256)(new(big.Int).Set(fund))}
		g.Allowed = append(g.Allowed, genesis.Allowance{Account: a, By: g.Members[0].Address})
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	return g, keys, clients
}

// faultKind is one kind of fault: inject applies it to victims (node
// indices, as many as victims says, in random order) and returns what
// heals it.
type faultKind struct {
	name    string
	victims int
	// hold is how long the fault lasts. Where a quorum remains it is at
	// least 8 s: a height whose proposer is down takes up to 5 s (the
	// round-0 timeouts, then round 1).
	hold time.Duration
	// quorum says whether validators with more than 2/3 of the stake stay
	// up and connected during the fault: finality must then advance
	// during it, and otherwise must not (one more height is allowed for a
	// decision whose last vote was in flight).
	quorum bool
	inject func(ft *faultTest, t *testing.T, v []int) (detail string, heal func())
}

// faultKinds are the faults the test injects.
var faultKinds = []faultKind{
	{name: "kill -9 one node", victims: 1, hold: 8 * time.Second, quorum: true,
		inject: func(ft *faultTest, t *testing.T, v []int) (string, func()) {
			ft.kill(v[0])
			return "", func() { ft.restart(t, v[0]) }
		}},
	{name: "kill -9 two nodes", victims: 2, hold: 5 * time.Second, quorum: false,
		inject: func(ft *faultTest, t *testing.T, v []int) (string, func()) {
			ft.kill(v[0])
			ft.kill(v[1])
			return "", func() { ft.restart(t, v[0]); ft.restart(t, v[1]) }
		}},
	{name: "SIGSTOP one node", victims: 1, hold: 8 * time.Second, quorum: true,
		inject: func(ft *faultTest, t *testing.T, v []int) (string, func()) {
			ft.signal(t, v[0], syscall.SIGSTOP)
			ft.running[v[0]] = false
			return "", func() { ft.signal(t, v[0], syscall.SIGCONT); ft.running[v[0]] = true }
		}},
	{name: "isolate one node", victims: 1, hold: 8 * time.Second, quorum: true,
		inject: func(ft *faultTest, t *testing.T, v []int) (string, func()) {
			for j := range ft.nodes {
				if j != v[0] {
					ft.fn.cut(t, v[0], j)
				}
			}
			return "", func() { ft.fn.heal(t) }
		}},
	{name: "partition 2+2", victims: 4, hold: 8 * time.Second, quorum: false,
		inject: func(ft *faultTest, t *testing.T, v []int) (string, func()) {
			for _, a := range v[:2] {
				for _, b := range v[2:] {
					ft.fn.cut(t, a, b)
				}
			}
			return fmt.Sprintf("%s / %s", ft.names(v[:2]), ft.names(v[2:])), func() { ft.fn.heal(t) }
		}},
	{name: "bridged halves", victims: 4, hold: 8 * time.Second, quorum: true,
		inject: func(ft *faultTest, t *testing.T, v []int) (string, func()) {
			for _, a := range v[:2] {
				for _, b := range v[2:] {
					if a != v[1] || b != v[2] {
						ft.fn.cut(t, a, b)
					}
				}
			}
			return fmt.Sprintf("%s / %s, linked only by %s-%s", ft.names(v[:2]), ft.names(v[2:]),
				ft.nodes[v[1]].name, ft.nodes[v[2]].name), func() { ft.fn.heal(t) }
		}},
	{name: "packet loss 20% on one node", victims: 1, hold: 8 * time.Second, quorum: true,
		inject: func(ft *faultTest, t *testing.T, v []int) (string, func()) {
			ft.fn.lossy(t, v[0], 0.2)
			return "", func() { ft.fn.heal(t) }
		}},
	{name: "bandwidth 256kbit on one node", victims: 1, hold: 8 * time.Second, quorum: true,
		inject: func(ft *faultTest, t *testing.T, v []int) (string, func()) {
			ft.fn.shape(t, v[0], "256kbit")
			return "", func() { ft.fn.heal(t) }
		}},
	{name: "clock skew on one node", victims: 1, hold: 8 * time.Second, quorum: true,
		inject: func(ft *faultTest, t *testing.T, v []int) (string, func()) {
			// Within the 15 s future-block allowance the node's blocks are
			// accepted and push the chain's time ahead; beyond it, ahead
			// its proposals are refused, behind it refuses every block.
			offset := []string{"+8s", "+20s", "-20s"}[ft.rng.IntN(3)]
			ft.kill(v[0])
			ft.nodes[v[0]].prefix = ft.fn.prefixFor(v[0], clockOffsetEnv+"="+offset)
			ft.restart(t, v[0])
			return ft.nodes[v[0]].name + " offset " + offset, func() {
				ft.kill(v[0])
				ft.nodes[v[0]].prefix = ft.fn.prefixFor(v[0])
				ft.restart(t, v[0])
			}
		}},
}

// kill SIGKILLs node i.
func (ft *faultTest) kill(i int) {
	ft.nodes[i].kill()
	ft.running[i] = false
}

// restart launches node i again on its data directory; it counts as
// running at once (it answers once it has opened its database).
func (ft *faultTest) restart(t *testing.T, i int) {
	t.Helper()
	ft.nodes[i].launch(t)
	ft.running[i] = true
}

// signal sends sig to node i's process.
func (ft *faultTest) signal(t *testing.T, i int, sig syscall.Signal) {
	t.Helper()
	p := ft.nodes[i]
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil {
		t.Fatalf("%s: not running", p.name)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: %v: %v", p.name, sig, err)
	}
}

// names lists the names of nodes v.
func (ft *faultTest) names(v []int) string {
	var out []string
	for _, i := range v {
		out = append(out, ft.nodes[i].name)
	}
	return strings.Join(out, ",")
}

// sample reads the finalized block of every running node (-1 for a node
// that is down or does not answer), recording each in the network's
// history of final blocks, which fails the test if two nodes ever report
// different blocks final at one height.
func (ft *faultTest) sample(t *testing.T) []int64 {
	t.Helper()
	out := make([]int64, len(ft.nodes))
	var wg sync.WaitGroup
	blocks := make([]*posBlock, len(ft.nodes))
	for i, p := range ft.nodes {
		out[i] = -1
		if !ft.running[i] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b, err := p.block("finalized"); err == nil {
				blocks[i] = &b
			}
		}()
	}
	wg.Wait()
	for i, b := range blocks {
		if b != nil {
			ft.pn.record(t, ft.nodes[i], uint64(b.Number), b.Hash)
			out[i] = int64(b.Number)
		}
	}
	return out
}

func maxOf(v []int64) int64 { return slices.Max(v) }

// run injects faults for d (and at least one of each kind), then stops the
// load and checks the final chains.
func (ft *faultTest) run(t *testing.T, d time.Duration) {
	ctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	var wg sync.WaitGroup
	ft.load.startAll(ctx, &wg)
	ft.start = time.Now()
	var order []int
	done := map[int]bool{}
	for n := 0; len(done) < len(faultKinds) || time.Since(ft.start) < d; n++ {
		if len(order) == 0 {
			order = ft.rng.Perm(len(faultKinds))
		}
		k := order[0]
		order = order[1:]
		ft.inject(t, faultKinds[k])
		done[k] = true
		pause := time.Now().Add(2 * time.Second)
		for time.Now().Before(pause) {
			ft.sample(t)
			time.Sleep(250 * time.Millisecond) // load runs between faults
		}
		ft.pn.check(t, ft.nodes...)
	}
	stopLoad()
	wg.Wait()
	ft.finish(t)
}

// inject applies one fault, holds it while sampling finality, heals it
// and measures the recovery.
func (ft *faultTest) inject(t *testing.T, k faultKind) {
	t.Helper()
	perm := ft.rng.Perm(len(ft.nodes))
	v := perm[:k.victims]
	before := maxOf(ft.sample(t))
	at := time.Since(ft.start)
	detail, heal := k.inject(ft, t, v)
	if detail == "" {
		detail = ft.names(v)
	}
	// During the fault: does finality advance where it must, and stop
	// where it must?
	var during int64 = before
	for end := time.Now().Add(k.hold); time.Now().Before(end); {
		during = max(during, maxOf(ft.sample(t)))
		time.Sleep(250 * time.Millisecond) // holding the fault
	}
	progress := during - before
	switch {
	case k.quorum && progress < 1:
		t.Errorf("%s (%s): a quorum stayed connected but finality did not advance in %v (at %d)", k.name, detail, k.hold, before)
	case !k.quorum && progress > 1:
		t.Errorf("%s (%s): no quorum, yet %d heights were finalized during the fault (from %d to %d)", k.name, detail, progress, before, during)
	}

	// Heal; recovery is the time until every node has finalized a height
	// above every height any node had finalized at the heal.
	base := max(during, maxOf(ft.sample(t)))
	healed := time.Now()
	heal()
	target := base + 1
	reached := make([]time.Duration, len(ft.nodes))
	for {
		f := ft.sample(t)
		all := true
		for i, h := range f {
			if reached[i] == 0 && h >= target {
				reached[i] = time.Since(healed)
			}
			all = all && reached[i] != 0
		}
		if all {
			break
		}
		if time.Since(healed) > faultStuckBound {
			t.Fatalf("%s (%s): %v after the heal not every node finalized height %d: finalized %v", k.name, detail, faultStuckBound, target, f)
		}
		time.Sleep(100 * time.Millisecond) // polling for recovery
	}
	recovery := slices.Max(reached)
	rec := faultRecord{Kind: k.name, Detail: detail, At: at.Round(time.Millisecond).String(), Hold: k.hold.String(),
		Progress: progress, Recovery: recovery, RecoveryMS: recovery.Milliseconds(), Target: uint64(target)}
	ft.report.Faults = append(ft.report.Faults, rec)
	t.Logf("%-30s %-34s at %-9v finalized +%d during; every node at %d %v after the heal", k.name, detail, rec.At, progress, target, recovery.Round(time.Millisecond))
	if recovery > faultRecoveryBound {
		t.Errorf("%s (%s): finality resumed on every node %v after the heal, want within %v (per node %v)", k.name, detail, recovery, faultRecoveryBound, reached)
	}
}
