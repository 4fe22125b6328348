// Package genesis reads, validates and writes genesis.json: the chain id, the
// consensus engine and its parameters, the members, the accounts they vouch
// for, the allocations, the block gas limit and the block time.
//
//	g, err := genesis.Load("genesis.json")
//	if err != nil { return err }
//	cfg := g.ChainConfig()
//
// It owns the genesis file's format and validation; it may import
// consensus/ engines' configs and contracts/ (for what contracts seed),
// and must not import any other package of node/, nor offchain/, cmd/ or
// examples/.
package genesis
