package txpool

import (
	"slices"

	"github.com/holiman/uint256"
)

// account holds one sender's pooled transactions in nonce order. The first
// exec of them have the nonces nonce, nonce+1, ... and can be executed on
// the head state; the rest wait behind a gap.
type account struct {
	nonce uint64       // the sender's nonce in the head state
	txs   []*entry     // by nonce, all >= nonce
	exec  int          // length of the executable prefix of txs
	spent *uint256.Int // sum of the costs of txs
}

// find returns the index of the transaction with the nonce, or where it
// would be inserted.
func (a *account) find(nonce uint64) (int, bool) {
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
}

// promote extends the executable prefix over the transactions that now
// follow it without a gap and returns by how many it grew.
func (a *account) promote() int {
	before := a.exec
	for a.exec < len(a.txs) && a.txs[a.exec].tx.Nonce() == a.nonce+uint64(a.exec) {
		a.exec++
	}
	return a.exec - before
}
