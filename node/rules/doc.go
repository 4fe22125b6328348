// Package rules holds the transaction admission rules and their errors,
// shared by the transaction pool and block import so that the pool refuses
// exactly what import would refuse:
//
//	r := rules.NewStatic(chainID, gasLimit)
//	from, err := r.CheckStatic(tx)          // type, chain id, size, gas, signature
//	err = rules.CheckState(statedb, from, tx, true) // allowed sender, nonce, funds
package rules
