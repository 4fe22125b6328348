package main

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/node"
	"github.com/arbiter-chain/arbiter/node/genesis"
)

// posBlockTime is the block time of the fault tests' networks.
const posBlockTime = 300 * time.Millisecond

// TestPoSKillOneThenTwo runs four equal-stake validators as separate
// processes and SIGKILLs them one at a time. With one of four down the
// other three (3/4 > 2/3 of the stake) keep finalizing; with two down
// (2/4) commits halt; restarting the third on its own data directory and
// WAL resumes them; after the fourth returns all four agree on every final
// height. Throughout, no two nodes ever report different blocks final at
// one height.
func TestPoSKillOneThenTwo(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	bin := buildBinary(t)
	pn := startPosNet(t, bin, 4, posBlockTime)
	all := pn.nodes
	posStartAll(t, all)
	f, took := posWaitFinal(t, all, 5, 30*time.Second, "start-up")
	t.Logf("all 4 finalized >= 5 after %v: %v", took.Round(time.Millisecond), f)
	pn.check(t, all...)

	// One of four down: 3/4 of the stake is left, above 2/3.
	all[3].kill()
	three := all[:3]
	f0 := posMin(posFinals(t, three))
	f, took = posWaitFinal(t, three, f0+5, 15*time.Second, "node4 killed")
	t.Logf("node4 killed at finalized %d: nodes 1-3 finalized +5 in %v: %v", f0, took.Round(time.Millisecond), f)
	pn.check(t, three...)

	// Two of four down: 2/4 is not above 2/3, nothing can be decided. A
	// block whose last precommit was in flight at the kill may still be
	// decided, so one more height is allowed.
	all[2].kill()
	two := all[:2]
	halt := posMax(posFinals(t, two))
	const window = 3 * time.Second
	for end := time.Now().Add(window); time.Now().Before(end); {
		if f := posFinals(t, two); posMax(f) > halt+1 {
			t.Fatalf("node3 and node4 down: finalized heights %v, more than one above %d at the kill", f, halt)
		}
		time.Sleep(100 * time.Millisecond) // observation window
	}
	stuck := posMax(posFinals(t, two))
	t.Logf("node3 killed at finalized %d: after %v nodes 1-2 are at %d (halted)", halt, window, stuck)
	pn.check(t, two...)

	// Restart node3 on its data directory, key and WAL: commits resume.
	restart := time.Now()
	all[2].start(t)
	f, _ = posWaitFinal(t, two, stuck+1, 10*time.Second, "node3 restarted")
	t.Logf("node3 restarted: first new finalized block (%v) %v after the restart", f, time.Since(restart).Round(time.Millisecond))
	f, took = posWaitFinal(t, three, posMax(f)+3, 15*time.Second, "nodes 1-3 after node3's restart")
	t.Logf("nodes 1-3 finalized 3 more in %v: %v", took.Round(time.Millisecond), f)
	pn.check(t, three...)

	// Restart node4: it catches up and all four agree on every final height.
	all[3].start(t)
	target := posMax(posFinals(t, three)) + 3
	f, took = posWaitFinal(t, all, target, 20*time.Second, "node4 restarted")
	t.Logf("node4 restarted: all 4 finalized >= %d after %v: %v", target, took.Round(time.Millisecond), f)
	low := pn.check(t, all...)
	t.Logf("all 4 agree on every final height up to %d", low)
}

// TestPoSDoubleSignerSlashed runs four validators plus a fifth process
// holding validator 4's key with its own data directory (initialised from
// the same genesis), its own WAL and its own p2p port, so two processes
// sign as validator 4, and makes them sign conflicting prevotes for one
// height and round. One equivocating validator of four is within the
// fault bound. It asserts that no two processes ever report different
// blocks final at one height (all five, over at least 20 heights), that
// the honest nodes report the equivocation, and that the staking contract
// slashes validator 4 on chain: its bonded stake becomes 0 and a Slashed
// event names it.
//
// The two validator 4s take turns rather than run side by side: the p2p
// identity is the node key, so both would be one peer id, and a node keeps
// one gossip stream per peer id; an honest node connected to both hears
// only one (the other is cut off from gossip and never gets to vote). The
// turn-taking is the classic double-sign accident, a fail-over that does
// not carry the WAL over, set up so that the conflict is certain:
//
//  1. With node 3 down, every decision needs validator 4. Node 2 is killed
//     just after height h-1 is decided, where h is a height validator 4
//     proposes in round 0, so nodes 1 and 4 are stuck in height h.
//  2. Validator 4 proposes block B at (h, 0) and prevotes it; node 1's WAL
//     shows it received that prevote. Then validator 4 is SIGKILLed.
//  3. The double starts with an empty WAL once the clock is past B's
//     timestamp: at (h, 0) it proposes a block of its own (a later
//     timestamp, so not B) or, lacking the commit of h-1, times out; either
//     way it prevotes something other than B, which node 1 detects.
//  4. Nodes 2 and 3 return, the network moves on with the double as
//     validator 4; later the double stops and the original returns.
func TestPoSDoubleSignerSlashed(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const minHeights = 20
	bin := buildBinary(t)
	pn := startPosNet(t, bin, 4, posBlockTime)
	genFile := filepath.Join(pn.dir, node.GenesisFile)
	doubleData := filepath.Join(pn.dir, "double", "data")
	if out, err := exec.Command(bin, "init", "--datadir", doubleData, "--genesis", genFile).CombinedOutput(); err != nil {
		t.Fatalf("arbiter init: %v\n%s", err, out)
	}
	n1, n2, n3, n4 := pn.nodes[0], pn.nodes[1], pn.nodes[2], pn.nodes[3]
	double := pn.newNode(t, "node4-double", doubleData, n4.keyFile, pn.sparePort(1),
		"--p2p", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", pn.sparePort(0)))
	val4 := pn.address(t, 3)
	chainID := big.NewInt(node.TestnetChainID)
	posStartAll(t, pn.nodes)
	posWaitFinal(t, pn.nodes, 3, 30*time.Second, "start-up")
	pn.check(t, pn.nodes...)

	// Validator 4's turn in the proposer rotation (equal stakes: every
	// fourth step, step = height + round), from a block it proposed.
	turn := posProposerTurn(t, n1, val4)

	// 1-2: stall nodes 1 and 4 in a height validator 4 proposes and wait
	// until node 1 holds validator 4's prevote for its block there.
	n3.kill()
	var (
		h     uint64
		bTime uint64
	)
	for attempt := 1; ; attempt++ {
		if attempt > 3 {
			t.Fatal("could not stall nodes 1 and 4 in a height validator 4 proposes, 3 attempts")
		}
		h = n1.finalized(t) + 2
		for h%4 != turn {
			h++
		}
		// Kill node 2 within the pause after h-1 is decided, before h's
		// round 0 starts.
		for deadline := time.Now().Add(20 * time.Second); ; {
			f := n1.finalized(t)
			if f >= h-1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node 1 did not reach height %d within 20s (at %d)", h-1, f)
			}
			time.Sleep(5 * time.Millisecond) // polling for the moment to kill
		}
		n2.kill()
		if f := n1.finalized(t); f != h-1 {
			t.Logf("attempt %d: height %d was decided before node 2 went down; again", attempt, f)
			n2.start(t)
			continue
		}
		prop, vote := posAwaitPrevote(t, n1, h, val4, chainID, 10*time.Second)
		if vote == nil || prop == nil || vote.BlockHash != prop.Block.Hash() {
			t.Logf("attempt %d: validator 4 did not propose and prevote a block at (%d, 0); again", attempt, h)
			n2.start(t)
			continue
		}
		bTime = prop.Block.Time()
		t.Logf("nodes 1 and 4 stalled at height %d: validator 4 proposed %s and node 1 holds its prevote for it", h, prop.Block.Hash())
		break
	}
	pn.check(t, n1, n4)
	n4.kill()

	// 3: the double signs (h, 0) again, without the WAL.
	for time.Now().Unix() <= int64(bTime) {
		time.Sleep(10 * time.Millisecond) // the double's block must carry a later timestamp
	}
	start := time.Now()
	double.start(t)
	for n1.posEquivocations.Load() == 0 {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("node 1 reported no equivocation within 20s of the double's start")
		}
		time.Sleep(50 * time.Millisecond) // polling the log
	}
	t.Logf("equivocation detected %v after the double started", time.Since(start).Round(time.Millisecond))
	for _, line := range n1.scanLog(`msg="equivocation detected"`) {
		t.Logf("node1: %s", line)
	}

	// 4: the rest of the network returns; the double is validator 4.
	n2.start(t)
	n3.start(t)
	live := []*posNode{n1, n2, n3, double}
	target := max(uint64(minHeights), h+5)
	f, took := posWaitFinal(t, live, target, 30*time.Second, "after the double joined")
	t.Logf("nodes 1-3 and the double finalized >= %d in %v: %v", target, took.Round(time.Millisecond), f)
	pn.check(t, live...)
	double.kill()
	n4.start(t)
	live = pn.nodes
	target = posMax(posFinals(t, live)) + 2
	f, took = posWaitFinal(t, live, target, 30*time.Second, "original validator 4 back")
	t.Logf("original validator 4 back: all 4 finalized >= %d in %v: %v", target, took.Round(time.Millisecond), f)
	low := pn.check(t, live...)
	t.Logf("5 processes (2 signing as validator 4) agree on every final height up to %d", low)

	// Slashing on chain.
	g, err := genesis.Load(genFile)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(g.Contracts, "staking") {
		t.Skipf("slashing not wired: the testnet genesis enables contracts %v, not \"staking\"", g.Contracts)
	}
	abiJSON, err := os.ReadFile(filepath.Join("..", "..", "docs", "abi", "staking.json"))
	if err != nil {
		t.Fatal(err)
	}
	stakingABI, err := abi.JSON(bytes.NewReader(abiJSON))
	if err != nil {
		t.Fatal(err)
	}
	offender := val4
	input, err := stakingABI.Pack("stakeOf", offender)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out hexutil.Bytes
		err := pn.nodes[0].call(&out, "eth_call", map[string]any{"to": staking.Address, "data": hexutil.Bytes(input)}, "latest")
		if err != nil {
			t.Fatalf("eth_call stakeOf: %v", err)
		}
		res, err := stakingABI.Unpack("stakeOf", out)
		if err != nil {
			t.Fatalf("stakeOf result %x: %v", out, err)
		}
		bonded := res[0].(*big.Int)
		if bonded.Sign() == 0 {
			t.Logf("validator 4 (%s) slashed: bonded 0, unbonding %v", offender, res[1])
			break
		}
		if time.Now().After(deadline) {
			var submitted, failed int
			for _, p := range append(slices.Clone(pn.nodes), double) {
				submitted += len(p.scanLog(`msg="equivocation evidence submitted for slashing"`))
				failed += len(p.scanLog(`msg="submitting equivocation evidence failed"`))
			}
			t.Fatalf("validator 4 (%s) not slashed 20s after the equivocation and the recovery: stakeOf bonded %v (want 0); "+
				"nodes logged %d evidence submissions and %d failed ones", offender, bonded, submitted, failed)
		}
		time.Sleep(200 * time.Millisecond) // polling live nodes
	}
	var logs []types.Log
	err = pn.nodes[0].call(&logs, "eth_getLogs", map[string]any{
		"fromBlock": "0x0", "toBlock": "latest", "address": staking.Address,
		"topics": []any{stakingABI.Events["Slashed"].ID, common.BytesToHash(offender.Bytes())},
	})
	if err != nil {
		t.Fatalf("eth_getLogs: %v", err)
	}
	if len(logs) == 0 {
		t.Fatalf("no Slashed event for %s", offender)
	}
	t.Logf("Slashed(%s) in block %d, tx %s", offender, logs[0].BlockNumber, logs[0].TxHash)
}

// TestPoSThroughput is the load measurement for the docs, not a CI test
// (set ARBITER_BENCH=1; ARBITER_BENCH_TXS sets the transfers per run,
// default 20000): finalized transfers per second and submit-to-finality
// latency with four validators, at block times of 500ms and 250ms, with
// the load sent to one node (`arbiter bench` with all four member keys) and
// split over the four nodes (one bench process per node, each with its
// node's key), next to the same load against a one-validator network. It
// also reports the CPU time each process used over the run.
func TestPoSThroughput(t *testing.T) {
	if os.Getenv("ARBITER_BENCH") != "1" {
		t.Skip("load measurement: set ARBITER_BENCH=1 to run")
	}
	txs := 20000
	if v, err := strconv.Atoi(os.Getenv("ARBITER_BENCH_TXS")); err == nil && v > 0 {
		txs = v
	}
	bin := buildBinary(t)
	if out, err := exec.Command("nproc").Output(); err == nil {
		t.Logf("nproc = %s", strings.TrimSpace(string(out)))
	}
	for _, bt := range []time.Duration{500 * time.Millisecond, 250 * time.Millisecond} {
		t.Run(fmt.Sprintf("validators=4/block=%v/one-node", bt), func(t *testing.T) {
			pn := startPosNet(t, bin, 4, bt)
			posStartAll(t, pn.nodes)
			posWaitFinal(t, pn.nodes, 2, 30*time.Second, "start-up")
			var keys []string
			for _, p := range pn.nodes {
				keys = append(keys, p.keyFile)
			}
			posBenchRun(t, pn, bt, []posBenchSpec{{pn.nodes[0], keys, txs, 8}})
		})
		t.Run(fmt.Sprintf("validators=4/block=%v/split", bt), func(t *testing.T) {
			pn := startPosNet(t, bin, 4, bt)
			posStartAll(t, pn.nodes)
			posWaitFinal(t, pn.nodes, 2, 30*time.Second, "start-up")
			var specs []posBenchSpec
			for _, p := range pn.nodes {
				specs = append(specs, posBenchSpec{p, []string{p.keyFile}, txs / 4, 1})
			}
			posBenchRun(t, pn, bt, specs)
		})
		t.Run(fmt.Sprintf("validators=1/block=%v", bt), func(t *testing.T) {
			pn := startPosNet(t, bin, 1, bt)
			posStartAll(t, pn.nodes)
			posWaitFinal(t, pn.nodes, 2, 30*time.Second, "start-up")
			posBenchRun(t, pn, bt, []posBenchSpec{{pn.nodes[0], []string{pn.nodes[0].keyFile}, txs, 8}})
		})
	}
}

// posBenchSpec is one `arbiter bench` process: against which node, with which
// sender keys, how many transfers and senders.
type posBenchSpec struct {
	node        *posNode
	keys        []string
	txs, concur int
}

var posBenchLine = regexp.MustCompile(`finalized (\d+) in (\d+) blocks over (\S+): (\d+) tx/s; submit-to-finalized latency p50 (\S+), p99 (\S+)`)

// posBenchRun runs the bench processes in parallel, logs each one's result
// line exactly as printed, the combined rate (all transfers over the
// longest run) and the CPU time of every node and bench process.
func posBenchRun(t *testing.T, pn *posNet, bt time.Duration, specs []posBenchSpec) {
	t.Helper()
	cpu0 := make([]time.Duration, len(pn.nodes))
	for i, p := range pn.nodes {
		cpu0[i] = p.cpu()
	}
	type result struct {
		out  string
		err  error
		cpu  time.Duration
		wall time.Duration
	}
	results := make([]result, len(specs))
	var wg sync.WaitGroup
	start := time.Now()
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, pn.bin, "bench", "--rpc", "ws://"+s.node.rpcAddr+"/ws",
				"--keys", strings.Join(s.keys, ","), "--txs", strconv.Itoa(s.txs),
				"--concurrency", strconv.Itoa(s.concur), "--finalized")
			t0 := time.Now()
			out, err := cmd.CombinedOutput()
			r := result{out: strings.TrimSpace(string(out)), err: err, wall: time.Since(t0)}
			if cmd.ProcessState != nil {
				r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
			results[i] = r
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	total, longest := 0, time.Duration(0)
	for i, r := range results {
		s := specs[i]
		if r.err != nil {
			t.Fatalf("bench against %s: %v\n%s", s.node.name, r.err, r.out)
		}
		t.Logf("block time %v, %d validators, bench --keys %d --txs %d --concurrency %d --finalized against %s:\n    %s",
			bt, len(pn.nodes), len(s.keys), s.txs, s.concur, s.node.name, r.out)
		m := posBenchLine.FindStringSubmatch(r.out)
		if m == nil {
			t.Fatalf("unexpected bench output %q", r.out)
		}
		n, _ := strconv.Atoi(m[1])
		d, err := time.ParseDuration(m[3])
		if err != nil {
			t.Fatalf("bench duration %q: %v", m[3], err)
		}
		total, longest = total+n, max(longest, d)
		t.Logf("    bench process CPU %v over %v", r.cpu.Round(10*time.Millisecond), r.wall.Round(time.Millisecond))
	}
	if len(specs) > 1 {
		t.Logf("combined: %d finalized over %v: %.0f tx/s", total, longest.Round(time.Millisecond), float64(total)/longest.Seconds())
	}
	var nodeCPU time.Duration
	var per []string
	for i, p := range pn.nodes {
		c := p.cpu() - cpu0[i]
		nodeCPU += c
		per = append(per, fmt.Sprintf("%s %v", p.name, c.Round(10*time.Millisecond)))
	}
	t.Logf("node CPU over the %v run: %s (total %v = %.2f cores)", wall.Round(time.Millisecond), strings.Join(per, ", "),
		nodeCPU.Round(10*time.Millisecond), nodeCPU.Seconds()/wall.Seconds())
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		t.Logf("load average after the run: %s", strings.TrimSpace(string(load)))
	}
	pn.check(t, pn.nodes...)
}
