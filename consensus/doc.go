// Package consensus declares the Engine interface that every consensus engine
// implements, the small ChainHeaderReader an engine may read from the chain,
// and the errors the engines share.
//
// Engines live in subpackages (pow, pos); the node picks one from genesis.json
// in exactly one place:
//
//	engine, err := node.NewEngine(genesis.Config, key)
//	if err := engine.VerifyHeader(chain, header, parent); err != nil { ... }
package consensus
