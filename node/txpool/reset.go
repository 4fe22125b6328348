package txpool

import (
	"errors"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/node/rules"
)

// Reset moves the pool to a new head: it re-reads the state at newHead
// (the chain's current header if nil), drops the transactions that can no
// longer execute (see revalidate), re-adds reinject (transactions of blocks
// a reorg dropped), ignoring the ones now invalid, and recomputes which
// transactions are executable and who sponsors each sender. If the new
// state cannot be opened the pool is left as it was.
func (p *Pool) Reset(newHead *types.Header, reinject []*types.Transaction) {
	if newHead == nil {
		newHead = p.chain.CurrentHeader()
		if newHead == nil {
			return
		}
	}
	type candidate struct {
		tx   *types.Transaction
		from common.Address
	}
	cands := make([]candidate, 0, len(reinject))
	for _, tx := range reinject {
		if from, err := p.rules.CheckStatic(tx); err == nil {
			cands = append(cands, candidate{tx, from})
		}
	}

	p.mu.Lock()
	st, err := p.chain.StateAt(newHead.Root)
	if err != nil {
		p.mu.Unlock()
		return
	}
	p.revalidate(p.setHead(newHead, st))
	var added []*types.Transaction
	for _, c := range cands {
		if p.add(c.tx, c.from) == nil {
			p.senders.add(c.tx.Hash(), c.from)
			added = append(added, c.tx)
		}
	}
	p.mu.Unlock()

	if len(added) > 0 {
		p.feed.Send(added)
	}
}

// revalidate checks every pooled transaction against the (new) head state,
// recomputes the executable prefixes and rebuilds the sponsors' records.
// It drops what can never execute: transactions whose nonce was used, all
// of a sender no longer allowed, those above the block gas limit, those the
// sender can no longer afford together with its earlier ones, and, if the
// head is a new block (advanced), non-executable ones that have now waited
// FutureHeads heads. At a new block it records for the client backlog how
// many pooled transactions the block included (nonce used). p.mu is held.
//
// rules.CheckState runs on each sender's transactions in nonce order until
// one passes: what it checks is the same for the later ones (the sender is
// allowed, their nonces are higher), except the balance, which the
// cumulative check covers.
func (p *Pool) revalidate(advanced bool) {
	included := 0
	if advanced {
		defer func() { p.included(included) }()
	}
	p.pending = nil
	p.held = [classes]usage{}
	p.holders = [classes]int{}
	clear(p.sponsors)
	for from, acc := range p.accounts {
		bal := p.state.GetBalance(from)
		nonce := p.state.GetNonce(from)
		spent := new(uint256.Int)
		kept := acc.txs[:0]
		checked := false
		for i, e := range acc.txs {
			if e.tx.Nonce() < nonce {
				// Included: dropped without the state check, whose
				// error (formatted per transaction) was most of the
				// cost of a reset after a full block.
				p.drop(e)
				included++
				continue
			}
			if e.tx.Gas() > p.gasLimit {
				p.drop(e) // later ones stay, held behind the gap
				continue
			}
			if !checked {
				if err := rules.CheckState(p.state, from, e.tx, false); err != nil {
					if errors.Is(err, rules.ErrNotAllowed) {
						for _, d := range acc.txs[i:] {
							p.drop(d)
						}
						break
					}
					p.drop(e) // included, or unaffordable on its own
					continue
				}
				checked = true
			}
			var next uint256.Int
			if _, overflow := next.AddOverflow(spent, e.cost); overflow || next.Cmp(bal) > 0 {
				p.drop(e) // later ones stay, held behind the gap until it is refilled
				continue
			}
			spent.Set(&next)
			kept = append(kept, e)
		}
		clear(acc.txs[len(kept):])
		acc.txs, acc.spent, acc.exec, acc.execBytes = kept, spent, 0, 0
		acc.nonce = nonce
		acc.promote()
		if advanced {
			p.age(acc)
		}
		if len(acc.txs) == 0 {
			delete(p.accounts, from)
			continue
		}
		acc.bytes = 0
		for _, e := range acc.txs {
			acc.bytes += e.size
		}
		acc.sponsor, acc.pos = p.sponsor(sponsorOf(p.state, from)), [classes]int{-1, -1}
		p.settle(acc, [classes]usage{})
	}
}

// age counts a new head for acc's non-executable transactions and drops
// those that have waited FutureHeads heads. Its executable ones start
// afresh. p.mu is held.
func (p *Pool) age(acc *account) {
	kept := acc.txs[:acc.exec]
	for _, e := range acc.txs[:acc.exec] {
		e.idle = 0
	}
	for _, e := range acc.txs[acc.exec:] {
		if e.idle++; e.idle >= p.cfg.FutureHeads {
			p.drop(e)
			acc.spent.Sub(acc.spent, e.cost)
			p.expired++
			continue
		}
		kept = append(kept, e)
	}
	clear(acc.txs[len(kept):])
	acc.txs = kept
}

// drop forgets e. The caller removes it from its account and recounts.
// p.mu is held.
func (p *Pool) drop(e *entry) {
	delete(p.all, e.hash)
}

// Follow makes head the pool's head, as Reset does without reinjecting,
// if head is the chain's head and not yet the pool's. A block builder
// calls it before Pending so that the transactions it gets are the ones
// executable on the block it builds on, even when it builds right after
// that block became head, before the head event has reached the pool's
// own loop. It never moves the pool back: a head the chain has already
// left is ignored.
func (p *Pool) Follow(head *types.Header) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.head == head.Hash() {
		return
	}
	if cur := p.chain.CurrentHeader(); cur == nil || cur.Hash() != head.Hash() {
		return
	}
	st, err := p.chain.StateAt(head.Root)
	if err != nil {
		return
	}
	p.revalidate(p.setHead(head, st))
}
