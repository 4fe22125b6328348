package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/arbiter-chain/arbiter/node/txpool"
)

// codedErr is a JSON-RPC error with a code, as the rpc client returns them.
type codedErr struct {
	code int
	msg  string
}

func (e codedErr) Error() string  { return e.msg }
func (e codedErr) ErrorCode() int { return e.code }

func TestBenchRetryable(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		retry     bool
		knownOnly bool
	}{
		{"arbiter pool full", codedErr{-32000, txpool.ErrPoolFull.Error()}, true, false},
		{"arbiter sender limit", codedErr{-32000, txpool.ErrSenderLimit.Error()}, true, false},
		{"geth pool full", codedErr{-32000, "txpool is full"}, true, false},
		{"geth account limit", fmt.Errorf("wrapped: %w", codedErr{-32000, "account limit exceeded: pooled 16 txs"}), true, false},
		{"rate limit code", codedErr{-32005, "request rate exceeded"}, true, false},
		{"HTTP 429", rpc.HTTPError{StatusCode: 429, Status: "429 Too Many Requests"}, true, false},
		{"HTTP 503", rpc.HTTPError{StatusCode: 503, Status: "503 Service Unavailable"}, true, false},
		{"HTTP 400", rpc.HTTPError{StatusCode: 400, Status: "400 Bad Request"}, false, false},
		{"nonce too low", codedErr{-32000, "nonce too low"}, false, false},
		{"not allowed", codedErr{-32000, "sender is not a member or allowed account"}, false, false},
		{"already known", codedErr{-32000, txpool.ErrAlreadyKnown.Error()}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if have := retryable(tt.err); have != tt.retry {
				t.Errorf("retryable: have %v, want %v", have, tt.retry)
			}
			if have := alreadyKnown(tt.err); have != tt.knownOnly {
				t.Errorf("alreadyKnown: have %v, want %v", have, tt.knownOnly)
			}
		})
	}
}

func TestBenchURLs(t *testing.T) {
	tests := []struct {
		name      string
		rpcURL    string
		rpcSet    bool
		nodes, ws string
		watch     string
		send      []string
		wantErr   error
	}{
		{"default, arbiter ws path", "ws://127.0.0.1:8545/ws", false, "", "",
			"ws://127.0.0.1:8545/ws", []string{"http://127.0.0.1:8545/"}, nil},
		{"http rpc polls", "http://h:1", true, "", "", "http://h:1", []string{"http://h:1"}, nil},
		{"nodes without rpc: watch the first", "ws://127.0.0.1:8545/ws", false, "ws://a:1/ws, http://b:2 ,wss://c:3", "",
			"ws://a:1/ws", []string{"http://a:1/", "http://b:2", "https://c:3"}, nil},
		{"rpc given with nodes: watch rpc", "http://w:9", true, "http://a:1,http://b:2", "",
			"http://w:9", []string{"http://a:1", "http://b:2"}, nil},
		{"ws given: watch it", "http://w:9", true, "http://a:1", "ws://a:2",
			"ws://a:2", []string{"http://a:1"}, nil},
		{"geth ws on its own path", "ws://g:8546", true, "", "", "ws://g:8546", []string{"http://g:8546"}, nil},
		{"unknown scheme", "ipc:///tmp/geth.ipc", true, "", "", "", nil, errBenchURL},
		{"no host", "http://", true, "", "", "", nil, errBenchURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			watch, send, err := benchURLs(tt.rpcURL, tt.rpcSet, tt.nodes, tt.ws)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error: have %v, want %v", err, tt.wantErr)
			}
			if watch != tt.watch || !slices.Equal(send, tt.send) {
				t.Errorf("have watch %q send %q, want %q %q", watch, send, tt.watch, tt.send)
			}
		})
	}
}

func TestBenchFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want error
	}{
		{"neither keys nor funder", []string{}, errBenchMode},
		{"both keys and funder", []string{"--keys", "k", "--funder", "node"}, errBenchMode},
		{"bad url", []string{"--funder", "node", "--rpc", "tcp://x:1"}, errBenchURL},
		{"negative rate", []string{"--funder", "node", "--rate", "-1"}, errBenchRate},
		{"infinite rate", []string{"--funder", "node", "--rate", "+Inf"}, errBenchRate},
		{"rate not a number", []string{"--funder", "node", "--rate", "NaN"}, errBenchRate},
		{"rate below the floor", []string{"--funder", "node", "--rate", "1e-10"}, errBenchRate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := runBench(tt.args, io.Discard); !errors.Is(err, tt.want) {
				t.Errorf("have %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseProcStat(t *testing.T) {
	tail := "S 1 2 3 4 5 6 7 8 9 10 %d %d 13 14 15"
	tests := []struct {
		name    string
		stat    string
		want    uint64
		wantErr bool
	}{
		{"plain", "42 (arbiter) " + fmt.Sprintf(tail, 150, 25), 175, false},
		{"name with spaces and parentheses", "42 (a) (b c) " + fmt.Sprintf(tail, 7, 3), 10, false},
		{"no name", "42 arbiter S 1 2", 0, true},
		{"cut short", "42 (arbiter) S 1 2 3", 0, true},
		{"not a number", "42 (arbiter) S 1 2 3 4 5 6 7 8 9 10 x 3 13", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have, err := parseProcStat(tt.stat)
			if (err != nil) != tt.wantErr || have != tt.want {
				t.Errorf("have %d, %v; want %d, error %v", have, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errProcFormat) {
				t.Errorf("error %v is not errProcFormat", err)
			}
		})
	}
}

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    uint64
		wantErr bool
	}{
		{"present", "Name:\tgeth\nVmPeak:\t 900 kB\nVmHWM:\t  524288 kB\nVmRSS:\t 1000 kB\n", 524288, false},
		{"absent (kernel thread)", "Name:\tkthreadd\nState:\tS\n", 0, true},
		{"other unit", "VmHWM:\t 12 MB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have, err := parseVmHWM(tt.status)
			if (err != nil) != tt.wantErr || have != tt.want {
				t.Errorf("have %d, %v; want %d, error %v", have, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestFindProcs resolves names against a made-up /proc: by command name or
// by the base name of the first argument, never the tool's own process.
func TestFindProcs(t *testing.T) {
	dir := t.TempDir()
	write := func(pid, comm, cmdline string) {
		t.Helper()
		p := filepath.Join(dir, pid)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "comm"), []byte(comm+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "cmdline"), []byte(cmdline), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("30", "arbiter", "/usr/bin/arbiter\x00node\x00")
	write("7", "arbiter", "./arbiter\x00bench\x00") // the tool itself
	write("12", "geth", "/opt/geth\x00--dev\x00")
	write("40", "main", "/tmp/go-build/arbiter\x00node\x00")
	write("41", "bash", "bash\x00-c\x00arbiter\x00")
	if err := os.MkdirAll(filepath.Join(dir, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		names   []string
		want    []int
		wantErr bool
	}{
		{"by comm and argv0, not self", []string{"arbiter"}, []int{30, 40}, false},
		{"two names", []string{"geth", "arbiter"}, []int{12, 30, 40}, false},
		{"a name that matches nothing", []string{"arbiter", "reth"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			procs, err := findProcs(dir, tt.names, 7)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error: have %v, want error %v", err, tt.wantErr)
			}
			var have []int
			for _, p := range procs {
				have = append(have, p.pid)
			}
			if !slices.Equal(have, tt.want) {
				t.Errorf("have pids %v, want %v", have, tt.want)
			}
		})
	}
}

// TestSummarize checks the figures computed from a ledger of made-up times.
func TestSummarize(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	hashes := make([]common.Hash, 4)
	for i := range hashes {
		hashes[i] = common.BigToHash(big.NewInt(int64(i + 1)))
	}
	l := newLedger(hashes)
	for i, ms := range []int{10, 20, 30, 40} {
		l.submitted(i, at(ms-5), at(ms))
	}
	l.submitted(0, at(90), at(99)) // a second answer does not move the first
	// Transfers 0 and 1 in a block seen at 500 ms, 2 at 1000 ms (and 0
	// again, as after a reorg); 3 never.
	if fresh, again := l.included([]common.Hash{hashes[0], hashes[1], common.HexToHash("0xff")}, at(500)); !slices.Equal(fresh, []int{0, 1}) || again != 0 {
		t.Fatalf("included: have %v, %d; want [0 1], 0", fresh, again)
	}
	if fresh, again := l.included([]common.Hash{hashes[2], hashes[0]}, at(1000)); !slices.Equal(fresh, []int{2}) || again != 1 {
		t.Fatalf("included: have %v, %d; want [2], 1", fresh, again)
	}
	l.finalized([]int{0, 1}, at(1500))
	l.finalized([]int{0}, at(1600)) // final once
	r := summarize(l, t0)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, c := range []struct {
		name       string
		have, want any
	}{
		{"sent", r.Sent, 4}, {"submitted", r.Submitted, 4}, {"included", r.Included, 3}, {"finalized", r.Finalized, 2},
		{"send window", r.Send, ms(40)}, {"include window", r.Include, ms(1000)}, {"final window", r.Final, ms(1500)},
		// latencies count from the first send, 5 ms before each answer:
		// inclusion 495, 485, 975, sorted 485 495 975
		{"inclusion p50", r.InclP50, ms(495)}, {"inclusion p99", r.InclP99, ms(975)},
		// final latencies 1495, 1485: sorted 1485 1495
		{"final p50", r.FinalP50, ms(1495)}, {"final p99", r.FinalP99, ms(1495)},
	} {
		if fmt.Sprint(c.have) != fmt.Sprint(c.want) {
			t.Errorf("%s: have %v, want %v", c.name, c.have, c.want)
		}
	}
	r.Blocks = 2
	r.Procs = []procResult{{PID: 1, CPUInclude: ms(300), CPUFinal: ms(400)}, {PID: 2, CPUInclude: ms(300), CPUFinal: ms(600)}}
	rep := r.report()
	for _, c := range []struct {
		name       string
		have, want float64
	}{
		{"txs per block", rep.TxsPerBlock, 1.5},
		{"included tx/s", rep.IncludedTPS, 3},
		{"finalized tx/s", rep.FinalizedTPS, 2 / 1.5},
		{"cpu µs per included", rep.CPUPerIncluded, 600_000 / 3.0},
		{"cpu µs per finalized", rep.CPUPerFinal, 1_000_000 / 2.0},
	} {
		if !near(c.have, c.want) {
			t.Errorf("%s: have %v, want %v", c.name, c.have, c.want)
		}
	}
}

func TestFees(t *testing.T) {
	tests := []struct {
		name      string
		base, tip *big.Int
		wantCap   int64
		perSender int
		wantFund  int64
	}{
		{"arbiter: no base fee, no tip", big.NewInt(0), big.NewInt(0), 0, 1000, 2*1000 + 1e15},
		{"geth: base fee 7, tip 1", big.NewInt(7), big.NewInt(1), 15, 10, 2*10*(15*transferGas+1) + 1e15},
		{"header without base fee", nil, big.NewInt(3), 3, 1, 2*(3*transferGas+1) + 1e15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := feeCap(tt.base, tt.tip)
			if c.Int64() != tt.wantCap {
				t.Errorf("fee cap: have %v, want %d", c, tt.wantCap)
			}
			if f := fundingAmount(tt.perSender, benchFees{tip: tt.tip, feeCap: c}); f.Int64() != tt.wantFund {
				t.Errorf("funding: have %v, want %d", f, tt.wantFund)
			}
		})
	}
}

// TestPacer: the k-th transfer is due k/rate after the start, whichever
// sender takes it, and a nil pacer (no --rate) never waits.
func TestPacer(t *testing.T) {
	start := time.Unix(1000, 0)
	p := newPacer(400, start)
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{1, 0}, {16, 2500 * time.Microsecond}, {1, 42500 * time.Microsecond}, {3, 45 * time.Millisecond}} {
		if have := p.due(c.n).Sub(start); have != c.want {
			t.Errorf("due(%d): have +%v, want +%v", c.n, have, c.want)
		}
	}
	if newPacer(0, start) != nil {
		t.Error("newPacer(0): want nil (unpaced)")
	}
	var none *pacer
	if _, err := none.wait(t.Context(), 5); err != nil {
		t.Errorf("nil pacer wait: have %v, want nil", err)
	}
	// A slot already past: wait returns at once with the slot's due time,
	// from which the transfer's latency counts.
	past := newPacer(1000, time.Now().Add(-time.Second))
	past.due(7)
	if due, err := past.wait(t.Context(), 1); err != nil || !due.Equal(past.start.Add(7*time.Millisecond)) {
		t.Errorf("wait for a past slot: have %v, %v; want start+7ms, nil", due.Sub(past.start), err)
	}
	// A slot far in the future: wait returns when the context ends.
	far := newPacer(0.001, time.Now())
	far.due(1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := far.wait(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("wait with a cancelled context: have %v, want context.Canceled", err)
	}
}
