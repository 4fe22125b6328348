package membership

import (
	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/contracts/native"
)

// Membership history. The staking contract decides the validator set of an
// epoch from the state after the epoch's deciding block, and must get the
// same set from any later state; so it asks whether an address was a
// member at the end of a given block, not whether it is one now. The
// contract records every admission and removal it executes, per address:
//
//	keccak("changes", addr)   -> n u64 | block u64 | member u8: the number of
//	                             recorded changes, the block and outcome of the latest
//	keccak("change", addr, i) -> change i < n: block u64 | member u8
//
// Numbers are big-endian from byte 0. The changes of one address alternate
// (an admission, a removal, an admission, ...) and their blocks never
// decrease, so its status at the end of block b is the outcome of its last
// change in a block at or before b, or the opposite of its first change's
// outcome if there is none. An address without recorded changes has had
// its status since genesis (genesis seeds members with AddMember, which
// records nothing).
func slotChanges(a common.Address) common.Hash { return native.Slot("changes", a[:]) }

func slotChange(a common.Address, i uint64) common.Hash {
	return native.Slot("change", a[:], native.U64(i))
}

func packChange(block uint64, member bool) common.Hash {
	var h common.Hash
	native.PutU64(&h, 0, block)
	if member {
		h[8] = 1
	}
	return h
}

func unpackChange(h common.Hash) (block uint64, member bool) {
	return native.GetU64(h, 0), h[8] == 1
}

// changeAt reads recorded change i of a.
func changeAt(s Reader, a common.Address, i uint64) (block uint64, member bool) {
	return unpackChange(s.GetState(Address, slotChange(a, i)))
}

// changesHead reads the number of recorded changes of a and its latest.
func changesHead(s Reader, a common.Address) (n, block uint64, member bool) {
	h := s.GetState(Address, slotChanges(a))
	return native.GetU64(h, 0), native.GetU64(h, 8), h[16] == 1
}

// recordChange appends a change of a's membership, made in block.
func recordChange(s Writer, a common.Address, block uint64, member bool) {
	n, _, _ := changesHead(s, a)
	s.SetState(Address, slotChange(a, n), packChange(block, member))
	var h common.Hash
	native.PutU64(&h, 0, n+1)
	native.PutU64(&h, 8, block)
	if member {
		h[16] = 1
	}
	s.SetState(Address, slotChanges(a), h)
}

// AddMemberAt is AddMember for an admission executed in block: it also
// records the change for MemberAt.
func AddMemberAt(s Writer, a common.Address, block uint64) bool {
	if !AddMember(s, a) {
		return false
	}
	recordChange(s, a, block, true)
	return true
}

// RemoveMemberAt is RemoveMember for a removal executed in block: it also
// records the change for MemberAt.
func RemoveMemberAt(s Writer, a common.Address, block uint64) bool {
	if !RemoveMember(s, a) {
		return false
	}
	recordChange(s, a, block, false)
	return true
}

// MemberAt reports whether a was a member at the end of block, and the
// block of the recorded change that made it so (0 when its status dates
// from genesis). Any state after block gives the same answer. The common
// case, no change of a after block, reads one or two slots; otherwise a
// binary search over a's changes reads at most 66 (the number of changes
// is below 2^64).
func MemberAt(s Reader, a common.Address, block uint64) (member bool, since uint64) {
	n, last, lastMember := changesHead(s, a)
	if n == 0 {
		return IsMember(s, a), 0
	}
	if last <= block {
		return lastMember, last
	}
	// Change n-1 is after block. Find lo, the number of changes at or
	// before it: changes below lo are, changes from hi on are not.
	lo, hi := uint64(0), n-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if b, _ := changeAt(s, a, mid); b <= block {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		_, first := changeAt(s, a, 0)
		return !first, 0
	}
	b, m := changeAt(s, a, lo-1)
	return m, b
}
