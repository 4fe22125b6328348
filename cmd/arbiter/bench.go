package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/arbiter-chain/arbiter/node/txpool"
)

// runBench is the load tool: it signs transfers from the given keys, sends
// them to a node over JSON-RPC, follows new heads over WebSocket and
// reports throughput and submit-to-inclusion (or, with --finalized,
// submit-to-finality) latency.
func runBench(args []string, stdout io.Writer) error {
	fs := newFlags("bench")
	url := fs.String("rpc", "ws://127.0.0.1:8545/ws", "node WebSocket URL")
	keyList := fs.String("keys", "", "comma-separated sender key files (members or allowed accounts)")
	txs := fs.Int("txs", 10000, "transfers to send")
	conc := fs.Int("concurrency", 8, "parallel senders")
	finalized := fs.Bool("finalized", false, "measure until blocks are final (proof-of-stake) instead of included")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required("keys", *keyList); err != nil {
		return err
	}
	if *txs < 1 || *conc < 1 {
		return errors.New("--txs and --concurrency must be positive")
	}
	var keys []*ecdsa.PrivateKey
	for _, f := range strings.Split(*keyList, ",") {
		k, err := crypto.LoadECDSA(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("load key %s: %w", f, err)
		}
		keys = append(keys, k)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res, err := benchLoad(ctx, *url, keys, *txs, *conc, *finalized)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res)
	return nil
}

// benchResult summarises one load run.
type benchResult struct {
	Sent, Done int
	Elapsed    time.Duration
	P50, P99   time.Duration
	Blocks     int
	Finalized  bool
}

func (r benchResult) String() string {
	what := "included"
	if r.Finalized {
		what = "finalized"
	}
	return fmt.Sprintf("sent %d, %s %d in %d blocks over %v: %.0f tx/s; submit-to-%s latency p50 %v, p99 %v",
		r.Sent, what, r.Done, r.Blocks, r.Elapsed.Round(time.Millisecond), float64(r.Done)/r.Elapsed.Seconds(), what,
		r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond))
}

func benchLoad(ctx context.Context, url string, keys []*ecdsa.PrivateKey, n, conc int, finalized bool) (benchResult, error) {
	rc, err := rpc.DialContext(ctx, url)
	if err != nil {
		return benchResult{}, err
	}
	defer rc.Close()
	client := ethclient.NewClient(rc)
	chainID, err := client.ChainID(ctx)
	if err != nil {
		return benchResult{}, err
	}
	signer := types.LatestSignerForChainID(chainID)
	tip, err := client.SuggestGasTipCap(ctx)
	if err != nil {
		return benchResult{}, err
	}
	// Pre-sign everything so signing does not count as load.
	per := make([][]*types.Transaction, len(keys))
	for i, k := range keys {
		from := crypto.PubkeyToAddress(k.PublicKey)
		nonce, err := client.PendingNonceAt(ctx, from)
		if err != nil {
			return benchResult{}, err
		}
		for j := i; j < n; j += len(keys) {
			to := common.BigToAddress(big.NewInt(int64(0x10000 + j)))
			tx, err := types.SignNewTx(k, signer, &types.DynamicFeeTx{ChainID: chainID, Nonce: nonce, To: &to, Value: big.NewInt(1), Gas: 21000, GasTipCap: tip, GasFeeCap: tip})
			if err != nil {
				return benchResult{}, err
			}
			per[i] = append(per[i], tx)
			nonce++
		}
	}
	heads := make(chan *types.Header, 1024)
	sub, err := client.SubscribeNewHead(ctx, heads)
	if err != nil {
		return benchResult{}, fmt.Errorf("subscribe newHeads (use a ws:// URL): %w", err)
	}
	defer sub.Unsubscribe()

	var mu sync.Mutex
	submitted := make(map[common.Hash]time.Time, n)
	start := time.Now()
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	// Each sender's transactions go out in nonce order from one goroutine.
	work := make(chan []*types.Transaction, len(per))
	for _, list := range per {
		work <- list
	}
	close(work)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for list := range work {
				for _, tx := range list {
					mu.Lock()
					submitted[tx.Hash()] = time.Now()
					mu.Unlock()
					if err := sendWithBackpressure(ctx, client, tx); err != nil {
						errs <- fmt.Errorf("send: %w", err)
						return
					}
				}
			}
		}()
	}
	go func() { wg.Wait(); close(errs) }()

	var latencies []time.Duration
	var last time.Time
	blocks := 0
	seen := uint64(0)
	pending := map[uint64]*types.Block{} // included, waiting for finality
	count := func(b *types.Block, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		for _, tx := range b.Transactions() {
			if t0, ok := submitted[tx.Hash()]; ok {
				latencies = append(latencies, at.Sub(t0))
				delete(submitted, tx.Hash())
				last = at
			}
		}
		if len(b.Transactions()) > 0 {
			blocks++
		}
	}
	for len(latencies) < n {
		select {
		case err, ok := <-errs:
			if ok && err != nil {
				return benchResult{}, err
			}
			if !ok {
				errs = nil
			}
		case err := <-sub.Err():
			return benchResult{}, err
		case <-ctx.Done():
			return benchResult{}, fmt.Errorf("%d of %d done: %w", len(latencies), n, ctx.Err())
		case h := <-heads:
			now := time.Now()
			for num := seen + 1; num <= h.Number.Uint64(); num++ {
				b, err := client.BlockByNumber(ctx, new(big.Int).SetUint64(num))
				if err != nil {
					return benchResult{}, err
				}
				if finalized {
					pending[num] = b
				} else {
					count(b, now)
				}
			}
			seen = max(seen, h.Number.Uint64())
			if finalized {
				fh, err := client.HeaderByNumber(ctx, big.NewInt(int64(rpc.FinalizedBlockNumber)))
				if err != nil {
					return benchResult{}, err
				}
				for num, b := range pending {
					if num <= fh.Number.Uint64() {
						count(b, now)
						delete(pending, num)
					}
				}
			}
		}
	}
	slices.Sort(latencies)
	return benchResult{
		Sent: n, Done: len(latencies), Elapsed: last.Sub(start), Blocks: blocks, Finalized: finalized,
		P50: latencies[len(latencies)/2], P99: latencies[len(latencies)*99/100],
	}, nil
}

// sendWithBackpressure sends tx, waiting and retrying while the node's pool
// is full or holds its per-sender limit: the load tool measures what the
// chain sustains, not how fast the pool refuses.
func sendWithBackpressure(ctx context.Context, client *ethclient.Client, tx *types.Transaction) error {
	for {
		err := client.SendTransaction(ctx, tx)
		if err == nil || !(strings.Contains(err.Error(), txpool.ErrSenderLimit.Error()) || strings.Contains(err.Error(), txpool.ErrPoolFull.Error())) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
