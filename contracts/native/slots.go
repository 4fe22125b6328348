package native

import (
	"encoding/binary"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Storage-slot helpers shared by the contracts' layout files. A slot key
// is keccak256 of a tag and its arguments (addresses 20 bytes, numbers
// big-endian), so slots of different kinds never collide; a value is one
// 32-byte word whose numbers are big-endian and whose address is
// right-aligned unless a layout packs it otherwise.

// StateReader reads contract storage; *state.StateDB satisfies it, and so
// does a contract's metered storage in a call.
type StateReader interface {
	GetState(addr common.Address, key common.Hash) common.Hash
}

// StateWriter reads and writes contract storage.
type StateWriter interface {
	StateReader
	SetState(addr common.Address, key, value common.Hash) common.Hash
}

// Slot returns the storage key keccak256(tag || args...).
func Slot(tag string, args ...[]byte) (h common.Hash) {
	d := keccakPool.Get().(crypto.KeccakState)
	d.Reset()
	d.Write([]byte(tag))
	for _, a := range args {
		d.Write(a)
	}
	d.Read(h[:])
	keccakPool.Put(d)
	return h
}

// keccakPool reuses Slot's hash states.
var keccakPool = sync.Pool{New: func() any { return crypto.NewKeccakState() }}

// U64 returns v as 8 big-endian bytes, the form of a number in a slot key.
func U64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// GetU64 reads the big-endian u64 at byte off of a word.
func GetU64(h common.Hash, off int) uint64 { return binary.BigEndian.Uint64(h[off : off+8]) }

// PutU64 writes v big-endian at byte off of a word.
func PutU64(h *common.Hash, off int, v uint64) { binary.BigEndian.PutUint64(h[off:off+8], v) }

// GetU32 reads the big-endian u32 at byte off of a word.
func GetU32(h common.Hash, off int) uint32 { return binary.BigEndian.Uint32(h[off : off+4]) }

// PutU32 writes v big-endian at byte off of a word.
func PutU32(h *common.Hash, off int, v uint32) { binary.BigEndian.PutUint32(h[off:off+4], v) }

// WordU64 reads a word holding one number: the u64 in its last 8 bytes.
func WordU64(h common.Hash) uint64 { return GetU64(h, 24) }

// U64Word returns the word holding the number v (WordU64's inverse).
func U64Word(v uint64) common.Hash {
	var h common.Hash
	PutU64(&h, 24, v)
	return h
}

// WordAddress reads a word holding one right-aligned address.
func WordAddress(h common.Hash) common.Address { return common.BytesToAddress(h[12:]) }

// AddressWord returns the word holding a right-aligned (WordAddress's
// inverse).
func AddressWord(a common.Address) common.Hash { return common.BytesToHash(a[:]) }

// WordBool reads a word holding a flag: any non-zero word is true.
func WordBool(h common.Hash) bool { return h != (common.Hash{}) }

// BoolWord returns the word holding a flag: 1 for true, zero for false.
func BoolWord(b bool) common.Hash {
	if b {
		return U64Word(1)
	}
	return common.Hash{}
}
