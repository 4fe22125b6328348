// Package native is what a native contract is written against: the
// Contract description (name, address, ABI JSON, one Handler per ABI
// method), the narrow Context a handler sees, the gas schedule, and Execute,
// which dispatches one ABI-encoded call under a gas limit.
//
// A handler sees only its caller, the value sent, the block number and time,
// the nonce of the calling transaction, its own storage, transfers out of
// its own balance and log emission:
//
//	func (c *counter) inc(ctx *native.Context, args native.Args) ([]any, error) {
//		var in struct{ By uint64 }
//		if err := args.Decode(&in); err != nil {
//			return nil, err
//		}
//		n := new(big.Int).SetBytes(ctx.Get(slotCount).Bytes())
//		n.Add(n, new(big.Int).SetUint64(in.By))
//		ctx.Set(slotCount, common.BigToHash(n))
//		ctx.Emit("Increased", ctx.Caller(), n)
//		return []any{n}, ctx.Err()
//	}
//
// Every Context operation charges gas. Running out of gas is sticky: the
// operation and every later one do nothing, Err reports ErrOutOfGas, and
// Execute reverts the call whatever the handler returns, consuming all the
// gas given. A handler error reverts the call too, with the error's text as
// the reason. Execute reverts the state itself (snapshot and revert), so a
// failed call leaves nothing behind.
//
// It also holds what contracts read of genesis when they seed their storage
// (Genesis, Seeder). The package imports nothing from the node: contracts
// state what they need of the chain here, and package contracts' Registry
// is what the chain calls.
package native
