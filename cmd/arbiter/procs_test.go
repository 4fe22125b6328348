package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// Helpers to run `arbiter` processes and talk to them, for the
// multi-process network tests.
//
// The processes are this test binary re-executed as the command: with
// arbiterMainEnv set, init runs main instead of the tests. That is the
// same code as a built arbiter, without a link per test (which takes
// longer than most of these tests).

const arbiterMainEnv = "ARBITER_TEST_RUN_MAIN"

func init() {
	if os.Getenv(arbiterMainEnv) == "1" {
		main()
		os.Exit(0)
	}
}

// arbiterCommand returns a command running arbiter with args.
func arbiterCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), arbiterMainEnv+"=1")
	return cmd
}

var (
	rpcListeningLine = regexp.MustCompile(`msg="JSON-RPC listening" addr=http://(\S+)`)
	p2pListeningLine = regexp.MustCompile(`msg="p2p listening" addrs=\[([^\] ]+)`)
	nodeStartedLine  = regexp.MustCompile(`msg="node started"`)
)

// arbProc is a running arbiter process whose stdout and stderr are kept, line
// by line, for assertions and for the failure dump.
type arbProc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process is reaped
	err    error         // exit status, set before exited is closed

	mu      sync.Mutex
	lines   []string
	partial []byte

	rpcURL  string // http://host:port, for nodes
	p2pAddr string // listen multiaddr ending in /p2p/<id>, for nodes
	rpc     *gethrpc.Client
	eth     *ethclient.Client
}

// Write splits output into lines; it is the process's stdout and stderr.
func (p *arbProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		p.lines = append(p.lines, string(p.partial[:i]))
		p.partial = p.partial[i+1:]
	}
	return len(b), nil
}

// log returns the lines written so far.
func (p *arbProc) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := slices.Clone(p.lines)
	if len(p.partial) > 0 {
		out = append(out, string(p.partial))
	}
	return out
}

// find returns the submatches of the first line matching re, or nil.
func (p *arbProc) find(re *regexp.Regexp) []string {
	for _, l := range p.log() {
		if m := re.FindStringSubmatch(l); m != nil {
			return m
		}
	}
	return nil
}

// findAll returns the submatches of every line matching re.
func (p *arbProc) findAll(re *regexp.Regexp) [][]string {
	var out [][]string
	for _, l := range p.log() {
		if m := re.FindStringSubmatch(l); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// waitLine polls the log until a line matches re, the process exits or
// the timeout passes.
func (p *arbProc) waitLine(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		if m := p.find(re); m != nil {
			return m, nil
		}
		select {
		case <-p.exited:
			if m := p.find(re); m != nil {
				return m, nil
			}
			return nil, fmt.Errorf("%s exited (%v) before logging %q", p.name, p.err, re)
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s logged no %q within %v", p.name, re, timeout)
		}
		time.Sleep(10 * time.Millisecond) // polling a log
	}
}

// stop sends SIGTERM, waits up to 10 s for the process to exit, then kills
// it. It is safe to call more than once.
func (p *arbProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	stopProcess(p.cmd.Process, p.exited, syscall.SIGTERM, 10*time.Second, true)
	if p.rpc != nil {
		p.rpc.Close()
	}
}

// startProc starts bin with args. The process is stopped when the test
// ends, and its log tail is dumped if the test failed.
func startProc(t *testing.T, name string, args ...string) *arbProc {
	t.Helper()
	p := &arbProc{name: name, exited: make(chan struct{})}
	p.cmd = arbiterCommand(t, args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			lines := p.log()
			from := max(0, len(lines)-150)
			t.Logf("---- %s: %s (last %d of %d lines)\n%s", name, strings.Join(args, " "), len(lines)-from, len(lines), strings.Join(lines[from:], "\n"))
		}
	})
	return p
}

// errAddrInUse is returned by startNode when the node could not bind a
// port: the caller may retry with other ports.
var errAddrInUse = errors.New("address already in use")

// startNode runs `arbiter node` with args (JSON-RPC on a free loopback
// port unless args set --rpc) and waits until it has started, then dials
// its JSON-RPC.
func startNode(t *testing.T, name string, args ...string) (*arbProc, error) {
	t.Helper()
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--rpc") }) {
		args = append(args, "--rpc", "127.0.0.1:0")
	}
	p := startProc(t, name, append([]string{"node"}, args...)...)
	if _, err := p.waitLine(nodeStartedLine, 30*time.Second); err != nil {
		p.stop()
		for _, l := range p.log() {
			if strings.Contains(l, "address already in use") {
				return nil, fmt.Errorf("%s: %w", name, errAddrInUse)
			}
		}
		return nil, fmt.Errorf("%w\n%s", err, strings.Join(p.log(), "\n"))
	}
	if m := p.find(p2pListeningLine); m != nil {
		p.p2pAddr = m[1]
	}
	m := p.find(rpcListeningLine)
	if m == nil {
		return p, nil // JSON-RPC disabled
	}
	p.rpcURL = "http://" + m[1]
	rc, err := gethrpc.Dial(p.rpcURL)
	if err != nil {
		return nil, fmt.Errorf("%s: dial %s: %w", name, p.rpcURL, err)
	}
	p.rpc, p.eth = rc, ethclient.NewClient(rc)
	return p, nil
}

// mustStartNode is startNode failing the test on any error.
func mustStartNode(t *testing.T, name string, args ...string) *arbProc {
	t.Helper()
	p, err := startNode(t, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startTestnet writes a network with `arbiter testnet` and runs one node
// per member (with extra args), retrying on other ports when a port is
// taken. It returns the network directory and the nodes, member i at
// index i-1.
func startTestnet(t *testing.T, members int, engine string, extra ...string) (string, []*arbProc) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		dir := filepath.Join(t.TempDir(), "net")
		base := freeBasePort(t, members)
		out, err := arbiterCommand(t, "testnet", "--members", strconv.Itoa(members), "--engine", engine,
			"--out", dir, "--base-port", strconv.Itoa(base), "--block-time", "1s").CombinedOutput()
		if err != nil {
			t.Fatalf("testnet: %v\n%s", err, out)
		}
		var nodes []*arbProc
		for i := 1; i <= members; i++ {
			m := filepath.Join(dir, fmt.Sprintf("member%d", i))
			args := append([]string{"--datadir", filepath.Join(m, "data"), "--key", filepath.Join(m, "key")}, extra...)
			p, err := startNode(t, fmt.Sprintf("member%d", i), args...)
			if errors.Is(err, errAddrInUse) && attempt < 5 {
				t.Logf("attempt %d: %v; retrying on other ports", attempt, err)
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			nodes = append(nodes, p)
		}
		if len(nodes) == members {
			return dir, nodes
		}
		for _, p := range nodes {
			p.stop()
		}
	}
}

// rpcBlock is the part of eth_getBlockByNumber the tests read. The hash is
// the node's own, not one recomputed from the JSON fields.
type rpcBlock struct {
	Number       hexutil.Uint64 `json:"number"`
	Hash         common.Hash    `json:"hash"`
	ParentHash   common.Hash    `json:"parentHash"`
	Difficulty   *hexutil.Big   `json:"difficulty"`
	Transactions []common.Hash  `json:"transactions"`
}

// blockAt returns the canonical block at n on p, or nil if it has none.
func blockAt(ctx context.Context, p *arbProc, n uint64) (*rpcBlock, error) {
	var b *rpcBlock
	if err := p.rpc.CallContext(ctx, &b, "eth_getBlockByNumber", hexutil.EncodeUint64(n), false); err != nil {
		return nil, err
	}
	return b, nil
}

// heads returns every node's head number.
func headNumbers(ctx context.Context, nodes []*arbProc) ([]uint64, error) {
	out := make([]uint64, len(nodes))
	for i, p := range nodes {
		n, err := p.eth.BlockNumber(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		out[i] = n
	}
	return out, nil
}

// agreeAt reports whether every node has the same canonical block at n,
// and returns it.
func agreeAt(ctx context.Context, nodes []*arbProc, n uint64) (*rpcBlock, bool, error) {
	var first *rpcBlock
	for _, p := range nodes {
		b, err := blockAt(ctx, p, n)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", p.name, err)
		}
		if b == nil {
			return nil, false, nil
		}
		if first == nil {
			first = b
		} else if b.Hash != first.Hash {
			return nil, false, nil
		}
	}
	return first, true, nil
}

// totalDifficulty sums the difficulties of block h and its ancestors on
// p, down to block 1 (the genesis difficulty is common to every branch).
// It walks by parent hash, so a reorg during the walk does not mix
// branches.
func totalDifficulty(ctx context.Context, p *arbProc, h common.Hash) (*big.Int, error) {
	td := new(big.Int)
	for {
		var b *rpcBlock
		if err := p.rpc.CallContext(ctx, &b, "eth_getBlockByHash", h, false); err != nil {
			return nil, err
		}
		if b == nil {
			return nil, fmt.Errorf("%s: no block %s", p.name, h)
		}
		if b.Number == 0 {
			return td, nil
		}
		td.Add(td, b.Difficulty.ToInt())
		h = b.ParentHash
	}
}

// netPeerCount returns p's net_peerCount.
func netPeerCount(ctx context.Context, p *arbProc) (uint64, error) {
	var n hexutil.Uint
	err := p.rpc.CallContext(ctx, &n, "net_peerCount")
	return uint64(n), err
}

// metric returns the value of an unlabelled metric on p's /metrics.
func scrapeMetric(ctx context.Context, p *arbProc, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.rpcURL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			return strconv.ParseFloat(f[1], 64)
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return 0, fmt.Errorf("%s: no metric %s", p.name, name)
}

// poll calls cond every interval until it returns true or an error, or the
// timeout passes; it fails the test on error or timeout, reporting the
// last state cond described.
func pollUntil(t *testing.T, what string, timeout, interval time.Duration, cond func(ctx context.Context) (bool, string, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ok, state, err := cond(ctx)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last: %s", what, timeout, last)
		}
		time.Sleep(interval) // polling real processes
	}
}

// waitCaughtUp polls m until its head reaches target, fails the test if m's
// block at target's height is not target, and returns how long after start
// the head got there.
func waitCaughtUp(t *testing.T, m *arbProc, target *types.Block, start time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	var caughtUp time.Duration
	pollUntil(t, m.name+" reaches the target head", timeout, 20*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		n, err := m.eth.BlockNumber(ctx)
		if err != nil {
			return false, "", err
		}
		caughtUp = time.Since(start)
		return n >= target.NumberU64(), fmt.Sprintf("%s at %d of %d", m.name, n, target.NumberU64()), nil
	})
	b, err := blockAt(context.Background(), m, target.NumberU64())
	if err != nil || b == nil || b.Hash != target.Hash() {
		t.Fatalf("%s after catch-up: block %d is %v (%v), want %s", m.name, target.NumberU64(), b, err, target.Hash())
	}
	return caughtUp
}
