package txpool

import (
	"bytes"
	"container/heap"

	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/node/rules"
)

// class tells executable transactions from non-executable ones. The pool
// keeps its totals, each sponsor's and each account's, per class.
type class int

const (
	executable class = iota
	future
	classes
)

// usage is what a set of transactions occupies: how many and their encoded
// bytes.
type usage struct {
	txs   int
	bytes uint64
}

func (u usage) add(v usage) usage { return usage{u.txs + v.txs, u.bytes + v.bytes} }
func (u usage) sub(v usage) usage { return usage{u.txs - v.txs, u.bytes - v.bytes} }

// minus is u less v, each part floored at zero.
func (u usage) minus(v usage) usage {
	out := usage{}
	if u.txs > v.txs {
		out.txs = u.txs - v.txs
	}
	if u.bytes > v.bytes {
		out.bytes = u.bytes - v.bytes
	}
	return out
}

func (u usage) zero() bool { return u.txs == 0 && u.bytes == 0 }

// covers reports whether u is at least v in count and in bytes.
func (u usage) covers(v usage) bool { return u.txs >= v.txs && u.bytes >= v.bytes }

// load is u's share of caps, the larger of its share of the count and of
// the bytes, scaled by caps.txs*caps.bytes so it stays an integer. The
// limits on Config keep it within 64 bits.
func (u usage) load(caps usage) uint64 {
	return max(uint64(u.txs)*caps.bytes, u.bytes*uint64(caps.txs))
}

// fair is the share of caps each of k holders is entitled to.
func fair(caps usage, k int) usage {
	return usage{caps.txs / k, caps.bytes / uint64(k)}
}

// sponsor is the member accountable for a set of senders: each member for
// itself, and for every account it vouches for. Fair shares of the pool are
// counted per sponsor, so that a member's vouched accounts share one
// member's part.
type sponsor struct {
	addr  common.Address
	held  [classes]usage   // what its senders' transactions occupy
	ranks [classes]ranking // its senders, largest holding first
}

func newSponsor(addr common.Address, caps [classes]usage) *sponsor {
	s := &sponsor{addr: addr}
	for c := range classes {
		s.ranks[c] = ranking{class: c, caps: caps[c]}
	}
	return s
}

// sponsorOf returns the member accountable for from in st: from itself if
// it is a member, else the member that vouches for it. A sender no longer
// allowed is its own sponsor.
func sponsorOf(st rules.State, from common.Address) common.Address {
	if membership.IsMember(st, from) {
		return from
	}
	if by, ok := membership.VoucherOf(st, from); ok {
		return by
	}
	return from
}

// ranking is a max-heap of a sponsor's accounts by what each holds of one
// class, measured by usage.load; ties go to the lower address so that the
// choice of a victim is deterministic. Accounts holding nothing of the class
// are not in it. It implements heap.Interface; use update and top.
type ranking struct {
	class class
	caps  usage
	accs  []*account
}

func (r *ranking) Len() int { return len(r.accs) }

func (r *ranking) Less(i, j int) bool {
	a, b := r.accs[i], r.accs[j]
	la, lb := a.held(r.class).load(r.caps), b.held(r.class).load(r.caps)
	if la != lb {
		return la > lb
	}
	return bytes.Compare(a.addr[:], b.addr[:]) < 0
}

func (r *ranking) Swap(i, j int) {
	r.accs[i], r.accs[j] = r.accs[j], r.accs[i]
	r.accs[i].pos[r.class] = i
	r.accs[j].pos[r.class] = j
}

func (r *ranking) Push(x any) {
	a := x.(*account)
	a.pos[r.class] = len(r.accs)
	r.accs = append(r.accs, a)
}

func (r *ranking) Pop() any {
	last := len(r.accs) - 1
	a := r.accs[last]
	r.accs[last] = nil
	r.accs = r.accs[:last]
	a.pos[r.class] = -1
	return a
}

// update puts a in place after what it holds changed, adding or removing it
// as it holds something of the class or nothing.
func (r *ranking) update(a *account) {
	i, has := a.pos[r.class], a.held(r.class).txs > 0
	switch {
	case i < 0 && has:
		heap.Push(r, a)
	case i >= 0 && !has:
		heap.Remove(r, i)
	case i >= 0:
		heap.Fix(r, i)
	}
}

// top returns the account holding the most, other than skip, or nil.
func (r *ranking) top(skip *account) *account {
	switch {
	case len(r.accs) == 0:
		return nil
	case r.accs[0] != skip:
		return r.accs[0]
	}
	// skip is on top: the next largest is one of its children.
	var best int
	for _, i := range []int{1, 2} {
		if i < len(r.accs) && (best == 0 || r.Less(i, best)) {
			best = i
		}
	}
	if best == 0 {
		return nil
	}
	return r.accs[best]
}
