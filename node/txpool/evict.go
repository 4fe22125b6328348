package txpool

import (
	"bytes"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
)

// makeRoom frees the room a transaction needs that grows the pool by tx: a
// new nonce (one transaction and its size), or a replacement (its growth in
// bytes, if any). That is room in the pool and, if the transaction is not
// executable, in the part of the pool for non-executable transactions. acc
// is the sender's account (nil if it has none) and sp the sender's sponsor;
// the transactions of acc, of which a replacement replaces one, are never
// evicted for it. p.mu is held.
//
// An executable transaction first evicts non-executable ones, other than the
// sender's own: the sponsor holding the most of them first, within it the
// sender holding the most, highest nonce first. If that is not enough, its
// sponsor must stay within its fair share of the pool (an equal part for
// every sponsor holding executable transactions), and it evicts executable
// transactions of the sponsors above their fair share, the one holding the
// most first, each sender's highest nonce first.
//
// A non-executable transaction only evicts non-executable ones, by the same
// fair-share rule applied to the part of the pool for them.
//
// Whether enough can be freed is decided before anything is evicted, so a
// refused transaction costs nobody a transaction.
func (p *Pool) makeRoom(acc *account, sp common.Address, exec bool, tx usage) error {
	need := p.held[executable].add(p.held[future]).add(tx).minus(p.caps[executable])
	var mine [classes]usage // what the sender holds
	if acc != nil {
		mine = acc.holdings()
	}
	var theirs [classes]usage // what its sponsor holds
	if s := p.sponsors[sp]; s != nil {
		theirs = s.held
	}

	if !exec {
		full := ErrPoolFull
		if needFut := p.held[future].add(tx).minus(p.caps[future]); !needFut.zero() {
			full = ErrFutureFull
			need = usage{max(need.txs, needFut.txs), max(need.bytes, needFut.bytes)}
		}
		if need.zero() {
			return nil
		}
		k := p.fairHolders(future, theirs)
		after := theirs[future].add(tx)
		if !fair(p.caps[future], k).covers(after) || !p.aboveFair(future, sp, k).covers(need) {
			return fmt.Errorf("%w: sponsor %s holds %d non-executable transactions, %d bytes",
				full, sp, theirs[future].txs, theirs[future].bytes)
		}
		p.evictFair(future, sp, k, need)
		return nil
	}

	if need.zero() {
		return nil
	}
	spare := p.held[future].sub(mine[future]) // every non-executable tx but the sender's
	k := p.fairHolders(executable, theirs)
	if !spare.covers(need) {
		// The sender's own non-executable transactions stay, and may become
		// executable with this one: count them in its sponsor's share.
		after := theirs[executable].add(mine[future]).add(tx)
		if !fair(p.caps[executable], k).covers(after) || !spare.add(p.aboveFair(executable, sp, k)).covers(need) {
			return fmt.Errorf("%w: sponsor %s holds %d transactions, %d bytes, of %d sponsors",
				ErrSponsorShare, sp, theirs[executable].txs, theirs[executable].bytes, k)
		}
	}
	for !need.zero() && spare.txs > 0 {
		e := p.evict(p.largestFuture(acc))
		need, spare = need.minus(usage{1, e.size}), spare.sub(usage{1, e.size})
	}
	p.evictFair(executable, sp, k, need)
	return nil
}

// fairHolders returns among how many sponsors the class c is shared if a
// sponsor now holding theirs adds a transaction to it.
func (p *Pool) fairHolders(c class, theirs [classes]usage) int {
	if theirs[c].txs == 0 {
		return p.holders[c] + 1
	}
	return p.holders[c]
}

// aboveFair returns what the sponsors other than sp hold of class c beyond
// their fair share among k: the least evictFair frees if it must.
func (p *Pool) aboveFair(c class, sp common.Address, k int) usage {
	line := fair(p.caps[c], k)
	var out usage
	for addr, s := range p.sponsors {
		if addr != sp {
			out = out.add(s.held[c].minus(line))
		}
	}
	return out
}

// evictFair evicts transactions of class c until need is freed, from the
// sponsor other than sp holding the most, while that sponsor holds more
// than its fair share among k. The caller checked with aboveFair that this
// frees need.
func (p *Pool) evictFair(c class, sp common.Address, k int, need usage) {
	line := fair(p.caps[c], k)
	for !need.zero() {
		var victim *sponsor
		for addr, s := range p.sponsors {
			if addr != sp && !line.covers(s.held[c]) && heavier(s, victim, c, p.caps[c], nil) {
				victim = s
			}
		}
		if victim == nil {
			return // not reached: aboveFair covered need
		}
		e := p.evict(victim.ranks[c].top(nil))
		need = need.minus(usage{1, e.size})
	}
}

// largestFuture returns the account whose highest nonce is the next
// non-executable transaction to evict: in the sponsor holding the most
// non-executable transactions, the account holding the most; skip's are
// left out. The caller checked that there is one.
func (p *Pool) largestFuture(skip *account) *account {
	var victim *sponsor
	for _, s := range p.sponsors {
		if heavier(s, victim, future, p.caps[future], skip) {
			victim = s
		}
	}
	return victim.ranks[future].top(skip)
}

// heavier reports whether s holds more of class c than t (nil: nothing),
// measured against caps, not counting skip's transactions; ties go to the
// lower address. A sponsor holding nothing is never heavier.
func heavier(s, t *sponsor, c class, caps usage, skip *account) bool {
	held := func(s *sponsor) uint64 {
		u := s.held[c]
		if skip != nil && skip.sponsor == s {
			u = u.sub(skip.held(c))
		}
		return u.load(caps)
	}
	ls := held(s)
	if ls == 0 {
		return false
	}
	if t == nil {
		return true
	}
	if lt := held(t); ls != lt {
		return ls > lt
	}
	return bytes.Compare(s.addr[:], t.addr[:]) < 0
}

// evict removes acc's highest-nonce transaction from the pool and returns
// it. Removing the last one keeps the others' executability. p.mu is held.
func (p *Pool) evict(acc *account) *entry {
	was := acc.holdings()
	last := len(acc.txs) - 1
	e := acc.txs[last]
	acc.txs[last] = nil
	acc.txs = acc.txs[:last]
	if last < acc.exec {
		acc.exec--
		acc.execBytes -= e.size
	}
	acc.bytes -= e.size
	acc.spent.Sub(acc.spent, e.cost)
	delete(p.all, e.hash)
	p.settle(acc, was)
	p.pending = nil
	p.evicted++
	return e
}
