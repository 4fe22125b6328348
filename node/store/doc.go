// Package store owns a node's badger database: the key schema (one file,
// schema.go), atomic block writes, metadata, and the ethdb.KeyValueStore
// adapter that go-ethereum's state trie runs over. It opens the database
// through internal/kvopen.
//
//	db, err := store.Open(dir)
//	if err != nil { ... }
//	defer db.Close()
//
// It is the lowest layer of node/: it must not import any other package
// of node/, nor consensus/, contracts/, offchain/, cmd/ or examples/.
package store
