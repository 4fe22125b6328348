package watcher

import (
	"encoding/binary"

	"github.com/ethereum/go-ethereum/common"
)

// The key schema of the watcher's badger database (its own directory,
// next to the bridge's store: the bridge's BadgerStore does not expose
// its database, and the watcher must write its records and its checkpoint
// in one transaction). Every key starts with a one-byte prefix; numbers
// are big-endian so that byte order is numeric order. This is the only
// file that knows how keys are laid out. PGDB keeps the same content in
// the tables of migrations/0001_init.sql.
var (
	// checkpointKey -> next block (8) + next log index in it (4): where
	// processing resumes. Written in the same transaction as the record
	// of every processed log and at the end of every scanned range.
	checkpointKey = []byte("c")

	// sequenceKey -> count (8) of processed-log records ever written. Each
	// record takes the next number in the same transaction, so a record
	// written twice would leave a gap in the numbers of the stored ones.
	sequenceKey = []byte("n")

	// blockPrefix + block number (8) -> block hash (32): the hash of a
	// processed block (each block with a processed log and the last block
	// of each scanned range), kept for Config.ReorgDepth blocks behind the
	// checkpoint to find the common ancestor after a reorganisation.
	blockPrefix = []byte("b")

	// handledPrefix + block hash (32) + log index (4) -> JSON Handled: one
	// processed arbiter log, decoded or quarantined. Its presence makes
	// handling idempotent; a rollback deletes the records of dropped
	// blocks.
	handledPrefix = []byte("e")

	// quarantinePrefix + block hash (32) + log index (4) -> JSON
	// Quarantined: a log that does not decode under the arbiter ABI, with
	// the reason and the raw log.
	quarantinePrefix = []byte("q")

	// actionPrefix + claim transaction hash (32) -> JSON action: the
	// watchtower's signed refute or answer transaction for that claim,
	// written before it is sent so that a replay sends the same
	// transaction (same nonce, same hash) instead of a second one. Keyed by
	// the claim's transaction rather than its block, so a claim that a
	// reorganisation moves to another block keeps its answer.
	actionPrefix = []byte("a")

	// evidencePrefix + game id (32) + ply (4) + state struct hash (32) ->
	// channel.SignedState JSON: a state its player signed, seen in a claim
	// on chain. The bridge's store keeps one state per ply; these may
	// differ from it and prove double signing.
	evidencePrefix = []byte("v")

	// pendingPrefix + claim transaction hash (32) -> JSON pending: a
	// refute or answer whose transaction is not yet in a block (refused
	// by the node so far, or waiting in its pool). Written with the
	// claim's record, rewritten after each attempt, deleted once the
	// transaction is in a block, the chain refuses the call, or the
	// claim's window closes. A restarted watcher resumes every one still
	// stored.
	pendingPrefix = []byte("p")
)

func blockKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), blockPrefix...), n)
}

func logKey(prefix []byte, blockHash common.Hash, index uint) []byte {
	k := make([]byte, 0, len(prefix)+common.HashLength+4)
	k = append(append(k, prefix...), blockHash[:]...)
	return binary.BigEndian.AppendUint32(k, uint32(index))
}

// blockLogsPrefix is the prefix of every log key of one block under prefix.
func blockLogsPrefix(prefix []byte, blockHash common.Hash) []byte {
	return append(append([]byte(nil), prefix...), blockHash[:]...)
}

func actionKey(claimTx common.Hash) []byte {
	return append(append([]byte(nil), actionPrefix...), claimTx[:]...)
}

func pendingKey(claimTx common.Hash) []byte {
	return append(append([]byte(nil), pendingPrefix...), claimTx[:]...)
}

func evidenceGamePrefix(game common.Hash) []byte {
	return append(append([]byte(nil), evidencePrefix...), game[:]...)
}

func evidenceKey(game common.Hash, ply uint32, structHash common.Hash) []byte {
	k := binary.BigEndian.AppendUint32(evidenceGamePrefix(game), ply)
	return append(k, structHash[:]...)
}

func encodeCheckpoint(c Checkpoint) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 12), c.Block)
	return binary.BigEndian.AppendUint32(v, uint32(c.Index))
}

func encodeUint64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
