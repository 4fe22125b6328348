package watcher

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/internal/kvopen"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// Checkpoint is where the watcher resumes: the next log to process is the
// first log of block Block with index Index or more.
type Checkpoint struct {
	Block uint64 `json:"block"`
	Index uint   `json:"index"`
}

// before reports whether the log at (block, index) precedes c, that is,
// was processed already.
func (c Checkpoint) before(block uint64, index uint) bool {
	return block < c.Block || (block == c.Block && index < c.Index)
}

// Outcomes of a processed log, as Handled.Outcome records them.
const (
	OutcomeHandled     = "handled"     // decoded; nothing for the watchtower to do
	OutcomeQuarantined = "quarantined" // did not decode; see Quarantined
	OutcomeUnwatched   = "unwatched"   // a claim on a game the bridge does not hold
	OutcomePending     = "pending"     // a claim the watchtower holds nothing against
	OutcomeRefuted     = "refuted"     // refute sent
	OutcomeAnswered    = "answered"    // answer sent
	OutcomeRefused     = "refused"     // a refute or answer the chain would not take
	OutcomeNoKey       = "no-key"      // a refute or answer was possible, but no key is configured
	OutcomeRetrying    = "retrying"    // the node refused the refute or answer so far; retried until the window closes
	OutcomeMissed      = "missed"      // the window closed before the refute or answer was in a block
)

// Handled is the record of one processed arbiter log. The record of a
// claim the watchtower acts on follows its action: OutcomeRetrying while
// the node refuses it, OutcomeRefuted or OutcomeAnswered once sent,
// OutcomeMissed or OutcomeRefused if it never lands.
type Handled struct {
	// Seq numbers the records in the order they were written, from 1.
	Seq       uint64      `json:"seq"`
	Block     uint64      `json:"block"`
	BlockHash common.Hash `json:"blockHash"`
	Index     uint        `json:"index"`
	TxHash    common.Hash `json:"txHash"`
	// Event is the ABI event name; empty for a quarantined log.
	Event   string      `json:"event,omitempty"`
	GameID  common.Hash `json:"gameId"`
	Outcome string      `json:"outcome"`
	// Action is the hash of the watchtower's transaction, if it sent one.
	Action common.Hash `json:"action"`
	Detail string      `json:"detail,omitempty"`
}

// Quarantined is a log that did not decode under the arbiter ABI.
type Quarantined struct {
	Reason string    `json:"reason"`
	Log    types.Log `json:"log"`
}

// action is the watchtower's transaction for one claim, stored before it
// is sent.
type action struct {
	Method string        `json:"method"`
	TxHash common.Hash   `json:"txHash"`
	Raw    hexutil.Bytes `json:"raw"`
}

// DB is the watcher's own badger database (key schema in schema.go). One
// Watcher writes it; its read methods may be called from any goroutine.
type DB struct {
	db *badger.DB
}

// Open opens (creating if needed) the watcher database in dir. Writes are
// synced before they return, so a handled event survives power loss as
// well as a killed process.
func Open(dir string) (*DB, error) {
	return newDB(kvopen.Open(dir, kvopen.Sizes{MemTable: 16 << 20, BlockCache: 8 << 20, IndexCache: 4 << 20}))
}

// OpenInMemory opens a database that lives only in memory, for tests.
func OpenInMemory() (*DB, error) {
	return newDB(kvopen.OpenInMemory(kvopen.Sizes{MemTable: 8 << 20, BlockCache: 4 << 20, IndexCache: 2 << 20}))
}

func newDB(db *badger.DB, err error) (*DB, error) {
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errStore, err)
	}
	return &DB{db: db}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// Snapshot is the content of a watcher database that tells what was
// processed.
type Snapshot struct {
	Checkpoint Checkpoint
	// Handled holds the processed-log records in write order.
	Handled []Handled
	// Sequence counts the records ever written; it equals len(Handled)
	// unless a record was written twice or a reorganisation dropped some.
	Sequence uint64
}

// ReadSnapshot opens the database in dir, which no process may hold open
// (stop the watcher first), and reads its Snapshot.
func ReadSnapshot(dir string) (Snapshot, error) {
	d, err := Open(dir)
	if err != nil {
		return Snapshot{}, err
	}
	defer d.Close()
	var s Snapshot
	if s.Checkpoint, err = d.Checkpoint(); err != nil {
		return Snapshot{}, err
	}
	if s.Handled, err = d.Handled(); err != nil {
		return Snapshot{}, err
	}
	s.Sequence, err = d.Sequence()
	return s, err
}

// Checkpoint returns where processing resumes; the zero Checkpoint if the
// watcher never ran.
func (d *DB) Checkpoint() (Checkpoint, error) {
	var c Checkpoint
	err := d.db.View(func(txn *badger.Txn) error {
		var err error
		c, _, err = readCheckpoint(txn)
		return err
	})
	return c, err
}

// stored returns the checkpoint; ok is false if none was written yet.
func (d *DB) stored() (c Checkpoint, ok bool, err error) {
	err = d.db.View(func(txn *badger.Txn) error {
		c, ok, err = readCheckpoint(txn)
		return err
	})
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("%w: %w", errStore, err)
	}
	return c, ok, nil
}

func readCheckpoint(txn *badger.Txn) (Checkpoint, bool, error) {
	item, err := txn.Get(checkpointKey)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Checkpoint{}, false, nil
	} else if err != nil {
		return Checkpoint{}, false, err
	}
	var c Checkpoint
	err = item.Value(func(v []byte) error {
		if len(v) != 12 {
			return fmt.Errorf("%w: checkpoint is %d bytes", errStore, len(v))
		}
		c = Checkpoint{Block: binary.BigEndian.Uint64(v), Index: uint(binary.BigEndian.Uint32(v[8:]))}
		return nil
	})
	return c, err == nil, err
}

// Sequence returns the number of processed-log records ever written.
func (d *DB) Sequence() (uint64, error) {
	var n uint64
	err := d.db.View(func(txn *badger.Txn) error {
		var err error
		n, err = readUint64(txn, sequenceKey)
		return err
	})
	return n, err
}

func readUint64(txn *badger.Txn, key []byte) (uint64, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	var n uint64
	err = item.Value(func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("%w: %q is %d bytes", errStore, key, len(v))
		}
		n = binary.BigEndian.Uint64(v)
		return nil
	})
	return n, err
}

// Handled returns every processed-log record, in write order.
func (d *DB) Handled() ([]Handled, error) {
	var out []Handled
	err := scanJSON(d.db, handledPrefix, func(_ []byte, h Handled) { out = append(out, h) })
	slices.SortFunc(out, func(a, b Handled) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, err
}

// Quarantined returns every quarantined log.
func (d *DB) Quarantined() ([]Quarantined, error) {
	var out []Quarantined
	err := scanJSON(d.db, quarantinePrefix, func(_ []byte, q Quarantined) { out = append(out, q) })
	return out, err
}

// scanJSON decodes every value under prefix into a T.
func scanJSON[T any](db *badger.DB, prefix []byte, fn func(key []byte, v T)) error {
	return db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.ValidForPrefix(prefix); it.Next() {
			var v T
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &v) }); err != nil {
				return fmt.Errorf("%w: record %x: %w", errStore, it.Item().Key(), err)
			}
			fn(it.Item().KeyCopy(nil), v)
		}
		return nil
	})
}

// isHandled reports whether the log at (blockHash, index) has a record.
func (d *DB) isHandled(blockHash common.Hash, index uint) (bool, error) {
	var ok bool
	err := d.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(logKey(handledPrefix, blockHash, index))
		switch {
		case err == nil:
			ok = true
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		return nil
	})
	return ok, err
}

// blockRef is a processed block.
type blockRef struct {
	Number uint64
	Hash   common.Hash
}

// blocks returns at most limit stored processed blocks, newest first.
func (d *DB) blocks(limit int) ([]blockRef, error) {
	var out []blockRef
	err := d.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Reverse = true
		it := txn.NewIterator(opts)
		defer it.Close()
		// A reverse iterator seeks to the last key <= the seek key.
		for it.Seek(append(append([]byte(nil), blockPrefix...), 0xff)); it.ValidForPrefix(blockPrefix) && len(out) < limit; it.Next() {
			k := it.Item().Key()
			if len(k) != len(blockPrefix)+8 {
				return fmt.Errorf("%w: block key %x", errStore, k)
			}
			ref := blockRef{Number: binary.BigEndian.Uint64(k[len(blockPrefix):])}
			err := it.Item().Value(func(v []byte) error {
				if len(v) != common.HashLength {
					return fmt.Errorf("%w: block %d hash is %d bytes", errStore, ref.Number, len(v))
				}
				ref.Hash = common.BytesToHash(v)
				return nil
			})
			if err != nil {
				return err
			}
			out = append(out, ref)
		}
		return nil
	})
	return out, err
}

// write is one atomic update: the checkpoint always, and whatever else
// the processing of one log or one range produced.
type write struct {
	cp          Checkpoint
	block       *blockRef    // processed block to remember
	pruneBelow  uint64       // forget processed blocks below this number
	handled     *Handled     // record of a processed log; Seq is assigned
	quarantined *Quarantined // raw form of a log that did not decode
	evidence    []channel.SignedState
	pending     *pending // watchtower action to follow up
}

// apply commits w in one transaction.
func (d *DB) apply(w write) (Handled, error) {
	var rec Handled
	err := d.db.Update(func(txn *badger.Txn) error {
		if w.block != nil {
			if err := txn.Set(blockKey(w.block.Number), w.block.Hash[:]); err != nil {
				return err
			}
		}
		if w.pruneBelow > 0 {
			if err := deleteRange(txn, blockKey(0), blockKey(w.pruneBelow)); err != nil {
				return err
			}
		}
		if w.handled != nil {
			seq, err := readUint64(txn, sequenceKey)
			if err != nil {
				return err
			}
			rec = *w.handled
			rec.Seq = seq + 1
			val, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			if err := txn.Set(logKey(handledPrefix, rec.BlockHash, rec.Index), val); err != nil {
				return err
			}
			if err := txn.Set(sequenceKey, encodeUint64(rec.Seq)); err != nil {
				return err
			}
			if w.quarantined != nil {
				q, err := json.Marshal(w.quarantined)
				if err != nil {
					return err
				}
				if err := txn.Set(logKey(quarantinePrefix, rec.BlockHash, rec.Index), q); err != nil {
					return err
				}
			}
		}
		if w.pending != nil {
			if err := setPending(txn, *w.pending); err != nil {
				return err
			}
		}
		for _, s := range w.evidence {
			val, err := s.MarshalJSON()
			if err != nil {
				return err
			}
			if err := txn.Set(evidenceKey(s.State.GameID, s.State.Ply, s.State.StructHash()), val); err != nil {
				return err
			}
		}
		return txn.Set(checkpointKey, encodeCheckpoint(w.cp))
	})
	if err != nil {
		return Handled{}, fmt.Errorf("%w: %w", errStore, err)
	}
	return rec, nil
}

// deleteRange deletes the keys in [from, to).
func deleteRange(txn *badger.Txn, from, to []byte) error {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	it := txn.NewIterator(opts)
	var keys [][]byte
	for it.Seek(from); it.Valid() && string(it.Item().Key()) < string(to); it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	it.Close()
	for _, k := range keys {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// rollback forgets every processed block above ancestor, with the records
// of its logs, and moves the checkpoint to the block after ancestor.
func (d *DB) rollback(ancestor uint64, dropped []blockRef) error {
	err := d.db.Update(func(txn *badger.Txn) error {
		for _, b := range dropped {
			if b.Number <= ancestor {
				continue
			}
			for _, p := range [][]byte{handledPrefix, quarantinePrefix} {
				from := blockLogsPrefix(p, b.Hash)
				to := append(append([]byte(nil), from...), 0xff, 0xff, 0xff, 0xff, 0xff)
				if err := deleteRange(txn, from, to); err != nil {
					return err
				}
			}
			if err := txn.Delete(blockKey(b.Number)); err != nil {
				return err
			}
		}
		return txn.Set(checkpointKey, encodeCheckpoint(Checkpoint{Block: ancestor + 1}))
	})
	if err != nil {
		return fmt.Errorf("%w: rollback to %d: %w", errStore, ancestor, err)
	}
	return nil
}

// action returns the stored transaction for a claim.
func (d *DB) action(claimTx common.Hash) (action, bool, error) {
	var (
		a  action
		ok bool
	)
	err := d.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(actionKey(claimTx))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		ok = true
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &a) })
	})
	if err != nil {
		return action{}, false, fmt.Errorf("%w: action for %s: %w", errStore, claimTx, err)
	}
	return a, ok, nil
}

// putAction stores the transaction for a claim before it is sent.
func (d *DB) putAction(claimTx common.Hash, a action) error {
	val, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := d.db.Update(func(txn *badger.Txn) error { return txn.Set(actionKey(claimTx), val) }); err != nil {
		return fmt.Errorf("%w: action for %s: %w", errStore, claimTx, err)
	}
	return nil
}

// evidence returns the stored signed states of a game with ply >= from.
func (d *DB) evidence(game common.Hash, from uint32) ([]channel.SignedState, error) {
	var out []channel.SignedState
	err := d.db.View(func(txn *badger.Txn) error {
		prefix := evidenceGamePrefix(game)
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(binary.BigEndian.AppendUint32(prefix, from)); it.ValidForPrefix(prefix); it.Next() {
			var s channel.SignedState
			if err := it.Item().Value(s.UnmarshalJSON); err != nil {
				return fmt.Errorf("%w: evidence %x: %w", errStore, it.Item().Key(), err)
			}
			out = append(out, s)
		}
		return nil
	})
	return out, err
}
