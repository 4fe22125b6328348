package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/arbiter-chain/arbiter/node/txpool"
)

// Refusals the load tool waits out and retries instead of failing: it
// measures what the chain sustains, not how fast a full pool refuses.
var retryableMessages = []string{
	txpool.ErrPoolFull.Error(),    // Arbiter's pool holds all it may
	txpool.ErrSenderLimit.Error(), // Arbiter's pool holds all it may from this sender
	"txpool is full",              // go-ethereum's legacypool.ErrTxPoolOverflow
	"account limit exceeded",      // go-ethereum's txpool.ErrAccountLimitExceeded
}

// codeLimitExceeded is the JSON-RPC error code of a refusal for a limit
// (Arbiter's and the common rate-limit code).
const codeLimitExceeded = -32005

// retryable reports whether a send was refused for a full pool or a rate
// limit (an HTTP 429 or 503, or JSON-RPC code -32005), so that the same
// request may succeed later.
func retryable(err error) bool {
	var he rpc.HTTPError
	if errors.As(err, &he) {
		return he.StatusCode == http.StatusTooManyRequests || he.StatusCode == http.StatusServiceUnavailable
	}
	var re rpc.Error
	if errors.As(err, &re) && re.ErrorCode() == codeLimitExceeded {
		return true
	}
	for _, m := range retryableMessages {
		if strings.Contains(err.Error(), m) {
			return true
		}
	}
	return false
}

// alreadyKnown reports whether a send was refused because the node already
// holds the transaction (Arbiter's txpool.ErrAlreadyKnown; go-ethereum uses
// the same words): a retry of a request the node did take, so a success.
func alreadyKnown(err error) bool {
	return strings.Contains(err.Error(), txpool.ErrAlreadyKnown.Error())
}

// backoff waits between retries of a refused send: 10 ms, doubling to at
// most 250 ms, so refused senders do not keep a full node busy refusing.
type backoff struct{ d time.Duration }

const (
	backoffMin = 10 * time.Millisecond
	backoffMax = 250 * time.Millisecond
)

func (b *backoff) wait(ctx context.Context) error {
	b.d = min(max(2*b.d, backoffMin), backoffMax)
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// benchSender is one sender's transfers, pre-signed, in nonce order, and the
// node they go to.
type benchSender struct {
	raw    []hexutil.Bytes
	idx    []int // the transfers' indices in the run's ledger
	client *rpc.Client
	post   *poster // one transaction per request over http:// or https://; nil: client
}

// signTransfers signs count[i] transfers of 1 wei from keys[i], from nonce
// nonces[i] on, each to a fresh recipient, on all cores, and returns them per
// sender in nonce order.
func signTransfers(keys []*ecdsa.PrivateKey, nonces []uint64, count []int, chainID *big.Int, fees benchFees) ([][]*types.Transaction, error) {
	signer := types.LatestSignerForChainID(chainID)
	out := make([][]*types.Transaction, len(keys))
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := crypto.PubkeyToAddress(k.PublicKey)
			for j := range count[i] {
				nonce := nonces[i] + uint64(j)
				to := recipient(from, nonce)
				tx, err := types.SignNewTx(k, signer, &types.DynamicFeeTx{ChainID: chainID, Nonce: nonce, To: &to,
					Value: big.NewInt(1), Gas: transferGas, GasTipCap: fees.tip, GasFeeCap: fees.feeCap})
				if err != nil {
					errs[i] = err
					return
				}
				out[i] = append(out[i], tx)
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// sendTimeout bounds one send request.
const sendTimeout = 30 * time.Second

// sendClients dials one HTTP JSON-RPC client per URL, each keeping up to
// conc connections open.
func sendClients(ctx context.Context, urls []string, conc int) ([]*rpc.Client, error) {
	var out []*rpc.Client
	for _, u := range urls {
		hc := &http.Client{Timeout: sendTimeout, Transport: &http.Transport{
			MaxIdleConns: conc, MaxIdleConnsPerHost: conc, IdleConnTimeout: time.Minute}}
		c, err := rpc.DialOptions(ctx, u, rpc.WithHTTPClient(hc))
		if err != nil {
			for _, c := range out {
				c.Close()
			}
			return nil, fmt.Errorf("dial %s: %w", u, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// sendLoad sends every sender's transfers, conc senders at a time, each
// sender's in nonce order from one goroutine, batch per request, and
// records when each request was answered. It returns the first error;
// refusals for a full pool or a rate limit are retried.
func sendLoad(ctx context.Context, senders []benchSender, conc, batch int, pace *pacer, led *ledger, retries *atomic.Int64) error {
	work := make(chan benchSender, len(senders))
	for _, s := range senders {
		work <- s
	}
	close(work)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range work {
				for from := 0; from < len(s.raw); from += batch {
					to := min(from+batch, len(s.raw))
					due, err := pace.wait(ctx, to-from)
					if err != nil {
						errs <- err
						cancel()
						return
					}
					if err := sendChunk(ctx, s.client, s.post, s.raw[from:to], s.idx[from:to], due, led, retries); err != nil {
						errs <- err
						cancel()
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// pacer offers load at a fixed rate over all senders (--rate): the k-th
// transfer sent is due k/rate seconds after the start. A sender behind
// schedule sends at once and nothing is skipped, so nodes slower than the
// rate show as a submission rate below it, and after a stall the senders
// catch up in a burst. A nil pacer does not wait.
type pacer struct {
	start time.Time
	rate  float64 // transfers per second
	mu    sync.Mutex
	next  int64 // slots handed out
}

// newPacer returns a pacer for rate transfers per second from start, or
// nil when rate is not positive (send as fast as the nodes answer).
func newPacer(rate float64, start time.Time) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{start: start, rate: rate}
}

// due takes the next n slots and returns when the first of them is due.
func (p *pacer) due(n int) time.Time {
	p.mu.Lock()
	k := p.next
	p.next += int64(n)
	p.mu.Unlock()
	return p.start.Add(time.Duration(float64(k) * float64(time.Second) / p.rate))
}

// wait takes n slots, sleeps until the first is due and returns when it
// was due: latencies count from then, so a sender held up by a node's slow
// answers is charged for the transfers it sent late. A nil pacer returns
// the time now.
func (p *pacer) wait(ctx context.Context, n int) (time.Time, error) {
	if p == nil {
		return time.Now(), ctx.Err()
	}
	due := p.due(n)
	d := time.Until(due)
	if d <= 0 {
		return due, ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return due, nil
	case <-ctx.Done():
		return due, ctx.Err()
	}
}

// sendChunk sends transfers in one request (one call, or a batch when there
// are several), retrying the refused ones with backoff until every one is
// taken. A single call goes by post when there is one.
func sendChunk(ctx context.Context, c *rpc.Client, post *poster, raw []hexutil.Bytes, idx []int, sent time.Time, led *ledger, retries *atomic.Int64) error {
	var b backoff
	for len(raw) > 0 {
		var err error
		var left []int // positions of raw refused with a retryable error
		if len(raw) == 1 {
			if post != nil {
				err = post.sendRawTransaction(ctx, raw[0])
			} else {
				var h common.Hash
				err = c.CallContext(ctx, &h, "eth_sendRawTransaction", raw[0])
			}
			if err == nil || alreadyKnown(err) {
				led.submitted(idx[0], sent, time.Now())
				err = nil
			} else if retryable(err) {
				left, err = []int{0}, nil
			}
		} else {
			elems := make([]rpc.BatchElem, len(raw))
			hashes := make([]common.Hash, len(raw))
			for i := range raw {
				elems[i] = rpc.BatchElem{Method: "eth_sendRawTransaction", Args: []any{raw[i]}, Result: &hashes[i]}
			}
			err = c.BatchCallContext(ctx, elems)
			if err != nil && retryable(err) {
				for i := range raw {
					left = append(left, i)
				}
				err = nil
			} else if err == nil {
				now := time.Now()
				for i, e := range elems {
					switch {
					case e.Error == nil || alreadyKnown(e.Error):
						led.submitted(idx[i], sent, now)
					case retryable(e.Error):
						left = append(left, i)
					case err == nil:
						err = e.Error
					}
				}
			}
		}
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		if len(left) == 0 {
			return nil
		}
		retries.Add(int64(len(left)))
		nraw, nidx := make([]hexutil.Bytes, len(left)), make([]int, len(left))
		for i, p := range left {
			nraw[i], nidx[i] = raw[p], idx[p]
		}
		raw, idx = nraw, nidx
		if err := b.wait(ctx); err != nil {
			return fmt.Errorf("send: %d refused: %w", len(raw), err)
		}
	}
	return nil
}
