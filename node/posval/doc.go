// Package posval is the node's side of proof-of-stake, and the only node
// code that knows the engine is pos: it runs a validator's consensus driver
// (consensus/pos) against the node's chain, pool and p2p consensus topic,
// gives the engine its validator sets from the staking contract
// (StakingSource, read at each block's parent), submits detected
// equivocation for slashing, and supplies the consensus topic's gossip
// validator (Filter) and the peer admission rule (Admission). The node's
// engine.go decides when to use it.
//
//	src := posval.NewStakingSource(genesisSet) // pos.ValidatorSource
//	engine := pos.New(chainID, src, key)
//	c, _ := chain.New(db, g, engine, ...)
//	src.Bind(c)
//	v, err := posval.Start(ctx, posval.Config{Engine: engine, Chain: c, Pool: pool, Net: p2pNode, Key: key, DataDir: dir})
//	defer v.Wait()
//
// It imports consensus/pos, contracts/staking and the node's chain, txpool
// and p2p packages; it must not import package node (which imports it).
package posval
