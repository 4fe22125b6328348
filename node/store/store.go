package store

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/arbiter-chain/arbiter/internal/kvopen"
)

// ErrNotFound is returned by reads of keys the database does not hold.
var ErrNotFound = errors.New("not found")

// DB is a node's badger database: chain data under the schema in schema.go
// and go-ethereum's state database under statePrefix.
type DB struct {
	db *badger.DB
}

// Open opens (creating if needed) the database in dir. Writes are synced to
// disk before a commit returns, so a committed block survives power loss as
// well as a killed process.
func Open(dir string) (*DB, error) {
	return newDB(kvopen.Open(dir, kvopen.Sizes{MemTable: 32 << 20, BlockCache: 64 << 20, IndexCache: 32 << 20}))
}

// OpenInMemory opens a database that lives only in memory, for tests.
func OpenInMemory() (*DB, error) {
	return newDB(kvopen.OpenInMemory(kvopen.Sizes{MemTable: 16 << 20, BlockCache: 16 << 20, IndexCache: 8 << 20}))
}

func newDB(db *badger.DB, err error) (*DB, error) {
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &DB{db: db}, nil
}

// Close flushes and closes the database.
func (d *DB) Close() error { return d.db.Close() }

func (d *DB) get(key []byte) ([]byte, error) {
	var out []byte
	err := d.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	return out, err
}

func (d *DB) has(key []byte) (bool, error) {
	err := d.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(key)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// MetaGet reads a small named record kept by another component.
func (d *DB) MetaGet(name string) ([]byte, error) { return d.get(metaKey(name)) }

// MetaPut writes a small named record kept by another component.
func (d *DB) MetaPut(name string, value []byte) error {
	return d.db.Update(func(txn *badger.Txn) error {
		return txn.Set(metaKey(name), value)
	})
}
