package kvopen

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"
)

// ErrOpen wraps every failure to open a database; the cause (a held
// directory lock, a corrupt manifest, a missing permission) is wrapped
// under it.
var ErrOpen = errors.New("open badger database")

// Sizes are the memory a database may use, in bytes: its memtable, its
// block cache and its index cache.
type Sizes struct {
	MemTable   int64
	BlockCache int64
	IndexCache int64
}

// Options returns the shared options for a database in dir with the given
// sizes. Writes are synced to disk before a commit returns, so a
// committed write survives power loss as well as a killed process; one
// version of each key is kept.
func Options(dir string, s Sizes) badger.Options {
	return badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithLogger(Logger{}).
		WithNumVersionsToKeep(1).
		WithMemTableSize(s.MemTable).
		WithBlockCacheSize(s.BlockCache).
		WithIndexCacheSize(s.IndexCache)
}

// InMemoryOptions returns the options for a database that lives only in
// memory (for tests), with the given sizes.
func InMemoryOptions(s Sizes) badger.Options {
	return badger.DefaultOptions("").
		WithInMemory(true).
		WithLogger(Logger{}).
		WithMemTableSize(s.MemTable).
		WithBlockCacheSize(s.BlockCache).
		WithIndexCacheSize(s.IndexCache)
}

// Open opens (creating if needed) the database in dir with Options.
func Open(dir string, s Sizes) (*badger.DB, error) {
	db, err := badger.Open(Options(dir, s))
	if err != nil {
		return nil, fmt.Errorf("%w in %s: %w", ErrOpen, dir, err)
	}
	return db, nil
}

// OpenInMemory opens a database with InMemoryOptions.
func OpenInMemory(s Sizes) (*badger.DB, error) {
	db, err := badger.Open(InMemoryOptions(s))
	if err != nil {
		return nil, fmt.Errorf("%w in memory: %w", ErrOpen, err)
	}
	return db, nil
}

// Logger sends badger's warnings and errors to log/slog and drops its
// info and debug chatter.
type Logger struct{}

// Errorf logs at error level.
func (Logger) Errorf(f string, a ...any) { slog.Error(fmt.Sprintf("badger: "+f, a...)) }

// Warningf logs at warning level.
func (Logger) Warningf(f string, a ...any) { slog.Warn(fmt.Sprintf("badger: "+f, a...)) }

// Infof drops the message.
func (Logger) Infof(string, ...any) {}

// Debugf drops the message.
func (Logger) Debugf(string, ...any) {}
