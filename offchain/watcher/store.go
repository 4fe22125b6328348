package watcher

import (
	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// Store is where a Watcher keeps what it must not lose: its checkpoint,
// the record of every processed log, the hashes of recent processed
// blocks, the watchtower's signed transactions, the evidence seen in
// claims and the actions it still follows up. DB keeps them in the
// watcher's own badger database; PGDB in tables of the bridge's
// PostgreSQL database, so that whichever bridge of a fleet holds the
// watchtower lease resumes where the previous holder stopped.
//
// Every write is one atomic transaction; the methods are those of DB,
// whose comments describe them.
type Store interface {
	// Checkpoint returns where processing resumes; the zero Checkpoint
	// if the watcher never ran.
	Checkpoint() (Checkpoint, error)
	// Handled returns every processed-log record, in write order.
	Handled() ([]Handled, error)
	// Quarantined returns every quarantined log.
	Quarantined() ([]Quarantined, error)
	// Sequence returns the number of processed-log records ever written.
	Sequence() (uint64, error)
	// Close releases the store.
	Close() error

	stored() (Checkpoint, bool, error)
	isHandled(blockHash common.Hash, index uint) (bool, error)
	blocks(limit int) ([]blockRef, error)
	apply(w write) (Handled, error)
	rollback(ancestor uint64, dropped []blockRef) error
	action(claimTx common.Hash) (action, bool, error)
	putAction(claimTx common.Hash, a action) error
	evidence(game common.Hash, from uint32) ([]channel.SignedState, error)
	pendings() ([]pending, error)
	settle(p pending, keep bool, update func(*Handled)) error
}

var (
	_ Store = (*DB)(nil)
	_ Store = (*PGDB)(nil)
)
