package kvopen

import (
	"errors"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

var testSizes = Sizes{MemTable: 8 << 20, BlockCache: 4 << 20, IndexCache: 2 << 20}

// TestOpenReopen checks that a synced write survives closing and
// reopening the directory, and that a second open of a directory in use
// fails with ErrOpen.
func TestOpenReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, testSizes)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, testSizes); !errors.Is(err, ErrOpen) {
		t.Errorf("second open of a directory in use: have %v, want %v", err, ErrOpen)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, testSizes)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var have []byte
	if err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte("k"))
		if err != nil {
			return err
		}
		have, err = item.ValueCopy(nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if string(have) != "v" {
		t.Errorf("have %q, want %q", have, "v")
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name     string
		opts     badger.Options
		sync     bool
		inMemory bool
	}{
		{"on disk", Options("x", testSizes), true, false},
		{"in memory", InMemoryOptions(testSizes), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			if o.SyncWrites != tt.sync || o.InMemory != tt.inMemory {
				t.Errorf("have sync %v in memory %v, want %v %v", o.SyncWrites, o.InMemory, tt.sync, tt.inMemory)
			}
			have := Sizes{o.MemTableSize, o.BlockCacheSize, o.IndexCacheSize}
			if have != testSizes {
				t.Errorf("have sizes %+v, want %+v", have, testSizes)
			}
			if _, ok := o.Logger.(Logger); !ok {
				t.Errorf("have logger %T, want kvopen.Logger", o.Logger)
			}
		})
	}
	db, err := OpenInMemory(testSizes)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
