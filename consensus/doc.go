// Package consensus declares the Engine interface that every consensus engine
// implements, the small ChainHeaderReader an engine may read from the chain,
// and the errors the engines share.
//
// Engines live in subpackages (pow, pos); the node picks one from genesis.json
// in exactly one place:
//
//	engine, err := node.NewEngine(genesis.Config, key)
//	if err := engine.VerifyHeader(chain, header, parent); err != nil { ... }
//
// It owns the Engine interface and the errors every engine shares; it must
// not import node/, contracts/, offchain/, cmd/ or examples/ (engines get
// what they need of the chain through the small interfaces declared here).
package consensus
