// Package wire is the bridge's JSON-RPC wire format, defined once for the
// bridge that serves it and the client that calls it: the response types
// of the chess_* methods, the bridge's JSON-RPC error codes and the
// sentinel error each of its own codes stands for.
//
// It imports neither the bridge nor its stores, so a bot that only calls
// the bridge (package offchain/client) stays small:
//
//	var g wire.Game
//	err := rpcClient.CallContext(ctx, &g, "chess_getGame", id)
//	var re rpc.Error
//	if errors.As(err, &re) && errors.Is(wire.Sentinel(re.ErrorCode()), wire.ErrUnknownGame) { ... }
//
// The methods, their parameters and examples are in docs/bridge.md.
package wire
