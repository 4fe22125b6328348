package txpool

import (
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
)

// account holds one sender's pooled transactions in nonce order. The first
// exec of them have the nonces nonce, nonce+1, ... and can be executed on
// the head state; the rest wait behind a gap.
type account struct {
	addr      common.Address
	sponsor   *sponsor
	nonce     uint64       // the sender's nonce in the head state
	txs       []*entry     // by nonce, all >= nonce
	exec      int          // length of the executable prefix of txs
	spent     *uint256.Int // sum of the costs of txs
	bytes     uint64       // sum of the sizes of txs
	execBytes uint64       // sum of the sizes of the executable prefix
	pos       [classes]int // index in the sponsor's rankings, -1 if absent
}

func newAccount(addr common.Address, sp *sponsor, nonce uint64) *account {
	return &account{addr: addr, sponsor: sp, nonce: nonce, spent: new(uint256.Int), pos: [classes]int{-1, -1}}
}

// held returns what the account's transactions of class c occupy.
func (a *account) held(c class) usage {
	if c == executable {
		return usage{a.exec, a.execBytes}
	}
	return usage{len(a.txs) - a.exec, a.bytes - a.execBytes}
}

// holdings returns held for every class, to hand to Pool.settle after a change.
func (a *account) holdings() [classes]usage {
	return [classes]usage{a.held(executable), a.held(future)}
}

// next is the nonce that would extend the executable prefix.
func (a *account) next() uint64 { return a.nonce + uint64(a.exec) }

// find returns the index of the transaction with the nonce, or where it
// would be inserted.
func (a *account) find(nonce uint64) (int, bool) {
	// A sender's transactions mostly come in nonce order: the next one
	// goes at the end, found without a search (each step of which reads
	// a transaction elsewhere in memory).
	if n := len(a.txs); n == 0 || a.txs[n-1].tx.Nonce() < nonce {
		return n, false
	}
	return slices.BinarySearchFunc(a.txs, nonce, func(e *entry, n uint64) int {
		switch en := e.tx.Nonce(); {
		case en < n:
			return -1
		case en > n:
			return 1
		}
		return 0
	})
}

// insert puts e at index i, as returned by find.
func (a *account) insert(i int, e *entry) {
	a.txs = slices.Insert(a.txs, i, e)
	a.bytes += e.size
}

// promote extends the executable prefix over the transactions that now
// follow it without a gap.
func (a *account) promote() {
	for a.exec < len(a.txs) && a.txs[a.exec].tx.Nonce() == a.next() {
		a.execBytes += a.txs[a.exec].size
		a.exec++
	}
}
