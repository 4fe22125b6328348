// Package membership holds the consortium's member set and the accounts the
// members vouch for, as storage of the contract at
// 0x0000000000000000000000000000000000001001. Genesis seeds it; the
// transaction pool, block validation and the p2p gater read it:
//
//	if !membership.IsAllowed(statedb, sender) { return errNotAllowed }
//	members := membership.Members(statedb)
package membership
