package bridge

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/arbiter-chain/arbiter/internal/kvopen"
)

// maxTxnRetries bounds the re-runs of an Append whose badger transaction
// lost a race (badger.ErrConflict); the re-run sees the winner and
// returns ErrConflict.
const maxTxnRetries = 3

// BadgerStore is the default Store: an embedded badger database under the
// key schema in schema.go. Badger takes a lock on its directory, so one
// process owns the store; any number of Bridge instances in that process
// may share it, and Watch reaches all of them.
type BadgerStore struct {
	db    *badger.DB
	feed  Feed
	group *groupCommit
	heads *headCache
}

// OpenBadger opens (creating if needed) the store in dir. Writes are
// synced to disk before Append or CreateGame returns, so an accepted move
// survives power loss as well as a killed process. Concurrent appends
// share one transaction and one sync (group commit, see groupcommit.go).
func OpenBadger(dir string) (*BadgerStore, error) {
	return newBadgerStore(kvopen.Open(dir, kvopen.Sizes{MemTable: 16 << 20, BlockCache: 16 << 20, IndexCache: 8 << 20}))
}

// OpenBadgerInMemory opens a badger store that lives only in memory, for
// tests.
func OpenBadgerInMemory() (*BadgerStore, error) {
	return newBadgerStore(kvopen.OpenInMemory(kvopen.Sizes{MemTable: 8 << 20, BlockCache: 8 << 20, IndexCache: 4 << 20}))
}

func newBadgerStore(db *badger.DB, err error) (*BadgerStore, error) {
	if err != nil {
		return nil, fmt.Errorf("bridge: store: %w", err)
	}
	heads := newHeadCache(headCacheSize)
	return &BadgerStore{db: db, group: &groupCommit{db: db, heads: heads}, heads: heads}, nil
}

// Close flushes and closes the database.
func (s *BadgerStore) Close() error { return s.db.Close() }

// gameJSON is the stored form of a GameRecord.
type gameJSON struct {
	White       common.Address `json:"white"`
	Black       common.Address `json:"black"`
	Stake       *hexutil.Big   `json:"stake"`
	MoveTimeout hexutil.Uint64 `json:"moveTimeout"`
}

// CreateGame implements Store.
func (s *BadgerStore) CreateGame(_ context.Context, g GameRecord) (GameRecord, error) {
	if err := ValidateGame(g); err != nil {
		return GameRecord{}, err
	}
	stake := g.Stake
	if stake == nil {
		stake = new(big.Int)
	}
	val, err := json.Marshal(gameJSON{g.White, g.Black, (*hexutil.Big)(stake), hexutil.Uint64(g.MoveTimeout)})
	if err != nil {
		return GameRecord{}, err
	}
	var out GameRecord
	err = s.update(func(txn *badger.Txn) error {
		item, err := txn.Get(gameKey(g.ID))
		switch {
		case err == nil:
			out, err = decodeGame(g.ID, item)
			return err
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		out = g.copy()
		return txn.Set(gameKey(g.ID), val)
	})
	return out, err
}

// Game implements Store.
func (s *BadgerStore) Game(_ context.Context, id common.Hash) (GameRecord, error) {
	var out GameRecord
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(gameKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		out, err = decodeGame(id, item)
		return err
	})
	return out, err
}

func decodeGame(id common.Hash, item *badger.Item) (GameRecord, error) {
	var j gameJSON
	err := item.Value(func(v []byte) error { return json.Unmarshal(v, &j) })
	if err != nil {
		return GameRecord{}, fmt.Errorf("bridge: stored game %s: %w", id, err)
	}
	return GameRecord{ID: id, White: j.White, Black: j.Black, Stake: j.Stake.ToInt(), MoveTimeout: uint64(j.MoveTimeout)}, nil
}

// Head implements Store.
func (s *BadgerStore) Head(_ context.Context, id common.Hash) (Record, bool, error) {
	if rec, ok := s.heads.get(id); ok {
		return rec, true, nil
	}
	var (
		rec Record
		ok  bool
	)
	err := s.db.View(func(txn *badger.Txn) error {
		ply, err := readHead(txn, id)
		if err != nil || ply == 0 {
			return err
		}
		item, err := txn.Get(stateKey(id, ply))
		if err != nil {
			return fmt.Errorf("bridge: head %d of %s: %w", ply, id, err)
		}
		rec, err = decodeRecord(item)
		ok = err == nil
		return err
	})
	return rec, ok, err
}

// readHead returns the newest stored ply of a game, 0 if none.
func readHead(txn *badger.Txn, id common.Hash) (uint32, error) {
	item, err := txn.Get(headKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	var ply uint32
	err = item.Value(func(v []byte) error {
		if len(v) != 4 {
			return fmt.Errorf("bridge: head of %s is %d bytes", id, len(v))
		}
		ply = binary.BigEndian.Uint32(v)
		return nil
	})
	return ply, err
}

// States implements Store.
func (s *BadgerStore) States(_ context.Context, id common.Hash, from uint32, limit int) ([]Record, error) {
	var out []Record
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := statesPrefix(id)
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		opts.PrefetchSize = min(max(limit, 1), 100)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(stateKey(id, from)); it.ValidForPrefix(prefix) && len(out) < limit; it.Next() {
			rec, err := decodeRecord(it.Item())
			if err != nil {
				return err
			}
			out = append(out, rec)
		}
		return nil
	})
	return out, err
}

// Append implements Store.
func (s *BadgerStore) Append(_ context.Context, rec Record) error {
	if err := ValidateRecord(rec); err != nil {
		return err
	}
	id, ply := rec.State.State.GameID, rec.Ply()
	js, err := rec.State.MarshalJSON()
	if err != nil {
		return err
	}
	val := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(js)), uint64(rec.Accepted.UnixNano()))
	val = append(val, js...)
	rec.Accepted = time.Unix(0, rec.Accepted.UnixNano()) // as decodeRecord reads it back
	err = s.group.append(&appendReq{id: id, ply: ply, val: val, rec: rec})
	if err == nil {
		s.feed.Notify(id)
	}
	return err
}

// update runs fn in a read-write transaction, re-running it when badger
// reports that a concurrent transaction committed a key fn read.
func (s *BadgerStore) update(fn func(*badger.Txn) error) error {
	var err error
	for range maxTxnRetries {
		err = s.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("bridge: store transaction: %w", err)
}

// Watch implements Store. Every write to the store goes through Append in
// this process (badger's directory lock sees to that), so Append wakes the
// watchers itself once its transaction has committed.
func (s *BadgerStore) Watch(ctx context.Context, id common.Hash) (<-chan struct{}, error) {
	return s.feed.Watch(ctx, id), nil
}

func decodeRecord(item *badger.Item) (Record, error) {
	var rec Record
	err := item.Value(func(v []byte) error {
		if len(v) < 8 {
			return fmt.Errorf("bridge: state record is %d bytes", len(v))
		}
		rec.Accepted = time.Unix(0, int64(binary.BigEndian.Uint64(v[:8])))
		return rec.State.UnmarshalJSON(v[8:])
	})
	if err != nil {
		return Record{}, fmt.Errorf("bridge: stored state %x: %w", item.Key(), err)
	}
	return rec, nil
}
