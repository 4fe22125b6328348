package staking

import (
	"bytes"
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum/common"
)

// Stake is an account's bonded stake in wei.
type Stake struct {
	Account common.Address
	Bonded  *big.Int
}

// Bonded returns every account with a bonded stake in st (pending changes
// included: the live set), ordered by address. It reads one slot per
// account, at most MaxValidators of them. It is for views such as the
// node's arbiter_validators; the set that decides a height is
// ValidatorsAt's.
func Bonded(st StateReader) []Stake {
	hd := loadHead(st)
	out := make([]Stake, 0, min(hd.count, MaxValidators))
	for i := uint64(0); i < hd.count && i < MaxValidators; i++ {
		e := unpackEntry(st.GetState(Address, slotLive(i)))
		out = append(out, Stake{Account: e.addr, Bonded: e.stake.ToBig()})
	}
	slices.SortFunc(out, func(a, b Stake) int { return bytes.Compare(a.Account[:], b.Account[:]) })
	return out
}
