package store

import (
	"encoding/binary"

	"github.com/ethereum/go-ethereum/common"
)

// The key schema of a node's badger database. Every key starts with a
// one-byte prefix; numbers are 8-byte big-endian so that byte order is numeric
// order and a prefix scan walks blocks in height order. This is the only file
// that knows how keys are laid out.
var (
	// headKey -> 32-byte hash of the head of the canonical chain.
	headKey = []byte("LastBlock")

	// finalizedKey -> 32-byte hash of the newest block final by the engine's proof.
	finalizedKey = []byte("LastFinalized")

	// headerPrefix + num (8) + hash (32) -> RLP(types.Header)
	headerPrefix = []byte("h")

	// bodyPrefix + num (8) + hash (32) -> RLP(types.Body)
	bodyPrefix = []byte("b")

	// receiptsPrefix + num (8) + hash (32) -> RLP([]*types.ReceiptForStorage)
	receiptsPrefix = []byte("r")

	// tdPrefix + num (8) + hash (32) -> RLP(total difficulty *big.Int)
	tdPrefix = []byte("d")

	// certPrefix + num (8) + hash (32) -> the engine's certificate that the
	// block was decided (an RLP pos commit). Written with the block under a
	// certifying engine, which stores no block without one.
	certPrefix = []byte("c")

	// canonicalPrefix + num (8) -> 32-byte hash of the canonical block at num
	canonicalPrefix = []byte("n")

	// numberPrefix + hash (32) -> num (8): every stored block, canonical or not
	numberPrefix = []byte("H")

	// txLookupPrefix + tx hash (32) -> num (8) + index (4) of the canonical block holding it
	txLookupPrefix = []byte("l")

	// statePrefix + go-ethereum rawdb key -> value: the state trie nodes,
	// contract code and preimages that go-ethereum's trie database writes.
	// Hash-scheme trie nodes are keyed by their own hash, so a node written
	// by an import that never committed its head is unreachable, not wrong.
	statePrefix = []byte("s")

	// metaPrefix + name -> value: small records owned by other components
	// (bridge checkpoints, node identity), keyed by their own names.
	metaPrefix = []byte("m")
)

func encodeNumber(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func numHashKey(prefix []byte, n uint64, h common.Hash) []byte {
	k := make([]byte, 0, len(prefix)+8+common.HashLength)
	k = append(k, prefix...)
	k = append(k, encodeNumber(n)...)
	return append(k, h[:]...)
}

func headerKey(n uint64, h common.Hash) []byte   { return numHashKey(headerPrefix, n, h) }
func bodyKey(n uint64, h common.Hash) []byte     { return numHashKey(bodyPrefix, n, h) }
func receiptsKey(n uint64, h common.Hash) []byte { return numHashKey(receiptsPrefix, n, h) }
func tdKey(n uint64, h common.Hash) []byte       { return numHashKey(tdPrefix, n, h) }
func certKey(n uint64, h common.Hash) []byte     { return numHashKey(certPrefix, n, h) }

func canonicalKey(n uint64) []byte {
	return append(append([]byte{}, canonicalPrefix...), encodeNumber(n)...)
}

func numberKey(h common.Hash) []byte {
	return append(append([]byte{}, numberPrefix...), h[:]...)
}

func txLookupKey(h common.Hash) []byte {
	return append(append([]byte{}, txLookupPrefix...), h[:]...)
}

func metaKey(name string) []byte {
	return append(append([]byte{}, metaPrefix...), name...)
}
