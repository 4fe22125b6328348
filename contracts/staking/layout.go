package staking

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/native"
)

// Address is where the staking contract, its storage and the staked value live.
var Address = common.HexToAddress("0x0000000000000000000000000000000000001002")

// BurnAddress receives every slashed stake. No one holds its key, so value
// sent there is out of circulation for good.
var BurnAddress = common.HexToAddress("0x000000000000000000000000000000000000dEaD")

// MaxStake is the most one account may have bonded, and the most it may
// have unbonding, in wei: 2^96-1 (about 7.9e10 ether), so that an address
// and a stake share one storage slot.
var MaxStake = new(uint256.Int).SubUint64(new(uint256.Int).Lsh(uint256.NewInt(1), 96), 1)

// StateReader reads contract storage; *state.StateDB satisfies it.
type StateReader = native.StateReader

// kv reads and writes the contract's own storage: a *state.StateDB at
// genesis, the call's metered storage (store) in a handler.
type kv = native.StateWriter

// Storage layout. Every slot key is keccak256 of a tag and its arguments
// (addresses 20 bytes, numbers 8 bytes big-endian), so slots of different
// kinds never collide. Packed fields are big-endian from byte 0:
//
//	keccak("params")          -> epochLength u64 | unbondingDelay u64
//	keccak("minStake")        -> minStake uint256
//	keccak("head")            -> liveFrom u64 | count u64 | snapshots u64
//	keccak("live", i)         -> live entry i < count: address (20 bytes) | stake u96
//	keccak("index", addr)     -> i+1 (u64 in bytes 24..32) if addr is live entry i, 0 otherwise
//	keccak("snap", k)         -> snapshot header at ring position k: fromEpoch u64 | count u64
//	keccak("snap", k, i)      -> entry i of that snapshot, as a live entry
//	keccak("unbond", addr)    -> queue of addr: first u64 | end u64 | total u96
//	keccak("unbond", addr, j) -> queue entry j: amount u96 | claimableAt u64
//	keccak("slashed", addr)   -> height+1 (u64 in bytes 24..32) of the evidence addr was slashed for, 0 if never
//
// The live set is every account with a bonded stake (always at least
// minStake) with that stake, in insertion order with swap-remove. It is the
// set in force from epoch liveFrom on. A change made in epoch e takes
// effect in epoch e+1: the first change made in an epoch e >= liveFrom
// first copies the live set, as the set in force from liveFrom, into the
// snapshot ring at position snapshots mod historySets and sets liveFrom to
// e+1; later changes in e modify the live set only. So the set in force in
// epoch e is the live set if e >= liveFrom and otherwise the newest
// snapshot whose fromEpoch is at most e. Snapshot entries beyond a
// header's count are stale and never read.
//
// An account's unbonding queue holds withdrawals in order (claimableAt
// never decreases), entries first <= j < end; total is their sum. An
// emptied queue starts again at 0 so its slots are reused.

func slotParams() common.Hash                { return native.Slot("params") }
func slotMinStake() common.Hash              { return native.Slot("minStake") }
func slotHead() common.Hash                  { return native.Slot("head") }
func slotLive(i uint64) common.Hash          { return native.Slot("live", native.U64(i)) }
func slotIndex(a common.Address) common.Hash { return native.Slot("index", a[:]) }
func slotSnap(k uint64) common.Hash          { return native.Slot("snap", native.U64(k)) }
func slotSnapEntry(k, i uint64) common.Hash  { return native.Slot("snap", native.U64(k), native.U64(i)) }
func slotQueue(a common.Address) common.Hash { return native.Slot("unbond", a[:]) }
func slotQueueAt(a common.Address, j uint64) common.Hash {
	return native.Slot("unbond", a[:], native.U64(j))
}
func slotSlashed(a common.Address) common.Hash { return native.Slot("slashed", a[:]) }

// getU96 and putU96 read and write the 12-byte amount at byte off of a
// word; putU96 keeps the low 96 bits (callers check against MaxStake).
func getU96(h common.Hash, off int) *uint256.Int { return new(uint256.Int).SetBytes(h[off : off+12]) }

func putU96(h *common.Hash, off int, v *uint256.Int) {
	b := v.Bytes32()
	copy(h[off:off+12], b[20:])
}

// entry is one validator of a set: its address and bonded stake.
type entry struct {
	addr  common.Address
	stake *uint256.Int
}

func packEntry(e entry) common.Hash {
	var h common.Hash
	copy(h[:20], e.addr[:])
	putU96(&h, 20, e.stake)
	return h
}

func unpackEntry(h common.Hash) entry {
	return entry{addr: common.BytesToAddress(h[:20]), stake: getU96(h, 20)}
}

// head is the bookkeeping of the live set and the snapshot ring.
type head struct {
	liveFrom  uint64 // first epoch the live set is in force
	count     uint64 // live entries
	snapshots uint64 // snapshots ever taken
}

func loadHead(s StateReader) head {
	h := s.GetState(Address, slotHead())
	return head{liveFrom: native.GetU64(h, 0), count: native.GetU64(h, 8), snapshots: native.GetU64(h, 16)}
}

func (hd head) save(s kv) {
	var h common.Hash
	native.PutU64(&h, 0, hd.liveFrom)
	native.PutU64(&h, 8, hd.count)
	native.PutU64(&h, 16, hd.snapshots)
	s.SetState(Address, slotHead(), h)
}

// bonded returns the live index+1 of a (0 if it has no bonded stake) and
// its bonded stake.
func bonded(s StateReader, a common.Address) (uint64, *uint256.Int) {
	idx := native.GetU64(s.GetState(Address, slotIndex(a)), 24)
	if idx == 0 {
		return 0, new(uint256.Int)
	}
	return idx, unpackEntry(s.GetState(Address, slotLive(idx-1))).stake
}

// setBonded gives a the bonded stake v in the live set: it appends, updates
// or (for zero) swap-removes a's entry. The caller saves hd.
func setBonded(s kv, hd *head, a common.Address, v *uint256.Int) {
	idx, _ := bonded(s, a)
	switch {
	case idx == 0 && v.IsZero():
	case idx == 0:
		s.SetState(Address, slotLive(hd.count), packEntry(entry{a, v}))
		hd.count++
		s.SetState(Address, slotIndex(a), indexWord(hd.count))
	case !v.IsZero():
		s.SetState(Address, slotLive(idx-1), packEntry(entry{a, v}))
	default:
		last := hd.count - 1
		if idx-1 != last {
			moved := s.GetState(Address, slotLive(last))
			s.SetState(Address, slotLive(idx-1), moved)
			s.SetState(Address, slotIndex(unpackEntry(moved).addr), indexWord(idx))
		}
		s.SetState(Address, slotLive(last), common.Hash{})
		s.SetState(Address, slotIndex(a), common.Hash{})
		hd.count = last
	}
}

func indexWord(v uint64) common.Hash {
	var h common.Hash
	native.PutU64(&h, 24, v)
	return h
}

// liveEntries returns the live set in storage order.
func liveEntries(s StateReader, hd head) []entry {
	out := make([]entry, hd.count)
	for i := range out {
		out[i] = unpackEntry(s.GetState(Address, slotLive(uint64(i))))
	}
	return out
}

// schedule prepares a change to the live set made in epoch e: if the live
// set is in force (liveFrom <= e), it is copied into the snapshot ring as
// the set in force from liveFrom, and the live set becomes the one for
// epoch e+1. It reports whether it did so, i.e. whether this is the first
// change scheduled for epoch e+1. The caller saves hd.
func schedule(s kv, p Params, hd *head, e uint64) bool {
	if hd.liveFrom > e {
		return false
	}
	k := hd.snapshots % p.historySets()
	var h common.Hash
	native.PutU64(&h, 0, hd.liveFrom)
	native.PutU64(&h, 8, hd.count)
	s.SetState(Address, slotSnap(k), h)
	for i := uint64(0); i < hd.count; i++ {
		s.SetState(Address, slotSnapEntry(k, i), s.GetState(Address, slotLive(i)))
	}
	hd.snapshots++
	hd.liveFrom = e + 1
	return true
}

// setAt returns the set in force in epoch e, in storage order, and the
// epoch since which it has been in force without change. It fails with
// ErrHistory if the snapshot that held it has been overwritten.
func setAt(s StateReader, p Params, hd head, e uint64) ([]entry, uint64, error) {
	if e >= hd.liveFrom {
		return liveEntries(s, hd), hd.liveFrom, nil
	}
	ring := p.historySets()
	for n := hd.snapshots; n > 0 && hd.snapshots-n < ring; n-- {
		k := (n - 1) % ring
		h := s.GetState(Address, slotSnap(k))
		from, count := native.GetU64(h, 0), native.GetU64(h, 8)
		if from > e {
			continue
		}
		out := make([]entry, count)
		for i := range out {
			out[i] = unpackEntry(s.GetState(Address, slotSnapEntry(k, uint64(i))))
		}
		return out, from, nil
	}
	return nil, 0, ErrHistory
}

// queue is an account's unbonding queue.
type queue struct {
	first, end uint64
	total      *uint256.Int
}

func loadQueue(s StateReader, a common.Address) queue {
	h := s.GetState(Address, slotQueue(a))
	return queue{first: native.GetU64(h, 0), end: native.GetU64(h, 8), total: getU96(h, 16)}
}

func (q queue) save(s kv, a common.Address) {
	if q.first == q.end {
		q.first, q.end = 0, 0
	}
	var h common.Hash
	native.PutU64(&h, 0, q.first)
	native.PutU64(&h, 8, q.end)
	putU96(&h, 16, q.total)
	s.SetState(Address, slotQueue(a), h)
}

// at returns queue entry j: its amount and the height it is claimable from.
func (q queue) at(s StateReader, a common.Address, j uint64) (*uint256.Int, uint64) {
	h := s.GetState(Address, slotQueueAt(a, j))
	return getU96(h, 0), native.GetU64(h, 24)
}

// put writes queue entry j.
func (q queue) put(s kv, a common.Address, j uint64, amount *uint256.Int, claimableAt uint64) {
	var h common.Hash
	putU96(&h, 0, amount)
	native.PutU64(&h, 24, claimableAt)
	s.SetState(Address, slotQueueAt(a, j), h)
}

// push appends a withdrawal of amount claimable at claimableAt; one in the
// same block as the last joins its entry. The caller saves q.
func (q *queue) push(s kv, a common.Address, amount *uint256.Int, claimableAt uint64) error {
	if q.end > q.first {
		if last, at := q.at(s, a, q.end-1); at == claimableAt {
			q.put(s, a, q.end-1, last.Add(last, amount), at)
			return nil
		}
	}
	if q.end-q.first >= MaxPendingWithdrawals {
		return errTooManyWithdrawals
	}
	q.put(s, a, q.end, amount, claimableAt)
	q.end++
	return nil
}

// slashedAt returns the height of the evidence a was slashed for, and
// whether it was.
func slashedAt(s StateReader, a common.Address) (uint64, bool) {
	v := native.GetU64(s.GetState(Address, slotSlashed(a)), 24)
	if v == 0 {
		return 0, false
	}
	return v - 1, true
}

func markSlashed(s kv, a common.Address, height uint64) {
	s.SetState(Address, slotSlashed(a), indexWord(height+1))
}
