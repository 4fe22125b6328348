package txpool

import (
	"slices"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
)

// Pending returns the executable transactions for a block builder: each
// sender's in nonce order, senders interleaved by the effective gas price
// of their next transaction (highest first), ties broken by arrival order.
// The order is deterministic for a given pool content. The caller owns the
// returned slice.
func (p *Pool) Pending() []*types.Transaction {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending == nil {
		p.pending = p.order()
	}
	return slices.Clone(p.pending)
}

// order computes Pending. p.mu is held.
func (p *Pool) order() []*types.Transaction {
	out := make([]*types.Transaction, 0, p.held[executable].txs)
	h := make(cursors, 0, len(p.accounts))
	for _, acc := range p.accounts {
		if acc.exec > 0 {
			h = append(h, newCursor(acc, 0))
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	for len(h) > 0 {
		c := &h[0]
		out = append(out, c.acc.txs[c.i].tx)
		if next := c.i + 1; next < c.acc.exec {
			*c = newCursor(c.acc, next)
		} else {
			last := len(h) - 1
			h[0] = h[last]
			h = h[:last]
		}
		h.down(0)
	}
	return out
}

// cursor points at the next transaction of a sender not yet emitted, with
// that transaction's sort key copied in so comparisons do not chase pointers.
type cursor struct {
	price uint256.Int
	seq   uint64
	acc   *account
	i     int
}

func newCursor(acc *account, i int) cursor {
	e := acc.txs[i]
	return cursor{price: *e.price, seq: e.seq, acc: acc, i: i}
}

// before reports whether a's transaction goes before b's: higher price
// first, then earlier arrival.
func (a *cursor) before(b *cursor) bool {
	if c := a.price.Cmp(&b.price); c != 0 {
		return c > 0
	}
	return a.seq < b.seq
}

// cursors is a binary heap of senders, the next transaction to emit on top.
type cursors []cursor

// down restores the heap below i after h[i] changed.
func (h cursors) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && h[r].before(&h[l]) {
			j = r
		}
		if !h[j].before(&h[i]) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}
