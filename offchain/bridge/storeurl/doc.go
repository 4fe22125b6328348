// Package storeurl opens the bridge's store named by a URL, the one place
// that chooses among the stores:
//
//	memory:                                   bridge.MemStore (tests; nothing survives a restart)
//	badger:DIR                                bridge.BadgerStore in DIR (the embedded default)
//	postgres://USER@HOST:PORT/DB?…            pgstore (also postgresql://; pgx's parameters)
//	dynamodb://TABLE?region=…&endpoint=…&poll=…  dynamostore (see dynamostore.ParseURL)
//
//	s, err := storeurl.Open(ctx, "postgres://bridge@db.internal/arbiter")
//	if err != nil { ... } // a bad URL, or a database that cannot be reached
//	defer s.Close()
//
// Open connects before it returns, so a bridge started on a database it
// cannot reach refuses to start instead of serving without a store.
//
// It owns the store URL schemes only; it may import offchain/bridge and
// its stores and must not import node/, contracts/, consensus/, cmd/ or
// examples/.
package storeurl
