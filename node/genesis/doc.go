// Package genesis reads, validates and writes genesis.json: the chain id, the
// consensus engine and its parameters, the members, the accounts they vouch
// for, the allocations, the block gas limit and the block time.
//
//	g, err := genesis.Load("genesis.json")
//	if err != nil { return err }
//	cfg := g.ChainConfig()
package genesis
