// Package kvopen owns how the project opens its badger databases (the
// node's chain store in node/store, the bridge's embedded store in
// offchain/bridge and the watcher's database in offchain/watcher): the
// options every one of them shares (synced writes, one kept version, the
// logger that sends badger's warnings and errors to log/slog) and the
// wrapping of a failed open. Each caller chooses only the memory sizes.
//
//	db, err := kvopen.Open(dir, kvopen.Sizes{MemTable: 16 << 20, BlockCache: 16 << 20, IndexCache: 8 << 20})
//	if err != nil { ... } // errors.Is(err, kvopen.ErrOpen)
//	defer db.Close()
//
// It sits below node/ and offchain/ and must not import any package of
// the project outside internal/ (nor cmd/ or examples/).
package kvopen
