// Package bridge relays the signed states of off-chain chess games between
// players and checks every one of them before it is stored or relayed, so
// that the bridge never forwards a move the arbiter contract would reject.
//
// Each operation (OpenGame, GetGame, SubmitMove, History, BuildClaim,
// WatchMoves) is a stateless function of its request over a Store, which
// holds games and accepted states, and an Arbiter, which reads the
// contract. Any number of Bridge instances over one Store serve the same
// games; a state accepted by one is pushed to subscribers of all of them.
//
// Adapters publish the operations as JSON-RPC 2.0 methods chess_* (see
// docs/bridge.md): Handler serves POST /rpc and WebSocket /ws with
// gorilla/mux and go-ethereum's rpc server, and LambdaHandler serves /rpc
// on AWS Lambda behind an API Gateway HTTP API. Stores: BadgerStore
// (embedded, the default), MemStore (tests), pgstore (PostgreSQL, for a
// fleet) and dynamostore (DynamoDB, for Lambda) in the subpackages, or any
// implementation that keeps the guarantees listed on Store and passes
// the suite in storetest; storeurl opens one by URL.
//
//	store, err := bridge.OpenBadger(dir)
//	if err != nil { ... }
//	arb, err := bridge.DialArbiter(ctx, "ws://127.0.0.1:8546", common.HexToAddress(channel.ArbiterContract))
//	if err != nil { ... }
//	b, err := bridge.New(bridge.Config{}, store, arb)
//	if err != nil { ... }
//	srv := b.HTTPServer() // Handler with timeouts against slow clients
//	ln, err := net.Listen("tcp", "127.0.0.1:8645")
//	if err != nil { ... }
//	err = srv.Serve(b.Listener(ln)) // at most MaxConnsPerIP connections per client address
//
// Refusals carry JSON-RPC codes -32010 to -32018; wire.ErrorCode maps an
// operation's error to its code. The response types and codes are those
// of package wire, which the client (offchain/client) shares.
//
// It owns the chess_* operations, their HTTP, WebSocket and Lambda
// adapters and the embedded badger store; its limits come from
// internal/rpclimit and its database options from internal/kvopen. It
// reaches a node over JSON-RPC only and must not import node/, contracts/,
// consensus/, cmd/ or examples/.
package bridge
