package staking

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/contracts/native"
)

// Validators and the member set. Only members may stake. A validator the
// membership contract removes in a block of epoch e stops counting from
// epoch e+1: the set in force in an epoch is its staked set less the
// validators that were not members at the end of the epoch's deciding
// block, the last block of the previous epoch (genesis for epoch 0). The
// membership contract keeps a history of admissions and removals
// (membership.MemberAt), so every state from the deciding block on gives
// the same set. A removed member's stake stays bonded until a member
// unbonds it with unbondFor; anyone may then pay it out to the removed
// member's own address with claimFor, since it can no longer send
// transactions itself.
//
// The set never becomes empty through membership: the membership
// contract refuses to remove the last validator of the next epoch's set
// that is a member (CheckRemoval), withdraw refuses to take that
// validator's whole stake, and should a set still hold no member (its
// last member validator slashed), the set is kept whole rather than left
// empty.

// ErrLastMemberValidator is returned by CheckRemoval for the last
// validator of the next epoch's set that is a member.
var ErrLastMemberValidator = errors.New("staking: last validator that is a member")

// Reasons a call reverts with.
var (
	errCallerNotMember     = errors.New("only members may unbond another account's stake")
	errStillMember         = errors.New("account is a member: only it may withdraw its stake")
	errNotBonded           = errors.New("account has no bonded stake")
	errLastMemberValidator = errors.New("cannot withdraw the whole stake of the last validator that is a member")
	errUnbondLast          = errors.New("cannot unbond the last validator")
)

// decidingBlock is the block whose state decides the set of epoch e: the
// last block of epoch e-1, or genesis for epoch 0.
func decidingBlock(p Params, e uint64) uint64 {
	if e == 0 {
		return 0
	}
	return e*p.EpochLength - 1
}

// filterMembers returns the entries of set, the staked set of epoch e in
// force since epoch since, that were members at e's deciding block (all of
// them if none was), and the epoch since which neither that set nor the
// membership of its entries has changed. It reads one or two membership
// slots per entry, more only for an entry whose membership changed after
// the deciding block.
func filterMembers(m membership.Reader, p Params, set []entry, e, since uint64) ([]entry, uint64) {
	at := decidingBlock(p, e)
	kept := make([]entry, 0, len(set))
	for _, v := range set {
		member, changed := membership.MemberAt(m, v.addr, at)
		if changed > 0 {
			since = max(since, changed/p.EpochLength+1)
		}
		if member {
			kept = append(kept, v)
		}
	}
	if len(kept) == 0 {
		return set, since
	}
	return kept, since
}

// setIn returns the validators in force in epoch e, in storage order, and
// the epoch since which they have been: setAt's staked set filtered by
// membership. s reads the staking contract's storage, m the membership
// contract's.
func setIn(s StateReader, m membership.Reader, p Params, hd head, e uint64) ([]entry, uint64, error) {
	set, since, err := setAt(s, p, hd, e)
	if err != nil {
		return nil, 0, err
	}
	set, since = filterMembers(m, p, set, e, since)
	return set, since, nil
}

// isLastMember reports whether who is a member and the only live entry
// that is: the next epoch's set would hold no member without it. It reads
// up to two slots per live entry, at most MaxValidators entries.
func isLastMember(s StateReader, m membership.Reader, hd head, who common.Address) bool {
	if !membership.IsMember(m, who) {
		return false
	}
	for i := uint64(0); i < hd.count; i++ {
		a := unpackEntry(s.GetState(Address, slotLive(i))).addr
		if a != who && membership.IsMember(m, a) {
			return false
		}
	}
	return true
}

// CheckRemoval is the membership contract's removal check
// (membership.WithRemovalCheck): it refuses to remove member while member
// is the only validator of the next epoch's set that is a member, so that
// the chain always has a member validator; another member must stake
// first. st reads both contracts' storage. It allows every removal on a
// chain without the staking contract.
func CheckRemoval(st membership.Reader, member common.Address) error {
	hd := loadHead(st)
	if idx, _ := bonded(st, member); idx == 0 {
		return nil
	}
	if isLastMember(st, st, hd, member) {
		return fmt.Errorf("%w: %s; another member must stake first", ErrLastMemberValidator, member)
	}
	return nil
}

// unbondFor starts unbonding the whole bonded stake of account, which is
// no longer a member, as if it had withdrawn it: it leaves the set from
// the next epoch on (it stopped counting when it was removed) and can be
// paid to account with claimFor UnbondingDelay blocks later. Any member
// may call it. The last validator cannot be unbonded.
func unbondFor(ctx *native.Context, args native.Args) ([]any, error) {
	var in struct{ Account common.Address }
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	s, m := store{ctx}, memberView{ctx}
	if !membership.IsMember(m, ctx.Caller()) {
		return nil, errCallerNotMember
	}
	if membership.IsMember(m, in.Account) {
		return nil, fmt.Errorf("%w: %s", errStillMember, in.Account)
	}
	p, hd, err := load(s)
	if err != nil {
		return nil, err
	}
	idx, stake := bonded(s, in.Account)
	switch {
	case idx == 0:
		return nil, fmt.Errorf("%w: %s", errNotBonded, in.Account)
	case hd.count == 1:
		return nil, errUnbondLast
	}
	return nil, startUnbonding(ctx, s, p, hd, in.Account, stake, new(uint256.Int))
}

// claimFor pays account every withdrawal of its whose delay has passed.
// Anyone may call it: the value goes to account and nowhere else.
func claimFor(ctx *native.Context, args native.Args) ([]any, error) {
	var in struct{ Account common.Address }
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	return nil, payOut(ctx, store{ctx}, in.Account)
}
