package main

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
)

// Polling intervals of the run.
const (
	headPoll  = 25 * time.Millisecond  // eth_blockNumber, without a WebSocket
	finalPoll = 250 * time.Millisecond // the finalized block, while transfers wait for it (also read on every new head)
)

// benchLoad runs one load: it prepares the senders (funding fresh ones),
// pre-signs every transfer so signing does not count as load, sends them
// while following the chain, and summarises what it saw.
func benchLoad(ctx context.Context, cfg benchConfig) (benchResult, error) {
	ctl, err := rpc.DialContext(ctx, cfg.watch)
	if err != nil {
		return benchResult{}, fmt.Errorf("dial %s: %w", cfg.watch, err)
	}
	defer ctl.Close()
	var id hexutil.Big
	if err := ctl.CallContext(ctx, &id, "eth_chainId"); err != nil {
		return benchResult{}, fmt.Errorf("eth_chainId: %w", err)
	}
	chainID := id.ToInt()
	fees, err := readFees(ctx, ctl)
	if err != nil {
		return benchResult{}, err
	}
	res := benchResult{ChainID: chainID.Uint64(), Nodes: cfg.sendURLs, Watch: cfg.watch,
		Subscribed: isWebSocket(cfg.watch), Batch: cfg.batch, Rate: cfg.rate}

	keys, nonces, counts, err := prepareSenders(ctx, ctl, cfg, chainID, fees, &res)
	if err != nil {
		return benchResult{}, err
	}
	res.Senders = len(keys)
	txs, err := signTransfers(keys, nonces, counts, chainID, fees)
	if err != nil {
		return benchResult{}, err
	}
	clients, err := sendClients(ctx, cfg.sendURLs, cfg.conc)
	if err != nil {
		return benchResult{}, err
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	posters := make([]*poster, len(cfg.sendURLs))
	for i, u := range cfg.sendURLs {
		posters[i] = newPoster(u, sendTimeout)
		if posters[i] != nil {
			defer posters[i].close()
		}
	}
	var hashes []common.Hash
	senders := make([]benchSender, len(txs))
	for i, list := range txs {
		senders[i].client = clients[i%len(clients)]
		senders[i].post = posters[i%len(posters)]
		for _, tx := range list {
			raw, err := tx.MarshalBinary()
			if err != nil {
				return benchResult{}, err
			}
			senders[i].raw = append(senders[i].raw, raw)
			senders[i].idx = append(senders[i].idx, len(hashes))
			hashes = append(hashes, tx.Hash())
		}
	}
	led := newLedger(hashes)
	progress(cfg, "sending %d transfers from %d senders to %d node(s), following %s", len(hashes), len(keys), len(clients), cfg.watch)
	run, err := follow(ctx, cfg, ctl, led, senders)
	if err != nil {
		return benchResult{}, err
	}
	sum := summarize(led, run.t0)
	res.Sent, res.Submitted, res.Included, res.Finalized = sum.Sent, sum.Submitted, sum.Included, sum.Finalized
	res.Send, res.Include, res.Final = sum.Send, sum.Include, sum.Final
	res.InclP50, res.InclP99, res.FinalP50, res.FinalP99 = sum.InclP50, sum.InclP99, sum.FinalP50, sum.FinalP99
	res.Blocks, res.Again, res.FinalityMoved, res.Retries = run.w.blocks, run.w.again, run.w.moved, run.retries
	tick := time.Second / time.Duration(clockTicks())
	for i, p := range cfg.procs {
		peak, err := procPeakKiB(p.pid)
		if err != nil {
			return benchResult{}, fmt.Errorf("process %d (%s): %w", p.pid, p.name, err)
		}
		res.Procs = append(res.Procs, procResult{PID: p.pid, Name: p.name, PeakKiB: peak,
			CPUInclude: time.Duration(run.atIncl[i]-run.before[i]) * tick,
			CPUFinal:   time.Duration(run.atFinal[i]-run.before[i]) * tick})
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		res.BenchCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			res.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return res, nil
}

// prepareSenders returns the senders' keys, first nonces and transfer
// counts: the given keys, the --txs spread over them round-robin; or fresh
// keys, funded (and on Arbiter vouched for) by the funder.
func prepareSenders(ctx context.Context, c *rpc.Client, cfg benchConfig, chainID *big.Int, fees benchFees, res *benchResult) ([]*ecdsa.PrivateKey, []uint64, []int, error) {
	if cfg.keys != nil {
		res.Mode = "keys"
		keys := cfg.keys
		nonces, counts := make([]uint64, len(keys)), make([]int, len(keys))
		for i, k := range keys {
			var n hexutil.Uint64
			if err := c.CallContext(ctx, &n, "eth_getTransactionCount", crypto.PubkeyToAddress(k.PublicKey), "pending"); err != nil {
				return nil, nil, nil, fmt.Errorf("nonce: %w", err)
			}
			nonces[i] = uint64(n)
			if i < cfg.txs {
				counts[i] = (cfg.txs - i + len(keys) - 1) / len(keys)
			}
		}
		return keys, nonces, counts, nil
	}
	res.Mode = "fresh"
	f, err := newFunding(ctx, c, chainID, fees, cfg.funder)
	if err != nil {
		return nil, nil, nil, err
	}
	res.Arbiter = f.arbiter
	keys := make([]*ecdsa.PrivateKey, cfg.senders)
	addrs := make([]common.Address, cfg.senders)
	counts := make([]int, cfg.senders)
	for i := range keys {
		if keys[i], err = crypto.GenerateKey(); err != nil {
			return nil, nil, nil, err
		}
		addrs[i], counts[i] = crypto.PubkeyToAddress(keys[i].PublicKey), cfg.perSender
	}
	vouch := ""
	if f.arbiter {
		vouch = " and vouching for them (Arbiter)"
	}
	progress(cfg, "funding %d fresh senders from %s%s", len(keys), f.from, vouch)
	if err := f.fund(ctx, addrs, fundingAmount(cfg.perSender, fees)); err != nil {
		return nil, nil, nil, err
	}
	return keys, make([]uint64, len(keys)), counts, nil
}

// followed is what follow measured besides the ledger.
type followed struct {
	w                       *chainFollower
	t0                      time.Time  // the first request
	before, atIncl, atFinal procSample // CPU ticks at t0, the last inclusion, the last finality (or the end)
	retries                 int64
}

// follow sends the load and follows the chain until every transfer is
// final; or, unless cfg.requireFinal, every transfer is included and the
// finalized block has stood still for cfg.finalWait since the later of
// the last inclusion and its last move.
func follow(ctx context.Context, cfg benchConfig, ctl *rpc.Client, led *ledger, senders []benchSender) (followed, error) {
	w, err := newWatcher(ctx, ctl, led)
	if err != nil {
		return followed{}, err
	}
	run := followed{w: w}
	var heads chan headNotice
	var subErr <-chan error
	var poll <-chan time.Time
	if isWebSocket(cfg.watch) {
		heads = make(chan headNotice, 1024)
		sub, err := ctl.EthSubscribe(ctx, heads, "newHeads")
		if err != nil {
			return followed{}, fmt.Errorf("subscribe newHeads on %s: %w", cfg.watch, err)
		}
		defer sub.Unsubscribe()
		subErr = sub.Err()
	} else {
		t := time.NewTicker(headPoll)
		defer t.Stop()
		poll = t.C
	}
	house := time.NewTicker(finalPoll)
	defer house.Stop()

	if run.before, err = sampleProcs(cfg.procs); err != nil {
		return followed{}, err
	}
	var retries atomic.Int64
	sendCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()
	sendErr := make(chan error, 1)
	run.t0 = time.Now()
	pace := newPacer(cfg.rate, run.t0)
	go func() { sendErr <- sendLoad(sendCtx, senders, cfg.conc, cfg.batch, pace, led, &retries) }()
	sending := true
	var inclAt time.Time
	total := led.size()
	for {
		var now time.Time
		select {
		case err := <-sendErr:
			if err != nil {
				return followed{}, err
			}
			sending, sendErr, now = false, nil, time.Now()
		case h := <-heads:
			now = time.Now()
			if uint64(h.Number) > w.seen {
				if err := w.advance(ctx, uint64(h.Number), now); err != nil {
					return followed{}, err
				}
			}
		case err := <-subErr:
			return followed{}, fmt.Errorf("newHeads subscription: %w", err)
		case <-poll:
			head, err := w.head(ctx)
			if err != nil {
				return followed{}, fmt.Errorf("eth_blockNumber: %w", err)
			}
			now = time.Now()
			if head > w.seen {
				if err := w.advance(ctx, head, now); err != nil {
					return followed{}, err
				}
			}
		case <-house.C:
			now = time.Now()
			if w.waiting() {
				w.checkFinal(ctx, now)
			}
		case <-ctx.Done():
			sub, inc, fin := led.counts()
			return followed{}, fmt.Errorf("%d of %d submitted, %d included, %d final: %w", sub, total, inc, fin, ctx.Err())
		}
		_, inc, fin := led.counts()
		if inc == total && run.atIncl == nil {
			inclAt = now
			if run.atIncl, err = sampleProcs(cfg.procs); err != nil {
				return followed{}, err
			}
		}
		if fin == total && run.atFinal == nil {
			if run.atFinal, err = sampleProcs(cfg.procs); err != nil {
				return followed{}, err
			}
		}
		if sending {
			continue
		}
		if fin == total {
			break
		}
		if inc == total && !cfg.requireFinal && now.Sub(later(inclAt, w.movedAt)) >= cfg.finalWait {
			break
		}
	}
	if run.atFinal == nil {
		if run.atFinal, err = sampleProcs(cfg.procs); err != nil {
			return followed{}, err
		}
	}
	run.retries = retries.Load()
	return run, nil
}

// progress writes a progress line, if the run has somewhere to write it.
func progress(cfg benchConfig, format string, args ...any) {
	if cfg.progress != nil {
		fmt.Fprintf(cfg.progress, "bench: "+format+"\n", args...)
	}
}
