// Package membership holds the consortium's member set and the accounts the
// members vouch for, as storage of the contract at
// 0x0000000000000000000000000000000000001001, and implements that contract.
// Genesis seeds the storage; the transaction pool, block validation and the
// p2p gater read it:
//
//	if !membership.IsAllowed(statedb, sender) { return errNotAllowed }
//	members := membership.Members(statedb)
//
// The contract (New, ABI in abi.json and docs/abi/membership.json) changes
// it by transaction: members() isMember(address) isAllowed(address)
// propose(address candidate, bool add) allowAccount(address)
// revokeAccount(address). A proposal executes when more than two thirds of
// the current members have voted for it; removing the last member is
// refused. A member vouches for an account with allowAccount; revokeAccount
// by the voucher withdraws it at once, by any other member it is a vote
// that executes above two thirds. Votes lapse whenever the member set
// changes. A voucher counts only while its member is a member: accounts
// vouched for by a member who is later removed are no longer allowed. They
// are allowed again if another member vouches for them (allowAccount), or
// if their voucher is re-admitted, unless the lapsed voucher was revoked in
// the meantime, which any one member may do at once.
//
// History. Every admission and removal the contract executes is recorded
// with its block, so that MemberAt tells from any later state whether an
// address was a member at the end of a given block: the staking contract
// decides each epoch's validators that way (contracts/staking, members.go).
// A vote to remove a member first passes the contract's RemovalCheck, if
// New was given one (WithRemovalCheck): the chain's registry gives it the
// staking contract's, which refuses to remove the last validator that is
// a member.
//
// It owns the member set, vouchers and votes and their storage layout; it
// may import contracts/native only, and must not import node/, cmd/ or
// examples/.
package membership
