package txpool

import (
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// SenderNonce names a sender and the nonce that would extend its pooled
// executable transactions.
type SenderNonce struct {
	Sender common.Address
	Next   uint64
}

// Digest returns, for at most k senders with executable transactions, the
// nonce that would extend them, the most recently extended first (ties by
// address). Peers compare it with their pools to find what they lack. It
// reads each account once: its cost is bounded by the pool's size, not by
// k.
func (p *Pool) Digest(k int) []SenderNonce {
	if k <= 0 {
		return nil
	}
	type ranked struct {
		SenderNonce
		last uint64
	}
	p.mu.Lock()
	all := make([]ranked, 0, len(p.accounts))
	for addr, acc := range p.accounts {
		if acc.exec > 0 {
			all = append(all, ranked{SenderNonce{addr, acc.next()}, acc.txs[acc.exec-1].seq})
		}
	}
	p.mu.Unlock()
	slices.SortFunc(all, func(a, b ranked) int {
		if a.last != b.last {
			if a.last > b.last {
				return -1
			}
			return 1
		}
		return a.Sender.Cmp(b.Sender)
	})
	out := make([]SenderNonce, 0, min(k, len(all)))
	for _, r := range all[:min(k, len(all))] {
		out = append(out, r.SenderNonce)
	}
	return out
}

// Range returns the sender's pooled transactions with the nonces from,
// from+1, ... without a gap: at most count of them and, beyond the first,
// at most maxBytes of encoded size. Its cost is bounded by count.
func (p *Pool) Range(sender common.Address, from uint64, count int, maxBytes uint64) []*types.Transaction {
	p.mu.Lock()
	defer p.mu.Unlock()
	acc := p.accounts[sender]
	if acc == nil || count <= 0 {
		return nil
	}
	i, _ := acc.find(from)
	var (
		out  []*types.Transaction
		size uint64
	)
	for ; i < len(acc.txs) && len(out) < count; i++ {
		e := acc.txs[i]
		if e.tx.Nonce() != from+uint64(len(out)) || (len(out) > 0 && size+e.size > maxBytes) {
			break
		}
		out = append(out, e.tx)
		size += e.size
	}
	return out
}
