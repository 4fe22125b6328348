// Package staking is the proof-of-stake staking contract at
// 0x0000000000000000000000000000000000001002: it holds the validators'
// stakes, decides the validator set of every epoch, pays out withdrawals
// after an unbonding delay and slashes equivocation proven by pos.Evidence.
// The node reads the set for a height from the chain state, to implement
// pos.ValidatorSource:
//
//	st, _ := chain.StateAt(parent.Root()) // the state before height
//	set, err := staking.ValidatorSetAt(st, height)
//
// The ABI is in abi.json (and docs/abi/staking.json):
//
//	deposit() payable         adds the value to the caller's stake
//	withdraw(amount)          starts unbonding amount of the caller's stake
//	claim()                   pays the caller's withdrawals whose delay has passed
//	unbondFor(account)        a member starts unbonding a removed member's whole stake
//	claimFor(account)         pays account's withdrawals whose delay has passed, to account
//	slash(evidence)           verifies pos.Evidence and slashes the offender
//	validators() view         the current epoch's set: addresses and stakes
//	stakeOf(account) view     bonded (pending changes included) and unbonding
//	epoch() view              the current epoch's number and first height
//	params() view             epochLength, unbondingDelay, minStake
//
// Epochs. Epoch e is the heights e*epochLength to (e+1)*epochLength-1.
// Every change to the set made in a block of epoch e (a deposit, a
// withdrawal, a slashing) takes effect at the first block of epoch e+1,
// (e+1)*epochLength. The contract runs only when called, so it records
// changes lazily: the set of epoch e+1 is kept as the live set, and the
// first change in an epoch snapshots the set then in force (layout.go).
// ValidatorsAt and ValidatorSetAt give the set of a height from the state
// of its parent; the powers are the stakes scaled by pos.ScalePowers.
//
// Members. The set in force in epoch e is the staked set of e less the
// validators that were not consortium members at the end of e's deciding
// block, e*epochLength-1 (genesis for epoch 0): a validator the membership
// contract removes in a block of epoch e has power until the end of e and
// none from e+1 on. The membership contract records when each address was
// admitted and removed (membership.MemberAt), so any later state gives the
// same set. A removed validator cannot send transactions, so its stake
// stays bonded until any member calls unbondFor, and claimFor, which
// anyone may call, pays it to the removed member's own address after the
// unbonding delay. The membership contract refuses to remove the last
// validator of the next epoch's set that is a member (CheckRemoval), and
// withdraw refuses that validator's whole stake; should a set hold no
// member anyway (its last member validator slashed), it is kept whole
// rather than left empty. See members.go and
// docs/decisions/0013-membership-and-stake.md.
// The parameters are fixed at genesis (New's options; the built-in
// contract uses the defaults: 100-block epochs, a 200-block unbonding
// delay, a 1 ether minimum stake), and SeedGenesis makes the genesis
// members with a stake the epoch-0 set, minting their stakes into the
// contract's balance.
//
// Stakes. A deposit must bring the caller's bonded stake to at least
// minStake; a withdrawal must leave zero or at least minStake and cannot
// remove the last validator, nor the last one that is a member. Withdrawn
// stake is claimable unbondingDelay blocks after the withdrawal and
// slashable until claimed. Only a consortium member may deposit: deposit
// reads the membership contract's storage through native.Context.ReadState
// (read-only).
//
// Slashing. Anyone submits evidence of two conflicting votes; the contract
// checks it with pos.VerifyEvidence against the set in force at the
// votes' height, admitted from that height's epoch until EvidenceEpochs
// (unbondingDelay/epochLength - 1) epochs later, and refuses older
// evidence. The offender's whole stake, bonded and unbonding, goes to
// BurnAddress (0x...dEaD, whose key no one holds), it leaves the set from
// the next epoch on, and it is barred for good: it can never deposit
// again, and further evidence against it is refused.
//
// It owns validator stakes, unbonding and slashing and their storage
// layout; it may import contracts/native, contracts/membership and the
// evidence types of consensus/pos, and must not import node/, cmd/ or
// examples/.
package staking
