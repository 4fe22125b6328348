package membership

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"

	"github.com/arbiter-chain/arbiter/contracts/native"
)

// Address is where the membership contract and its storage live.
var Address = common.HexToAddress("0x0000000000000000000000000000000000001001")

// Reader reads contract storage; *state.StateDB satisfies it.
type Reader = native.StateReader

// Writer writes contract storage; *state.StateDB satisfies it.
type Writer = native.StateWriter

// Storage layout of the membership contract. Every slot key is a keccak256 of
// a tag and its arguments, so slots of different kinds never collide:
//
//	keccak("count")              -> number of members n
//	keccak("list", i)            -> address of member i, 0 <= i < n (order of admission)
//	keccak("index", addr)        -> i+1 for a member, 0 otherwise
//	keccak("allowed", addr)      -> address of the member who vouched for addr, 0 if none
//	                                (it counts only while that address is a member)
//
// The contract's votes (see votes.go) use three more tags:
//
//	keccak("epoch")                                 -> member-set epoch e, +1 on every admission or removal
//	keccak("round", kind, subject)                  -> round r of proposals of kind on subject
//	keccak("votes", e, kind, subject, r)            -> number of votes cast
//	keccak("vote", e, kind, subject, r, voter)      -> 1 if voter voted
//
// with kind one byte (1 add member, 2 remove member, 3 revoke account),
// subject and voter 20-byte addresses and e, r 8-byte big-endian numbers.
//
// The list keeps members in a deterministic order without iterating a map,
// and index makes membership an O(1) read.

func slotCount() common.Hash                   { return native.Slot("count") }
func slotList(i uint64) common.Hash            { return native.Slot("list", native.U64(i)) }
func slotIndex(a common.Address) common.Hash   { return accountSlotsOf(a).index }
func slotAllowed(a common.Address) common.Hash { return accountSlotsOf(a).allowed }

// accountSlots are the two slot keys of an address that every transaction
// reads (IsAllowed), in the pool and again in the block that includes it.
type accountSlots struct{ index, allowed common.Hash }

// slotCache holds the slot keys of recently checked addresses: two
// keccak256 per check were about 4% of a validator's CPU under load. The
// keys are a pure function of the address, so the cache changes no
// outcome; it is bounded and evicts the least recently used.
var slotCache = lru.NewCache[common.Address, accountSlots](16384)

func accountSlotsOf(a common.Address) accountSlots {
	if s, ok := slotCache.Get(a); ok {
		return s
	}
	s := accountSlots{index: native.Slot("index", a[:]), allowed: native.Slot("allowed", a[:])}
	slotCache.Add(a, s)
	return s
}

// IsMember reports whether addr is a member in the given state.
func IsMember(s Reader, addr common.Address) bool {
	return s.GetState(Address, slotIndex(addr)) != (common.Hash{})
}

// VoucherOf returns the member who allowed account, and whether one did.
func VoucherOf(s Reader, account common.Address) (common.Address, bool) {
	v := s.GetState(Address, slotAllowed(account))
	return native.WordAddress(v), v != (common.Hash{})
}

// IsAllowed reports whether addr may send transactions: members always may,
// other accounts while the member who vouched for them is a member. A
// voucher lapses while its member is not one; it holds again if that
// member is re-admitted, unless it was revoked in between.
func IsAllowed(s Reader, addr common.Address) bool {
	if IsMember(s, addr) {
		return true
	}
	by, ok := VoucherOf(s, addr)
	return ok && IsMember(s, by)
}

// Members returns the members in order of admission.
func Members(s Reader) []common.Address {
	n := native.WordU64(s.GetState(Address, slotCount()))
	out := make([]common.Address, 0, n)
	for i := uint64(0); i < n; i++ {
		v := s.GetState(Address, slotList(i))
		out = append(out, native.WordAddress(v))
	}
	return out
}

// AddMember appends addr to the member list. It reports false if addr was
// already a member.
func AddMember(s Writer, addr common.Address) bool {
	if IsMember(s, addr) {
		return false
	}
	n := native.WordU64(s.GetState(Address, slotCount()))
	s.SetState(Address, slotList(n), native.AddressWord(addr))
	s.SetState(Address, slotIndex(addr), native.U64Word(n+1))
	s.SetState(Address, slotCount(), native.U64Word(n+1))
	return true
}

// RemoveMember removes addr by moving the last member into its place. It
// reports false if addr was not a member.
func RemoveMember(s Writer, addr common.Address) bool {
	idx := native.WordU64(s.GetState(Address, slotIndex(addr)))
	if idx == 0 {
		return false
	}
	n := native.WordU64(s.GetState(Address, slotCount()))
	last := s.GetState(Address, slotList(n-1))
	if idx-1 != n-1 {
		s.SetState(Address, slotList(idx-1), last)
		s.SetState(Address, slotIndex(native.WordAddress(last)), native.U64Word(idx))
	}
	s.SetState(Address, slotList(n-1), common.Hash{})
	s.SetState(Address, slotIndex(addr), common.Hash{})
	s.SetState(Address, slotCount(), native.U64Word(n-1))
	return true
}

// Allow records that member by vouches for account.
func Allow(s Writer, account, by common.Address) {
	s.SetState(Address, slotAllowed(account), native.AddressWord(by))
}

// Revoke withdraws the voucher for account.
func Revoke(s Writer, account common.Address) {
	s.SetState(Address, slotAllowed(account), common.Hash{})
}
