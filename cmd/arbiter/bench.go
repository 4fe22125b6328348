package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
)

// The load tool, `arbiter bench`, drives any Ethereum JSON-RPC node: an
// Arbiter member or geth --dev, so the same load runs against both. It
// either funds fresh senders from a funded account (vouching for them on
// Arbiter) or sends from given keys, pre-signs every transfer, sends them
// over HTTP (one per request, or in batches), follows the chain's heads and
// its "finalized" block, and reports throughput, submit-to-inclusion and
// submit-to-final latency (from when a transfer's first request was sent,
// so time a node held it or refused it counts) and, for the given
// processes, CPU time per transaction and peak memory. The pieces:
//
//	bench.go         flags and the run's configuration
//	bench_fund.go    fees, fresh senders, funding and vouching
//	bench_send.go    pre-signing and sending with backoff
//	bench_watch.go   following heads, inclusion and finality
//	bench_procs.go   CPU time and peak memory from /proc
//	bench_report.go  the result, its line and its JSON

// Errors of the bench command's flags.
var (
	// errBenchMode: neither or both of --keys and --funder were given.
	errBenchMode = errors.New("give either --keys (existing senders) or --funder (fresh senders)")
	// errBenchURL: a JSON-RPC URL is not http(s):// or ws(s)://.
	errBenchURL = errors.New("JSON-RPC URL must be http://, https://, ws:// or wss://")
	// errBenchRate: --rate is negative, not finite, or so small that a
	// slot's time would overflow.
	errBenchRate = fmt.Errorf("--rate must be 0 (unpaced) or a finite number of at least %g", minBenchRate)
)

// benchConfig is one run of the load tool, resolved from its flags.
type benchConfig struct {
	watch    string   // URL the tool follows heads on, reads blocks from and funds through
	sendURLs []string // HTTP URLs transactions are sent to; senders round-robin
	batch    int      // eth_sendRawTransaction calls per request

	keys      []*ecdsa.PrivateKey // existing senders (--keys), or nil
	txs       int                 // transfers with --keys
	funder    string              // key file, or "node"; fresh senders
	senders   int                 // fresh senders
	perSender int                 // transfers per fresh sender
	conc      int                 // parallel senders
	rate      float64             // offered transfers per second over all senders; 0: as fast as answered

	requireFinal bool          // wait for finality of every transfer, fail otherwise
	finalWait    time.Duration // how long finality may stand still after the last inclusion
	procs        []benchProc   // processes to measure
	progress     io.Writer     // progress lines (stderr)
}

// minBenchRate is the smallest --rate: one transfer in 1,000 s.
const minBenchRate = 0.001

// funderNode is the --funder value that funds from the node's first
// unlocked account with eth_sendTransaction (geth --dev).
const funderNode = "node"

// runBench is `arbiter bench`.
func runBench(args []string, stdout io.Writer) error {
	fs := newFlags("bench")
	rpcURL := fs.String("rpc", "ws://127.0.0.1:8545/ws", "node JSON-RPC URL: the tool follows its heads (ws:// by subscription, http:// by polling) and, without --nodes, sends to it")
	keyList := fs.String("keys", "", "comma-separated sender key files (members or allowed accounts), instead of fresh senders")
	txs := fs.Int("txs", 10000, "transfers to send with --keys")
	conc := fs.Int("concurrency", 8, "parallel senders (with --funder the default is one per sender)")
	finalized := fs.Bool("finalized", false, "wait until every transfer is final (fail if it never is) and report that")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	nodes := fs.String("nodes", "", "comma-separated JSON-RPC URLs to send to, senders spread round-robin (default: --rpc); a ws:// URL is sent to over HTTP on the same host and port")
	wsURL := fs.String("ws", "", "WebSocket URL to follow heads on (default: --rpc, or the first of --nodes, if ws://; otherwise poll eth_blockNumber every 25ms)")
	batch := fs.Int("batch", 1, "eth_sendRawTransaction calls per JSON-RPC request (1: one transaction per request)")
	senders := fs.Int("senders", 20, "fresh senders, with --funder")
	perSender := fs.Int("per-sender", 1000, "transfers per fresh sender")
	funder := fs.String("funder", "", `key file of a funded account (on Arbiter a member, who also vouches for the senders) that funds fresh senders, or "node" for the node's first unlocked account (geth --dev)`)
	finalWait := fs.Duration("final-wait", 90*time.Second, "after the last inclusion, how long the finalized block may stand still before the tool reports inclusion only (default 0 with --keys)")
	pids := fs.String("pids", "", "comma-separated process ids whose CPU time and peak memory to report")
	procNames := fs.String("procs", "", "comma-separated process names, resolved via /proc, to measure like --pids")
	jsonOut := fs.String("json", "", "also write the result as JSON to this file")
	cpuProfile := fs.String("cpuprofile", "", "write the tool's own CPU profile (runtime/pprof) to this file")
	rateFlag := fs.Float64("rate", 0, "offer this many transfers per second over all senders, the k-th due k/rate s after the start (0: each sender sends its next as soon as the last is answered)")
	if err := parse(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg := benchConfig{batch: *batch, txs: *txs, funder: *funder, senders: *senders, perSender: *perSender,
		conc: *conc, rate: *rateFlag, requireFinal: *finalized, finalWait: *finalWait, progress: os.Stderr}
	if (*keyList == "") == (*funder == "") {
		return errBenchMode
	}
	if *batch < 1 || *conc < 1 {
		return errors.New("--batch and --concurrency must be positive")
	}
	if r := *rateFlag; math.IsNaN(r) || math.IsInf(r, 0) || r < 0 || (r > 0 && r < minBenchRate) {
		return errBenchRate
	}
	if *keyList != "" {
		if *txs < 1 {
			return errors.New("--txs must be positive")
		}
		for _, f := range splitList(*keyList) {
			k, err := crypto.LoadECDSA(f)
			if err != nil {
				return fmt.Errorf("load key %s: %w", f, err)
			}
			cfg.keys = append(cfg.keys, k)
		}
		if !set["final-wait"] {
			cfg.finalWait = 0 // as before: --keys measures inclusion unless --finalized
		}
	} else {
		if *senders < 1 || *perSender < 1 {
			return errors.New("--senders and --per-sender must be positive")
		}
		if !set["concurrency"] {
			cfg.conc = *senders
		}
	}

	var err error
	if cfg.watch, cfg.sendURLs, err = benchURLs(*rpcURL, set["rpc"], *nodes, *wsURL); err != nil {
		return err
	}
	if cfg.procs, err = benchProcs(*pids, *procNames); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res, err := benchLoad(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, res)
	if *jsonOut != "" {
		b, err := json.MarshalIndent(res.report(), "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// benchURLs resolves the URL to watch and the URLs to send to. The watched
// URL is --ws if given, else --rpc if given, else the first of --nodes,
// else --rpc's default. Transactions go to each of --nodes (default:
// --rpc) over HTTP.
func benchURLs(rpcURL string, rpcSet bool, nodes, ws string) (watch string, send []string, err error) {
	list := splitList(nodes)
	if len(list) == 0 {
		list = []string{rpcURL}
	}
	for _, u := range list {
		h, err := benchHTTPURL(u)
		if err != nil {
			return "", nil, err
		}
		send = append(send, h)
	}
	switch {
	case ws != "":
		watch = ws
	case rpcSet || nodes == "":
		watch = rpcURL
	default:
		watch = list[0]
	}
	if _, err := benchHTTPURL(watch); err != nil {
		return "", nil, err
	}
	return watch, send, nil
}

// benchHTTPURL is the HTTP URL to send JSON-RPC to for a node URL: ws://
// becomes http:// (wss:// https://) on the same host and port, and a path
// of /ws (Arbiter's WebSocket path) becomes /, where Arbiter and geth
// (with --ws.port equal to --http.port) take HTTP JSON-RPC.
func benchHTTPURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", errBenchURL, raw, err)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws", "wss":
		u.Scheme = strings.Replace(u.Scheme, "ws", "http", 1)
		if u.Path == "/ws" {
			u.Path = "/"
		}
	default:
		return "", fmt.Errorf("%w: %q", errBenchURL, raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("%w: %q has no host", errBenchURL, raw)
	}
	return u.String(), nil
}

// isWebSocket reports whether a URL is ws:// or wss://.
func isWebSocket(raw string) bool {
	return strings.HasPrefix(raw, "ws://") || strings.HasPrefix(raw, "wss://")
}

// benchProcs resolves --pids and --procs to the processes to measure.
func benchProcs(pids, names string) ([]benchProc, error) {
	var out []benchProc
	for _, p := range splitList(pids) {
		pid, err := strconv.Atoi(p)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("--pids: %q is not a process id", p)
		}
		out = append(out, benchProc{pid: pid, name: procName(pid)})
	}
	if list := splitList(names); len(list) > 0 {
		found, err := findProcs("/proc", list, os.Getpid())
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}
