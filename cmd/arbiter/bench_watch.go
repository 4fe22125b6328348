package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// ledger holds, for every transfer of a run, when its first request was
// sent and when the one the node took was answered, when the tool saw the
// block holding it and when that block was final. Latencies count from the
// first send, so time a node held the request or spent refusing it counts.
type ledger struct {
	index map[common.Hash]int // read-only once built

	mu       sync.Mutex
	sent     []time.Time
	submit   []time.Time
	include  []time.Time
	final    []time.Time
	nSubmit  int
	nInclude int
	nFinal   int
}

// newLedger tracks the transfers with these hashes; index i is hashes[i].
func newLedger(hashes []common.Hash) *ledger {
	l := &ledger{index: make(map[common.Hash]int, len(hashes)),
		sent: make([]time.Time, len(hashes)), submit: make([]time.Time, len(hashes)), include: make([]time.Time, len(hashes)), final: make([]time.Time, len(hashes))}
	for i, h := range hashes {
		l.index[h] = i
	}
	return l
}

func (l *ledger) size() int { return len(l.submit) }

// submitted records that transfer i's first request was sent at sent and
// that the node took it in a request answered at t (the first answer
// counts).
func (l *ledger) submitted(i int, sent, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.submit[i].IsZero() {
		l.sent[i], l.submit[i] = sent, t
		l.nSubmit++
	}
}

// included records the run's transfers among hashes as included at t,
// unless seen before. It returns the indices newly included and how many
// of hashes were run transfers already seen in an earlier block.
func (l *ledger) included(hashes []common.Hash, t time.Time) (fresh []int, again int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range hashes {
		i, ok := l.index[h]
		if !ok {
			continue
		}
		if !l.include[i].IsZero() {
			again++
			continue
		}
		l.include[i] = t
		l.nInclude++
		fresh = append(fresh, i)
	}
	return fresh, again
}

// finalized records transfers idx as final at t.
func (l *ledger) finalized(idx []int, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, i := range idx {
		if l.final[i].IsZero() {
			l.final[i] = t
			l.nFinal++
		}
	}
}

// counts returns how many transfers are submitted, included and final.
func (l *ledger) counts() (submitted, included, final int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nSubmit, l.nInclude, l.nFinal
}

// benchBlock is the part of eth_getBlockByNumber(n, false) the tool reads.
type benchBlock struct {
	Number       hexutil.Uint64 `json:"number"`
	BaseFee      *hexutil.Big   `json:"baseFeePerGas"`
	Transactions []common.Hash  `json:"transactions"`
}

// headNotice is the part of a newHeads notification the tool reads.
type headNotice struct {
	Number hexutil.Uint64 `json:"number"`
}

// watchedBlock is a block holding run transfers, not yet final.
type watchedBlock struct {
	number uint64
	txs    []int
}

// chainFollower follows a node's chain: it reads every new block's transaction
// hashes into the ledger and moves transfers to final as the node's
// "finalized" block passes their blocks.
type chainFollower struct {
	c   *rpc.Client
	led *ledger

	seen      uint64         // highest block read
	final     uint64         // highest finalized number seen
	final0    uint64         // finalized number when the run started
	moved     bool           // the finalized block advanced during the run
	movedAt   time.Time      // when it last advanced
	pending   []watchedBlock // blocks with run transfers not yet final, ascending
	blocks    int            // blocks holding at least one run transfer
	again     int            // run transfers seen in a second block (a reorg)
	finalErrs int            // failed reads of the finalized block
}

// newWatcher starts following c's chain after its current head.
func newWatcher(ctx context.Context, c *rpc.Client, led *ledger) (*chainFollower, error) {
	w := &chainFollower{c: c, led: led}
	var head hexutil.Uint64
	if err := c.CallContext(ctx, &head, "eth_blockNumber"); err != nil {
		return nil, fmt.Errorf("eth_blockNumber: %w", err)
	}
	w.seen = uint64(head)
	if f, ok := w.finalized(ctx); ok {
		w.final, w.final0 = f, f
	}
	return w, nil
}

// head reads the node's head number.
func (w *chainFollower) head(ctx context.Context) (uint64, error) {
	var head hexutil.Uint64
	err := w.c.CallContext(ctx, &head, "eth_blockNumber")
	return uint64(head), err
}

// advance reads the blocks after the last one read up to head, seen at t,
// and then the finalized block.
func (w *chainFollower) advance(ctx context.Context, head uint64, t time.Time) error {
	for n := w.seen + 1; n <= head; n++ {
		var b *benchBlock
		if err := w.c.CallContext(ctx, &b, "eth_getBlockByNumber", hexutil.EncodeUint64(n), false); err != nil {
			return fmt.Errorf("block %d: %w", n, err)
		}
		if b == nil {
			return fmt.Errorf("block %d: not found below head %d", n, head)
		}
		fresh, again := w.led.included(b.Transactions, t)
		w.again += again
		w.seen = n
		if len(fresh) == 0 {
			continue
		}
		w.blocks++
		if n <= w.final {
			w.led.finalized(fresh, t)
		} else {
			w.pending = append(w.pending, watchedBlock{number: n, txs: fresh})
		}
	}
	w.checkFinal(ctx, t)
	return nil
}

// finalized reads the number of the node's "finalized" block; false if
// the node has none or does not answer.
func (w *chainFollower) finalized(ctx context.Context) (uint64, bool) {
	var b *benchBlock
	if err := w.c.CallContext(ctx, &b, "eth_getBlockByNumber", "finalized", false); err != nil || b == nil {
		w.finalErrs++
		return 0, false
	}
	return uint64(b.Number), true
}

// checkFinal reads the finalized block at t and marks the transfers of
// every block at or below it final.
func (w *chainFollower) checkFinal(ctx context.Context, t time.Time) {
	f, ok := w.finalized(ctx)
	if !ok || f <= w.final {
		return
	}
	w.final, w.movedAt = f, t
	if f > w.final0 {
		w.moved = true
	}
	k := 0
	for k < len(w.pending) && w.pending[k].number <= f {
		w.led.finalized(w.pending[k].txs, t)
		k++
	}
	w.pending = w.pending[k:]
}

// waiting reports whether included transfers wait for finality.
func (w *chainFollower) waiting() bool { return len(w.pending) > 0 }
