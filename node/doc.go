// Package node assembles a full member node from its parts: the store and
// chain (node/store, node/chain), the transaction pool (node/txpool), the
// libp2p network (node/p2p), the consensus engine chosen once from
// genesis.json (consensus/pow or, through node/posval, consensus/pos) and
// the JSON-RPC server (node/rpc). It owns the node's lifecycle (Start,
// Close), its configuration and data directory layout, and the metrics
// that span its parts.
//
//	n, err := node.New(cfg)
//	if err != nil { ... }
//	if err := n.Start(); err != nil { ... }
//	defer n.Close()
//
// It may import consensus/, contracts/, internal/ and web/ (the off-chain
// protocol types reach it only through contracts/chess: a node serves the
// off-chain layer over JSON-RPC); it must not import cmd/ or examples/.
package node
