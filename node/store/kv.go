package store

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/ethdb"
)

// StateKV returns go-ethereum's view of the state database: an
// ethdb.KeyValueStore whose keys all live under statePrefix. The trie
// database and the code store of core/state run over it unchanged.
func (d *DB) StateKV() ethdb.KeyValueStore { return &kvStore{db: d.db, prefix: statePrefix} }

// kvStore adapts badger to ethdb.KeyValueStore within one key prefix.
type kvStore struct {
	db     *badger.DB
	prefix []byte
}

var errBatchClosed = errors.New("batch already closed")

func (s *kvStore) key(k []byte) []byte {
	out := make([]byte, 0, len(s.prefix)+len(k))
	return append(append(out, s.prefix...), k...)
}

func (s *kvStore) Has(key []byte) (bool, error) {
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(s.key(key))
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (s *kvStore) Get(key []byte) ([]byte, error) {
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(s.key(key))
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	return out, err
}

func (s *kvStore) Put(key, value []byte) error {
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(s.key(key), bytes.Clone(value))
	})
}

func (s *kvStore) Delete(key []byte) error {
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.Delete(s.key(key))
	})
}

// DeleteRange removes keys in [start, end) within the prefix.
func (s *kvStore) DeleteRange(start, end []byte) error {
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false})
		defer it.Close()
		for it.Seek(s.key(start)); it.ValidForPrefix(s.prefix); it.Next() {
			k := it.Item().KeyCopy(nil)
			if end != nil && bytes.Compare(k[len(s.prefix):], end) >= 0 {
				break
			}
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	return wb.Flush()
}

func (s *kvStore) Stat() (string, error) {
	lsm, vlog := s.db.Size()
	return fmt.Sprintf("badger lsm=%d vlog=%d", lsm, vlog), nil
}

func (s *kvStore) SyncKeyValue() error { return s.db.Sync() }

func (s *kvStore) Compact(start, limit []byte) error { return nil }

func (s *kvStore) Close() error { return nil }

func (s *kvStore) NewBatch() ethdb.Batch { return &kvBatch{store: s} }

func (s *kvStore) NewBatchWithSize(size int) ethdb.Batch {
	return &kvBatch{store: s, ops: make([]kvOp, 0, size/64)}
}

// NewIterator walks the keys that start with prefix, from start on, over a
// consistent snapshot. Keys and values are copied out of badger.
func (s *kvStore) NewIterator(prefix, start []byte) ethdb.Iterator {
	txn := s.db.NewTransaction(false)
	it := txn.NewIterator(badger.DefaultIteratorOptions)
	full := s.key(prefix)
	it.Seek(append(bytes.Clone(full), start...))
	return &kvIterator{txn: txn, it: it, prefix: full, strip: len(s.prefix)}
}

type kvOp struct {
	key, value []byte
	del        bool
}

// kvBatch buffers writes and applies them in order on Write. It is used by
// the trie database to flush content-addressed trie nodes, so Write need not
// be atomic across badger's transaction size limit: a node written without
// the head that references it is unreachable, never wrong.
type kvBatch struct {
	store  *kvStore
	ops    []kvOp
	size   int
	closed bool
}

func (b *kvBatch) Put(key, value []byte) error {
	b.ops = append(b.ops, kvOp{key: b.store.key(key), value: bytes.Clone(value)})
	b.size += len(key) + len(value)
	return nil
}

// PutShared is Put for a value its caller never changes afterwards (the
// trie node store's encodings): the value is not copied.
func (b *kvBatch) PutShared(key, value []byte) error {
	b.ops = append(b.ops, kvOp{key: b.store.key(key), value: value})
	b.size += len(key) + len(value)
	return nil
}

func (b *kvBatch) Delete(key []byte) error {
	b.ops = append(b.ops, kvOp{key: b.store.key(key), del: true})
	b.size += len(key)
	return nil
}

func (b *kvBatch) DeleteRange(start, end []byte) error {
	if err := b.Write(); err != nil {
		return err
	}
	b.Reset()
	return b.store.DeleteRange(start, end)
}

func (b *kvBatch) ValueSize() int { return b.size }

func (b *kvBatch) Write() error {
	if b.closed {
		return errBatchClosed
	}
	if len(b.ops) == 0 {
		return nil
	}
	wb := b.store.db.NewWriteBatch()
	defer wb.Cancel()
	for _, op := range b.ops {
		var err error
		if op.del {
			err = wb.Delete(op.key)
		} else {
			err = wb.Set(op.key, op.value)
		}
		if err != nil {
			return err
		}
	}
	return wb.Flush()
}

func (b *kvBatch) Reset() { b.ops, b.size = b.ops[:0], 0 }

func (b *kvBatch) Replay(w ethdb.KeyValueWriter) error {
	n := len(b.store.prefix)
	for _, op := range b.ops {
		var err error
		if op.del {
			err = w.Delete(op.key[n:])
		} else {
			err = w.Put(op.key[n:], op.value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *kvBatch) Close() { b.closed = true; b.ops = nil }

type kvIterator struct {
	txn     *badger.Txn
	it      *badger.Iterator
	prefix  []byte
	strip   int
	started bool
	key     []byte
	value   []byte
	err     error
}

func (i *kvIterator) Next() bool {
	if i.it == nil {
		return false
	}
	if i.started {
		i.it.Next()
	}
	i.started = true
	if !i.it.ValidForPrefix(i.prefix) {
		i.key, i.value = nil, nil
		return false
	}
	item := i.it.Item()
	i.key = item.KeyCopy(nil)[i.strip:]
	i.value, i.err = item.ValueCopy(nil)
	return i.err == nil
}

func (i *kvIterator) Error() error  { return i.err }
func (i *kvIterator) Key() []byte   { return i.key }
func (i *kvIterator) Value() []byte { return i.value }

func (i *kvIterator) Release() {
	if i.it != nil {
		i.it.Close()
		i.txn.Discard()
		i.it = nil
	}
}
