// Package client is a typed Go client of the chess bridge
// (offchain/bridge), like ethclient is of a node: one method per chess_*
// JSON-RPC method, bridge refusals as errors that match sentinels, and
// move subscriptions over WebSocket. Bot players use it.
//
//	c, err := client.Dial("ws://127.0.0.1:8645/ws")
//	if err != nil { ... }
//	defer c.Close()
//	moves := make(chan channel.SignedState, 16)
//	sub, err := c.SubscribeMoves(ctx, gameID, moves)
//	...
//	_, err = c.SubmitMove(ctx, signed)
//	switch {
//	case errors.Is(err, wire.ErrNotYourTurn): ...
//	case errors.Is(err, wire.ErrIllegalMove): ...
//	}
//
// The client does not import the bridge: its types, error codes and
// sentinels are those of package offchain/bridge/wire, which the bridge
// serves too (the format is documented in docs/bridge.md).
package client
