// Package contracts is the engine that runs the chain's native contracts:
// a Registry of contracts at fixed addresses, built from the ones genesis
// enables, that the chain calls for every transaction (and eth_call) sent
// to one of them. It implements the chain's Contracts interface (Has, Run,
// SeedGenesis, IsMember): it seeds every contract's genesis storage,
// always including the member set (the membership contract's storage is
// the chain's permission system, callable or not), and gives every
// contract account nonce 1 so that EIP-158 never deletes it.
//
//	reg, err := contracts.NewByName(chainID, "membership", "chess")
//	if err != nil { ... } // ErrUnknownContract, ErrDuplicate, ...
//	c, err := chain.New(db, gen, engine, chain.WithContracts(reg))
//
// A contract is Go code plus its ABI JSON (package native describes how one
// is written). Calls are dispatched by 4-byte selector; an unknown
// selector, short input, undecodable arguments, value sent to a
// non-payable method, a contract's own refusal and running out of gas all
// revert the call, with its state changes, and return a *native.Revert
// whose reason the chain returns as Error(string) revert data. Out of gas consumes all the
// gas given; any other revert charges the gas used so far.
//
// The contracts built in are membership (contracts/membership, at
// 0x...1001), staking (contracts/staking, at 0x...1002) and chess
// (contracts/chess, at 0x...1003). Their ABIs are in docs/abi/NAME.json.
//
// Package contracts and everything under it import nothing from node/,
// cmd/ or examples/: they state what they need of the chain in
// contracts/native (Call, Host, Genesis, Seeder). Tests that run contracts
// through a real chain use internal/chaintest.
package contracts
