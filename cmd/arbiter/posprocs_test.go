package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/node/posval"
)

// posNet is a proof-of-stake test network written by `arbiter testnet`
// whose members run as separate `arbiter node` processes. Ports: member i
// listens for p2p on base+i (as genesis says) and for JSON-RPC on
// base+members+i; the ports base+2*members+1 onwards are spare (extra
// processes). All were free when the network was written.
type posNet struct {
	bin, dir string
	base     int
	members  int
	nodes    []*posNode // nodes[i] is member i+1

	mu      sync.Mutex
	procs   []*posNode             // every process ever started, for cleanup
	final   map[uint64]common.Hash // hash first seen final at each height
	finalBy map[uint64]string      // which node reported it
	checked map[*posNode]uint64    // heights checked per node
}

// posSparePorts is how many ports above the members' RPC ports are free
// for extra processes.
const posSparePorts = 4

// startPosNet writes a pos testnet of n members on a random free port
// range in 40000-60000 and prepares (does not start) its member nodes.
// Every process started on it is killed when the test ends, and if the
// test failed the tail of each process's log is printed.
func startPosNet(t *testing.T, bin string, members int, blockTime time.Duration) *posNet {
	t.Helper()
	width := 2*members + posSparePorts + 1
	base := freeBasePort(t, width-1)
	dir := filepath.Join(t.TempDir(), "net")
	out, err := exec.Command(bin, "testnet", "--members", strconv.Itoa(members), "--engine", "pos",
		"--out", dir, "--base-port", strconv.Itoa(base), "--block-time", blockTime.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("arbiter testnet: %v\n%s", err, out)
	}
	pn := &posNet{bin: bin, dir: dir, base: base, members: members,
		final: map[uint64]common.Hash{}, finalBy: map[uint64]string{}, checked: map[*posNode]uint64{}}
	for i := 1; i <= members; i++ {
		m := filepath.Join(dir, fmt.Sprintf("member%d", i))
		pn.nodes = append(pn.nodes, pn.newNode(t, fmt.Sprintf("node%d", i),
			filepath.Join(m, "data"), filepath.Join(m, "key"), base+members+i))
	}
	t.Cleanup(func() { pn.stopAll(t) })
	return pn
}

// stopAll kills every process started on the network and, if the test
// failed, prints the tail of each one's log.
func (pn *posNet) stopAll(t *testing.T) {
	pn.mu.Lock()
	procs := slices.Clone(pn.procs)
	pn.mu.Unlock()
	if t.Failed() && os.Getenv("ARBITER_POS_LOGS") != "" {
		for _, p := range procs {
			p.quit() // goroutine dump into the kept log
		}
	}
	for _, p := range procs {
		p.kill()
	}
	if t.Failed() {
		for _, p := range procs {
			p.dumpLog(t, 40)
		}
	}
}

// sparePort returns spare port i (0-based) of the network.
func (pn *posNet) sparePort(i int) int { return pn.base + 2*pn.members + 1 + i }

// newNode prepares a node process description; extra are further
// `arbiter node` flags.
func (pn *posNet) newNode(t *testing.T, name, dataDir, keyFile string, rpcPort int, extra ...string) *posNode {
	t.Helper()
	return pn.newNodeAt(t, name, dataDir, keyFile, fmt.Sprintf("127.0.0.1:%d", rpcPort), extra...)
}

// newNodeAt is newNode with JSON-RPC on rpcAddr (host:port).
func (pn *posNet) newNodeAt(t *testing.T, name, dataDir, keyFile, rpcAddr string, extra ...string) *posNode {
	t.Helper()
	c, err := gethrpc.DialOptions(context.Background(), "http://"+rpcAddr,
		gethrpc.WithHTTPClient(&http.Client{Timeout: 3 * time.Second}))
	if err != nil {
		t.Fatalf("%s: dial rpc: %v", name, err)
	}
	t.Cleanup(c.Close)
	args := append([]string{"node", "--datadir", dataDir, "--key", keyFile, "--rpc", rpcAddr}, extra...)
	logPath := filepath.Join(filepath.Dir(dataDir), name+".log")
	// ARBITER_POS_LOGS=DIR keeps the nodes' logs in DIR (and dumps their
	// goroutines there if the test fails); ARBITER_POS_DEBUG=1 logs at
	// debug level.
	if keep := os.Getenv("ARBITER_POS_LOGS"); keep != "" {
		if err := os.MkdirAll(keep, 0o755); err != nil {
			t.Fatal(err)
		}
		logPath = filepath.Join(keep, fmt.Sprintf("%s-%s.log", strings.ReplaceAll(t.Name(), "/", "_"), name))
	}
	if os.Getenv("ARBITER_POS_DEBUG") == "1" {
		args = append(args, "--log-level", "debug")
	}
	return &posNode{net: pn, name: name, dataDir: dataDir, keyFile: keyFile, rpcAddr: rpcAddr, args: args,
		client: c, logPath: logPath}
}

// posNode is one `arbiter node` process, restartable on the same data
// directory and key.
type posNode struct {
	net              *posNet
	name             string
	dataDir, keyFile string
	rpcAddr          string
	args             []string
	prefix           []string // command the process runs under, e.g. ip netns exec NS; set while stopped
	client           *gethrpc.Client
	logPath          string
	posEquivocations atomic.Int64

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the running process has exited
}

// start runs the process and waits until its JSON-RPC answers.
func (p *posNode) start(t *testing.T) {
	t.Helper()
	p.launch(t)
	p.waitRPC(t)
}

// posStartAll launches the processes together, then waits for each one's
// JSON-RPC: members that start together agree on round 0 sooner.
func posStartAll(t *testing.T, nodes []*posNode) {
	t.Helper()
	for _, p := range nodes {
		p.launch(t)
	}
	for _, p := range nodes {
		p.waitRPC(t)
	}
}

// launch starts the process without waiting for it.
func (p *posNode) launch(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		t.Fatalf("%s: already running", p.name)
	}
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		t.Fatal(err)
	}
	fmt.Fprintf(logFile, "----- %s start %s\n", p.name, strings.Join(append(slices.Clone(p.prefix), p.args...), " "))
	argv := append(slices.Clone(p.prefix), p.net.bin)
	cmd := exec.Command(argv[0], append(argv[1:], p.args...)...)
	cmd.Stdout = logFile
	cmd.Stderr = &posLogWatcher{node: p, out: logFile}
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		logFile.Close()
		t.Fatalf("%s: start: %v", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	p.net.mu.Lock()
	if !slices.Contains(p.net.procs, p) {
		p.net.procs = append(p.net.procs, p)
	}
	p.net.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(done)
	}()
}

// waitRPC polls the process's JSON-RPC until it answers.
func (p *posNode) waitRPC(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	what := fmt.Sprintf("%s: JSON-RPC on %s (log %s)", p.name, p.rpcAddr, p.logPath)
	waitReady(t, what, 20*time.Second, 20*time.Millisecond, done, func() bool {
		var num hexutil.Uint64
		return p.call(&num, "eth_blockNumber") == nil
	})
}

// kill sends SIGKILL and waits for the process to be gone. It does nothing
// if the process is not running.
func (p *posNode) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	stopProcess(cmd.Process, done, syscall.SIGKILL, 10*time.Second, true)
}

// quit sends SIGQUIT, which makes a Go process dump its goroutines and
// exit, and waits up to 5s for it to exit.
func (p *posNode) quit() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	stopProcess(cmd.Process, done, syscall.SIGQUIT, 5*time.Second, false)
}

// dumpLog prints the last n lines of the node's log.
func (p *posNode) dumpLog(t *testing.T, n int) {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	t.Logf("---- last %d lines of %s:\n%s", len(lines), p.logPath, strings.Join(lines, "\n"))
}

// posLogWatcher writes a node's log to a file and counts the lines the tests
// look for.
type posLogWatcher struct {
	node *posNode
	out  *os.File
	buf  []byte
}

func (w *posLogWatcher) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := w.buf[:i]
		if bytes.Contains(line, []byte(`msg="equivocation detected"`)) {
			w.node.posEquivocations.Add(1)
		}
		w.buf = w.buf[i+1:]
	}
	return w.out.Write(b)
}

// call makes one JSON-RPC call with a short deadline.
func (p *posNode) call(result any, method string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return p.client.CallContext(ctx, result, method, args...)
}

type posBlock struct {
	Number hexutil.Uint64 `json:"number"`
	Hash   common.Hash    `json:"hash"`
}

// block returns the node's block for a tag ("finalized", "latest") or a
// number.
func (p *posNode) block(which any) (posBlock, error) {
	var b *posBlock
	if n, ok := which.(uint64); ok {
		which = hexutil.Uint64(n)
	}
	if err := p.call(&b, "eth_getBlockByNumber", which, false); err != nil {
		return posBlock{}, fmt.Errorf("%s: eth_getBlockByNumber(%v): %w", p.name, which, err)
	}
	if b == nil {
		return posBlock{}, fmt.Errorf("%s: no block %v", p.name, which)
	}
	return *b, nil
}

// finalized returns the node's newest final block, recording it.
func (p *posNode) finalized(t *testing.T) uint64 {
	t.Helper()
	b, err := p.block("finalized")
	if err != nil {
		t.Fatal(err)
	}
	p.net.record(t, p, uint64(b.Number), b.Hash)
	return uint64(b.Number)
}

// record notes that node p reports hash final at height num and fails the
// test if another node reported a different block final there.
func (pn *posNet) record(t *testing.T, p *posNode, num uint64, hash common.Hash) {
	t.Helper()
	if num == 0 {
		return
	}
	pn.mu.Lock()
	defer pn.mu.Unlock()
	if have, ok := pn.final[num]; !ok {
		pn.final[num], pn.finalBy[num] = hash, p.name
	} else if have != hash {
		t.Fatalf("SAFETY VIOLATION: height %d is final as %s on %s but as %s on %s", num, have, pn.finalBy[num], hash, p.name)
	}
}

// check compares, for every given node, each final height it has not
// been checked at yet (up to its own finalized height) with what every
// other node reported there. It returns the smallest finalized height.
func (pn *posNet) check(t *testing.T, nodes ...*posNode) uint64 {
	t.Helper()
	low := uint64(1<<63 - 1)
	for _, p := range nodes {
		fin := p.finalized(t)
		low = min(low, fin)
		pn.mu.Lock()
		from := pn.checked[p] + 1
		pn.mu.Unlock()
		for n := from; n <= fin; n++ {
			b, err := p.block(n)
			if err != nil {
				t.Fatal(err)
			}
			pn.record(t, p, n, b.Hash)
		}
		pn.mu.Lock()
		pn.checked[p] = max(pn.checked[p], fin)
		pn.mu.Unlock()
	}
	return low
}

// posFinals returns the finalized heights of nodes, in order.
func posFinals(t *testing.T, nodes []*posNode) []uint64 {
	t.Helper()
	out := make([]uint64, len(nodes))
	for i, p := range nodes {
		out[i] = p.finalized(t)
	}
	return out
}

func posMin(v []uint64) uint64 {
	m := v[0]
	for _, x := range v[1:] {
		m = min(m, x)
	}
	return m
}

func posMax(v []uint64) uint64 {
	m := v[0]
	for _, x := range v[1:] {
		m = max(m, x)
	}
	return m
}

// posWaitFinal polls until every node's finalized height is at least target
// and returns the heights and how long it took; it fails the test at the
// deadline.
func posWaitFinal(t *testing.T, nodes []*posNode, target uint64, within time.Duration, what string) ([]uint64, time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		f := posFinals(t, nodes)
		if posMin(f) >= target {
			return f, time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: finalized heights %v after %v, want all >= %d", what, f, within, target)
		}
		time.Sleep(50 * time.Millisecond) // polling live nodes
	}
}

// scanLog returns the lines of the node's log containing substr.
func (p *posNode) scanLog(substr string) []string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// address returns the address of member i+1's key.
func (pn *posNet) address(t *testing.T, i int) common.Address {
	t.Helper()
	k, err := crypto.LoadECDSA(pn.nodes[i].keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return crypto.PubkeyToAddress(k.PublicKey)
}

// cpu returns the CPU time the running process has used so far (user plus
// system, from /proc), or 0 if it is not running or /proc is unavailable.
func (p *posNode) cpu() time.Duration {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil {
		return 0
	}
	return posProcCPU(cmd.Process.Pid)
}

// posProcCPU reads a process's user plus system time from /proc/PID/stat
// (in clock ticks of 1/100 s, the Linux USER_HZ).
func posProcCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseUint(f[11], 10, 64)
	stime, _ := strconv.ParseUint(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// posProposerTurn returns validator's turn in the proposer rotation of a
// network of four equal stakes: proposer(h, r) is validator exactly when
// (h+r) mod 4 is the turn. It waits for a block from height 2 on (height
// 1 has the genesis set, whose rotation may be offset) that validator
// proposed, reading the round from the header's extra data.
func posProposerTurn(t *testing.T, p *posNode, validator common.Address) uint64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for n := uint64(2); ; {
		var hdr *struct {
			Miner common.Address `json:"miner"`
			Extra hexutil.Bytes  `json:"extraData"`
		}
		if err := p.call(&hdr, "eth_getBlockByNumber", hexutil.Uint64(n), false); err != nil {
			t.Fatal(err)
		}
		if hdr == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no block by %s within 20s", validator)
			}
			time.Sleep(50 * time.Millisecond) // polling for the next block
			continue
		}
		if hdr.Miner == validator {
			ex, err := pos.DecodeExtra(hdr.Extra)
			if err != nil {
				t.Fatalf("block %d extra: %v", n, err)
			}
			return (n + uint64(ex.Round)) % 4
		}
		n++
	}
}

// posWALMessages returns the consensus messages in a WAL file (records
// [length u32][crc32c u32][kind][data], kinds 1 received and 3 own),
// stopping at a torn tail. The node may be appending meanwhile.
func posWALMessages(path string) []any {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []any
	for len(b) >= 9 {
		n := int(binary.BigEndian.Uint32(b))
		if n < 1 || len(b) < 8+n {
			break
		}
		rec := b[8 : 8+n]
		if crc32.Checksum(rec, crc32.MakeTable(crc32.Castagnoli)) != binary.BigEndian.Uint32(b[4:]) {
			break
		}
		if kind := rec[0]; kind == 1 || kind == 3 {
			if m, err := pos.DecodeMessage(rec[1:], pos.DefaultMaxMessageSize); err == nil {
				out = append(out, m)
			}
		}
		b = b[8+n:]
	}
	return out
}

// posAwaitPrevote polls p's WAL until it holds signer's prevote for round 0
// of height h, and returns it with signer's proposal there if p holds one.
func posAwaitPrevote(t *testing.T, p *posNode, h uint64, signer common.Address, chainID *big.Int, within time.Duration) (*pos.Proposal, *pos.Vote) {
	t.Helper()
	path := filepath.Join(p.dataDir, posval.WALFile)
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var (
			prop *pos.Proposal
			vote *pos.Vote
		)
		for _, m := range posWALMessages(path) {
			switch m := m.(type) {
			case *pos.Proposal:
				if a, err := m.Signer(chainID); err == nil && a == signer && m.Height == h && m.Round == 0 {
					prop = m
				}
			case *pos.Vote:
				if a, err := m.Signer(chainID); err == nil && a == signer && m.Type == pos.Prevote && m.Height == h && m.Round == 0 {
					vote = m
				}
			}
		}
		if vote != nil {
			return prop, vote
		}
	}
	return nil, nil
}
