// Package chain owns the node's chain: block import and validation, fork
// choice, the state transition (transactions applied through the native
// contracts of contracts/), receipts and logs, and the read-only calls
// behind eth_call. A block is imported atomically: block, receipts, state
// changes and the new head land in one store transaction or none do.
//
//	c, err := chain.New(db, gen, engine, chain.WithContracts(reg))
//	if err != nil { ... }
//	if err := c.InsertBlock(block); err != nil { ... }
//
// It may import node/store, node/genesis, node/rules, consensus/,
// contracts/ and internal/; it must not import the node's other parts
// (node/rpc, node/p2p, node/txpool, node itself), cmd/ or examples/.
package chain
