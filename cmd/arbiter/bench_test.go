package main

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/node"
	"github.com/arbiter-chain/arbiter/node/genesis"
)

// startBenchNode runs a one-member proof-of-stake node in this process
// (what `arbiter dev` runs) and returns it, its WebSocket and HTTP URLs and
// its member's key file, which funds the load.
func startBenchNode(t *testing.T) (*node.Node, string, string, string) {
	t.Helper()
	g, keys, err := node.TestnetGenesis(1, genesis.EnginePoS, 0, 250*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if _, err := node.Init(data, g); err != nil {
		t.Fatalf("node.Init: have %v, want nil", err)
	}
	keyFile := filepath.Join(dir, "key")
	if err := crypto.SaveECDSA(keyFile, keys[0]); err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{DataDir: data, Key: keys[0], RPCAddr: "127.0.0.1:0", Mine: true, NoP2P: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("node.New: have %v, want nil", err)
	}
	if err := n.Start(); err != nil {
		t.Fatalf("node.Start: have %v, want nil", err)
	}
	t.Cleanup(func() { n.Close() })
	addr := n.RPCAddr().String()
	return n, "ws://" + addr + "/ws", "http://" + addr, keyFile
}

// chainTransfers is what the chain holds of one load run: the run's
// transfers (value 1 wei; funding pays more, vouching calls the membership
// contract) in blocks after from.
type chainTransfers struct {
	count  map[common.Hash]int         // times each transfer is on the chain
	nonces map[common.Address][]uint64 // each sender's nonces, in chain order
	blocks int                         // blocks holding at least one
}

func scanTransfers(t *testing.T, n *node.Node, from uint64) chainTransfers {
	t.Helper()
	ct := chainTransfers{count: map[common.Hash]int{}, nonces: map[common.Address][]uint64{}}
	signer := types.LatestSignerForChainID(n.Chain().Config().ChainID)
	head := n.Chain().CurrentBlock().NumberU64()
	for num := from + 1; num <= head; num++ {
		b := n.Chain().GetBlockByNumber(num)
		if b == nil {
			t.Fatalf("block %d missing below head %d", num, head)
		}
		found := false
		for _, tx := range b.Transactions() {
			if tx.Value().Cmp(big.NewInt(1)) != 0 || tx.To() == nil || *tx.To() == membership.Address {
				continue
			}
			from, err := types.Sender(signer, tx)
			if err != nil {
				t.Fatal(err)
			}
			ct.count[tx.Hash()]++
			ct.nonces[from] = append(ct.nonces[from], tx.Nonce())
			found = true
		}
		if found {
			ct.blocks++
		}
	}
	return ct
}

// near reports whether a and b agree to a thousandth: they are one figure
// computed two ways, once from windows the JSON rounds to the microsecond.
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-3*math.Max(1, math.Abs(b)) }

// TestBenchAgainstNode runs the load tool against a one-member Arbiter node
// in this process: fresh senders funded and vouched for (one transaction
// per request with heads by subscription; batches to two URLs with heads
// by polling) and the old --keys flags. For each run it checks on the
// chain that every transfer is included exactly once, from the expected
// senders in nonce order, and that the reported figures agree with the
// chain and with each other.
func TestBenchAgainstNode(t *testing.T) {
	n, ws, httpURL, keyFile := startBenchNode(t)
	member := crypto.PubkeyToAddress(mustLoadKey(t, keyFile).PublicKey)
	tests := []struct {
		name           string
		args           []string
		senders, per   int
		fresh, subscri bool
		rate           float64 // --rate, or 0
	}{
		{"fresh senders, 1 per request, heads by subscription",
			[]string{"--rpc", ws, "--funder", keyFile, "--senders", "4", "--per-sender", "75"}, 4, 75, true, true, 0},
		{"fresh senders, batches of 16 to two URLs, heads by polling",
			[]string{"--rpc", httpURL, "--nodes", ws + "," + httpURL, "--funder", keyFile, "--senders", "3", "--per-sender", "60", "--batch", "16"}, 3, 60, true, false, 0},
		{"existing key, the old flags",
			[]string{"--rpc", ws, "--keys", keyFile, "--txs", "120", "--concurrency", "2", "--finalized"}, 1, 120, false, true, 0},
		{"fresh senders offered at 200 tx/s",
			[]string{"--rpc", ws, "--funder", keyFile, "--senders", "3", "--per-sender", "40", "--rate", "200"}, 3, 40, true, true, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head0 := n.Chain().CurrentBlock().NumberU64()
			jsonFile := filepath.Join(t.TempDir(), "result.json")
			profile := filepath.Join(t.TempDir(), "bench.prof")
			args := append(tt.args, "--pids", strconv.Itoa(os.Getpid()), "--json", jsonFile, "--timeout", "3m", "--cpuprofile", profile)
			var out bytes.Buffer
			if err := runBench(args, &out); err != nil {
				t.Fatalf("bench: have %v, want nil", err)
			}
			t.Logf("%s", out.String())
			if fi, err := os.Stat(profile); err != nil || fi.Size() == 0 {
				t.Errorf("--cpuprofile: have %v (%v), want a profile", fi, err)
			}
			var rep benchReport
			b, err := os.ReadFile(jsonFile)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatalf("result JSON: %v\n%s", err, b)
			}
			want := tt.senders * tt.per

			// The chain: every transfer exactly once, per sender in nonce order.
			ct := scanTransfers(t, n, head0)
			if len(ct.count) != want {
				t.Errorf("transfers on chain: have %d, want %d", len(ct.count), want)
			}
			for h, c := range ct.count {
				if c != 1 {
					t.Errorf("transfer %s on chain %d times, want once", h, c)
				}
			}
			if len(ct.nonces) != tt.senders {
				t.Errorf("senders on chain: have %d, want %d", len(ct.nonces), tt.senders)
			}
			st, err := n.Chain().StateAt(n.Chain().CurrentBlock().Root())
			if err != nil {
				t.Fatal(err)
			}
			for from, nonces := range ct.nonces {
				if len(nonces) != tt.per {
					t.Errorf("sender %s: have %d transfers, want %d", from, len(nonces), tt.per)
				}
				for i := 1; i < len(nonces); i++ {
					if nonces[i] != nonces[i-1]+1 {
						t.Errorf("sender %s: nonce %d after %d, want consecutive", from, nonces[i], nonces[i-1])
						break
					}
				}
				if tt.fresh && (nonces[0] != 0 || from == member || membership.IsMember(st, from) || !membership.IsAllowed(st, from)) {
					t.Errorf("sender %s: first nonce %d, member %v, allowed %v; want a fresh vouched account",
						from, nonces[0], membership.IsMember(st, from), membership.IsAllowed(st, from))
				}
				if !tt.fresh && from != member {
					t.Errorf("sender: have %s, want the key's %s", from, member)
				}
			}

			// The report agrees with the chain and with itself.
			for _, c := range []struct {
				name       string
				have, want any
			}{
				{"mode", rep.Mode, map[bool]string{true: "fresh", false: "keys"}[tt.fresh]},
				{"arbiter", rep.Arbiter, tt.fresh},
				{"senders", rep.Senders, tt.senders},
				{"sent", rep.Sent, want},
				{"submitted", rep.Submitted, want},
				{"included", rep.Included, want},
				{"finalized", rep.Finalized, want},
				{"finality moved", rep.FinalityMoved, true},
				{"seen again", rep.Again, 0},
				{"blocks", rep.Blocks, ct.blocks},
				{"heads by subscription", rep.Subscribed, tt.subscri},
				{"processes", len(rep.Procs), 1},
			} {
				if fmt.Sprint(c.have) != fmt.Sprint(c.want) {
					t.Errorf("%s: have %v, want %v", c.name, c.have, c.want)
				}
			}
			if !near(rep.TxsPerBlock*float64(rep.Blocks), float64(rep.Included)) {
				t.Errorf("txs per block %v x blocks %d: have %v, want %d", rep.TxsPerBlock, rep.Blocks, rep.TxsPerBlock*float64(rep.Blocks), rep.Included)
			}
			for _, r := range []struct {
				name      string
				tps       float64
				n         int
				windowMs  float64
				p50, p99  float64
				windowMin float64
			}{
				{"submitted", rep.SubmittedTPS, rep.Submitted, rep.SendMs, 0, 0, 0},
				{"included", rep.IncludedTPS, rep.Included, rep.IncludeMs, rep.InclP50Ms, rep.InclP99Ms, rep.InclP99Ms},
				{"finalized", rep.FinalizedTPS, rep.Finalized, rep.FinalMs, rep.FinalP50Ms, rep.FinalP99Ms, rep.FinalP99Ms},
			} {
				if r.windowMs <= 0 || !near(r.tps, float64(r.n)/(r.windowMs/1000)) {
					t.Errorf("%s: %v tx/s over %v ms for %d: want n/window", r.name, r.tps, r.windowMs, r.n)
				}
				if r.p50 > r.p99 || r.windowMs < r.windowMin {
					t.Errorf("%s: p50 %v ms, p99 %v ms, window %v ms: want p50 <= p99 <= window", r.name, r.p50, r.p99, r.windowMs)
				}
			}
			// Paced, the last transfer is not sent before its slot, (n-1)/rate
			// after the first.
			if rep.OfferedTPS != tt.rate {
				t.Errorf("offered tx/s: have %v, want %v", rep.OfferedTPS, tt.rate)
			}
			if tt.rate > 0 && rep.SendMs < float64(want-1)/tt.rate*1000 {
				t.Errorf("paced at %v tx/s, %d transfers were all answered in %v ms, want at least %v ms", tt.rate, want, rep.SendMs, float64(want-1)/tt.rate*1000)
			}
			if rep.FinalP50Ms < rep.InclP50Ms || rep.FinalP99Ms < rep.InclP99Ms || rep.FinalMs < rep.IncludeMs {
				t.Errorf("final p50/p99/window %v/%v/%v ms below inclusion's %v/%v/%v ms", rep.FinalP50Ms, rep.FinalP99Ms, rep.FinalMs, rep.InclP50Ms, rep.InclP99Ms, rep.IncludeMs)
			}
			if len(rep.Procs) == 1 {
				p := rep.Procs[0]
				if p.PID != os.Getpid() || p.CPUFinalMs < p.CPUIncludeMs || p.CPUFinalMs <= 0 || p.PeakMiB <= 0 || p.PeakMiB != rep.PeakMiBMax {
					t.Errorf("process: have %+v (peak max %v), want this process with CPU time and peak memory", p, rep.PeakMiBMax)
				}
				if !near(rep.CPUPerFinal, p.CPUFinalMs*1000/float64(rep.Finalized)) {
					t.Errorf("cpu per finalized: have %v µs, want %v ms x 1000 / %d", rep.CPUPerFinal, p.CPUFinalMs, rep.Finalized)
				}
			}

			// The first line keeps the format scripts parse.
			m := posBenchLine.FindStringSubmatch(out.String())
			if m == nil {
				t.Fatalf("first line %q does not match %v", out.String(), posBenchLine)
			}
			if m[1] != strconv.Itoa(want) || m[2] != strconv.Itoa(ct.blocks) {
				t.Errorf("first line: have %s finalized in %s blocks, want %d in %d", m[1], m[2], want, ct.blocks)
			}
		})
	}
}

func mustLoadKey(t *testing.T, file string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.LoadECDSA(file)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
