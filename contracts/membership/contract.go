package membership

import (
	_ "embed"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/contracts/native"
)

// ABIJSON is the contract's ABI; docs/abi/membership.json is a copy.
//
//go:embed abi.json
var ABIJSON []byte

// Reasons a call reverts with.
var (
	errNotMember      = errors.New("caller is not a member")
	errZeroAddress    = errors.New("zero address")
	errIsMember       = errors.New("candidate is already a member")
	errNoMember       = errors.New("candidate is not a member")
	errLastMember     = errors.New("cannot remove the last member")
	errAlreadyVoted   = errors.New("already voted on this proposal")
	errAlreadyAllowed = errors.New("account is already allowed")
	errNotVouched     = errors.New("account is not vouched for")
	errRemovalRefused = errors.New("removal refused")
)

// RemovalCheck vets the removal of member before a vote for it is counted:
// it returns why the member may not be removed now, or nil. It reads the
// state through st, the storage of any contract, read-only and metered.
// The staking contract's check (staking.CheckRemoval) keeps the chain from
// removing the last validator that is a member.
type RemovalCheck func(st Reader, member common.Address) error

// Option configures the contract New returns.
type Option func(*Contract)

// WithRemovalCheck makes every vote to remove a member pass check first.
func WithRemovalCheck(check RemovalCheck) Option {
	return func(c *Contract) { c.removalCheck = check }
}

// Contract is the membership contract: the members vote on admissions and
// removals, and vouch for the accounts that may send transactions. Its
// value holds only its options; all state is in its storage.
type Contract struct {
	removalCheck RemovalCheck
}

// New returns the membership contract. Package contracts builds the one
// the chain runs with the staking contract's removal check.
func New(opts ...Option) Contract {
	var c Contract
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Name returns "membership".
func (Contract) Name() string { return "membership" }

// Address returns Address.
func (Contract) Address() common.Address { return Address }

// ABI returns ABIJSON.
func (Contract) ABI() []byte { return ABIJSON }

// Handlers returns the contract's methods.
func (c Contract) Handlers() map[string]native.Handler {
	return map[string]native.Handler{
		"members":       members,
		"isMember":      isMember,
		"isAllowed":     isAllowed,
		"propose":       c.propose,
		"allowAccount":  allowAccount,
		"revokeAccount": revokeAccount,
	}
}

// store routes the layout functions through the call's metered storage.
// The layout only ever addresses Address, the contract's own account.
type store struct{ ctx *native.Context }

func (s store) GetState(_ common.Address, key common.Hash) common.Hash { return s.ctx.Get(key) }

func (s store) SetState(_ common.Address, key, value common.Hash) common.Hash {
	s.ctx.Set(key, value)
	return common.Hash{}
}

type accountArg struct{ Account common.Address }

func members(ctx *native.Context, _ native.Args) ([]any, error) {
	return []any{Members(store{ctx})}, nil
}

func isMember(ctx *native.Context, args native.Args) ([]any, error) {
	var in accountArg
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	return []any{IsMember(store{ctx}, in.Account)}, nil
}

func isAllowed(ctx *native.Context, args native.Args) ([]any, error) {
	var in accountArg
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	return []any{IsAllowed(store{ctx}, in.Account)}, nil
}

// view reads any contract's storage through the call's metered,
// read-only ReadState, for a RemovalCheck.
type view struct{ ctx *native.Context }

func (v view) GetState(addr common.Address, key common.Hash) common.Hash {
	return v.ctx.ReadState(addr, key)
}

// count returns the number of members.
func count(s Reader) uint64 { return native.WordU64(s.GetState(Address, slotCount())) }

// propose votes to admit (add) or remove candidate. The vote that brings
// the votes above two thirds of the members executes the proposal. A vote
// to remove must pass the contract's RemovalCheck, if it has one.
func (c Contract) propose(ctx *native.Context, args native.Args) ([]any, error) {
	var in struct {
		Candidate common.Address
		Add       bool
	}
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	s, voter := store{ctx}, ctx.Caller()
	if !IsMember(s, voter) {
		return nil, errNotMember
	}
	if in.Candidate == (common.Address{}) {
		return nil, errZeroAddress
	}
	n := count(s)
	p := Proposal{Kind: KindAdd, Subject: in.Candidate}
	switch {
	case in.Add && IsMember(s, in.Candidate):
		return nil, fmt.Errorf("%w: %s", errIsMember, in.Candidate)
	case !in.Add && !IsMember(s, in.Candidate):
		return nil, fmt.Errorf("%w: %s", errNoMember, in.Candidate)
	case !in.Add && n == 1:
		return nil, errLastMember
	case !in.Add:
		p.Kind = KindRemove
	}
	if p.Kind == KindRemove && c.removalCheck != nil {
		if err := c.removalCheck(view{ctx}, in.Candidate); err != nil {
			return nil, fmt.Errorf("%w: %w", errRemovalRefused, err)
		}
	}
	votes, ok := Vote(s, p, voter)
	if !ok {
		return nil, errAlreadyVoted
	}
	ctx.Emit("MemberProposed", in.Candidate, in.Add, voter, new(big.Int).SetUint64(votes))
	if !Passes(votes, n) {
		return nil, nil
	}
	if in.Add {
		AddMemberAt(s, in.Candidate, ctx.Number())
		ctx.Emit("MemberAdded", in.Candidate)
	} else {
		RemoveMemberAt(s, in.Candidate, ctx.Number())
		ctx.Emit("MemberRemoved", in.Candidate)
	}
	Close(s, p)
	NewEpoch(s)
	return nil, nil
}

// allowAccount vouches for account: it may send transactions while the
// caller is a member, until the caller or a vote revokes it. An account
// whose voucher has lapsed may be vouched for again by any member.
func allowAccount(ctx *native.Context, args native.Args) ([]any, error) {
	var in accountArg
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	s, by := store{ctx}, ctx.Caller()
	if !IsMember(s, by) {
		return nil, errNotMember
	}
	if in.Account == (common.Address{}) {
		return nil, errZeroAddress
	}
	if IsAllowed(s, in.Account) {
		return nil, fmt.Errorf("%w: %s", errAlreadyAllowed, in.Account)
	}
	Allow(s, in.Account, by)
	ctx.Emit("AccountAllowed", in.Account, by)
	return nil, nil
}

// revokeAccount withdraws the voucher for account: at once when the caller
// is the voucher or the voucher is no longer a member (the voucher has
// lapsed, and nobody is left to speak for it), otherwise as a vote that
// executes above two thirds of the members.
func revokeAccount(ctx *native.Context, args native.Args) ([]any, error) {
	var in accountArg
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	s, by := store{ctx}, ctx.Caller()
	if !IsMember(s, by) {
		return nil, errNotMember
	}
	voucher, ok := VoucherOf(s, in.Account)
	if !ok {
		return nil, fmt.Errorf("%w: %s", errNotVouched, in.Account)
	}
	p := Proposal{Kind: KindRevoke, Subject: in.Account}
	if voucher != by && IsMember(s, voucher) {
		votes, ok := Vote(s, p, by)
		if !ok {
			return nil, errAlreadyVoted
		}
		if !Passes(votes, count(s)) {
			return nil, nil
		}
	}
	Revoke(s, in.Account)
	Close(s, p)
	ctx.Emit("AccountRevoked", in.Account, by)
	return nil, nil
}
