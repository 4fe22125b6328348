package staking

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/contracts/native"
)

// ABIJSON is the contract's ABI; docs/abi/staking.json is a copy.
//
//go:embed abi.json
var ABIJSON []byte

// Errors of the Go API (ValidatorsAt, ParamsOf, SeedGenesis, Validate).
var (
	// ErrParams is returned for parameters out of bounds.
	ErrParams = errors.New("staking: bad parameters")
	// ErrNotSeeded is returned when the state holds no staking contract.
	ErrNotSeeded = errors.New("staking: contract not seeded at genesis")
	// ErrNoValidators is returned when the set in force at a height is empty.
	ErrNoValidators = errors.New("staking: no validators")
	// ErrHistory is returned for a height whose set is no longer kept.
	ErrHistory = errors.New("staking: validator set of that epoch no longer kept")
	// ErrGenesisStake is returned for a genesis stake out of bounds.
	ErrGenesisStake = errors.New("staking: genesis stake out of bounds")
)

// Reasons a call reverts with.
var (
	errZeroValue          = errors.New("deposit of zero")
	errZeroAmount         = errors.New("withdrawal of zero")
	errSlashed            = errors.New("account was slashed")
	errBelowMinStake      = errors.New("stake below the minimum")
	errNotMember          = errors.New("only consortium members may become validators")
	errStakeTooLarge      = errors.New("stake above the maximum")
	errSetFull            = fmt.Errorf("validator set is full (%d)", MaxValidators)
	errInsufficientStake  = errors.New("amount exceeds the bonded stake")
	errLastValidator      = errors.New("cannot withdraw the last validator's whole stake")
	errTooManyWithdrawals = fmt.Errorf("more than %d pending withdrawals", MaxPendingWithdrawals)
	errNothingToClaim     = errors.New("nothing to claim")
	errNotMatured         = errors.New("withdrawal not claimable yet")
	errPayout             = errors.New("payout failed")
)

// Contract is the staking contract. Its value holds the parameters
// SeedGenesis writes; the handlers read them from storage.
type Contract struct {
	params Params
}

var _ native.Contract = Contract{}

// New returns the staking contract with the default parameters changed by
// opts.
func New(opts ...Option) Contract {
	p := Params{EpochLength: DefaultEpochLength, MinStake: new(uint256.Int).Set(DefaultMinStake)}
	for _, o := range opts {
		o(&p)
	}
	if p.UnbondingDelay == 0 {
		p.UnbondingDelay = 2 * p.EpochLength
	}
	return Contract{params: p}
}

// Params returns the parameters SeedGenesis writes.
func (c Contract) Params() Params {
	p := c.params
	p.MinStake = new(uint256.Int).Set(p.MinStake)
	return p
}

// Name returns "staking".
func (Contract) Name() string { return "staking" }

// Address returns Address.
func (Contract) Address() common.Address { return Address }

// ABI returns ABIJSON.
func (Contract) ABI() []byte { return ABIJSON }

// Handlers returns the contract's methods.
func (Contract) Handlers() map[string]native.Handler {
	return map[string]native.Handler{
		"deposit":    deposit,
		"withdraw":   withdraw,
		"claim":      claim,
		"unbondFor":  unbondFor,
		"claimFor":   claimFor,
		"slash":      slash,
		"validators": validators,
		"stakeOf":    stakeOf,
		"epoch":      epoch,
		"params":     params,
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

// load reads the parameters and the head. A contract that runs was seeded
// (the registry seeds every enabled contract), so params are never zero.
func load(s store) (Params, head, error) {
	p, err := ParamsOf(s)
	if err != nil {
		return Params{}, head{}, err
	}
	return p, loadHead(s), nil
}

// scheduled emits ValidatorSetChanged for the set of epoch e+1 when
// schedule reports it as new.
func scheduled(ctx *native.Context, p Params, e uint64, isNew bool) {
	if isNew {
		ctx.Emit("ValidatorSetChanged", e+1, (e+1)*p.EpochLength)
	}
}

// deposit adds the value sent to the caller's bonded stake, from the next
// epoch on. A caller without a stake becomes a validator if its stake
// reaches the minimum. Only members may deposit: a removed member's stake
// can only leave.
func deposit(ctx *native.Context, _ native.Args) ([]any, error) {
	s, who, v := store{ctx}, ctx.Caller(), ctx.Value()
	if v.IsZero() {
		return nil, errZeroValue
	}
	if _, ok := slashedAt(s, who); ok {
		return nil, errSlashed
	}
	p, hd, err := load(s)
	if err != nil {
		return nil, err
	}
	idx, stake := bonded(s, who)
	if _, overflow := stake.AddOverflow(stake, v); overflow || stake.Gt(MaxStake) {
		return nil, fmt.Errorf("%w: %v", errStakeTooLarge, MaxStake)
	}
	if stake.Lt(p.MinStake) {
		return nil, fmt.Errorf("%w: %v", errBelowMinStake, p.MinStake)
	}
	if idx == 0 && hd.count >= MaxValidators {
		return nil, errSetFull
	}
	if !membership.IsMember(memberView{ctx}, who) {
		return nil, errNotMember
	}
	e := ctx.Number() / p.EpochLength
	isNew := schedule(s, p, &hd, e)
	setBonded(s, &hd, who, stake)
	hd.save(s)
	ctx.Emit("Deposited", who, v.ToBig())
	scheduled(ctx, p, e, isNew)
	return nil, nil
}

// withdraw moves amount of the caller's bonded stake into its unbonding
// queue: it leaves the caller's power from the next epoch on and can be
// claimed UnbondingDelay blocks after this one. What stays bonded must be
// zero or at least the minimum; neither the last validator nor the last
// one that is a member can leave.
func withdraw(ctx *native.Context, args native.Args) ([]any, error) {
	var in struct{ Amount *big.Int }
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	if in.Amount.Sign() == 0 {
		return nil, errZeroAmount
	}
	s, who := store{ctx}, ctx.Caller()
	p, hd, err := load(s)
	if err != nil {
		return nil, err
	}
	_, stake := bonded(s, who)
	amount, overflow := uint256.FromBig(in.Amount)
	if overflow || amount.Gt(stake) {
		return nil, fmt.Errorf("%w: %v", errInsufficientStake, stake)
	}
	rest := new(uint256.Int).Sub(stake, amount)
	switch {
	case !rest.IsZero() && rest.Lt(p.MinStake):
		return nil, fmt.Errorf("%w: %v would remain, want 0 or at least %v", errBelowMinStake, rest, p.MinStake)
	case rest.IsZero() && hd.count == 1:
		return nil, errLastValidator
	case rest.IsZero() && isLastMember(s, memberView{ctx}, hd, who):
		return nil, errLastMemberValidator
	}
	return nil, startUnbonding(ctx, s, p, hd, who, amount, rest)
}

// startUnbonding moves amount of who's bonded stake, leaving rest, into
// its unbonding queue, claimable UnbondingDelay blocks after this one, and
// schedules the change of the set for the next epoch.
func startUnbonding(ctx *native.Context, s store, p Params, hd head, who common.Address, amount, rest *uint256.Int) error {
	q := loadQueue(s, who)
	if _, overflow := q.total.AddOverflow(q.total, amount); overflow || q.total.Gt(MaxStake) {
		return fmt.Errorf("%w: %v unbonding", errStakeTooLarge, MaxStake)
	}
	claimableAt := ctx.Number() + p.UnbondingDelay
	if err := q.push(s, who, amount, claimableAt); err != nil {
		return err
	}
	q.save(s, who)
	e := ctx.Number() / p.EpochLength
	isNew := schedule(s, p, &hd, e)
	setBonded(s, &hd, who, rest)
	hd.save(s)
	ctx.Emit("WithdrawalStarted", who, amount.ToBig(), claimableAt)
	scheduled(ctx, p, e, isNew)
	return nil
}

// claim pays the caller every withdrawal whose delay has passed.
func claim(ctx *native.Context, _ native.Args) ([]any, error) {
	return nil, payOut(ctx, store{ctx}, ctx.Caller())
}

// payOut pays who every withdrawal of its whose delay has passed.
func payOut(ctx *native.Context, s store, who common.Address) error {
	q := loadQueue(s, who)
	if q.first == q.end {
		return errNothingToClaim
	}
	pay := new(uint256.Int)
	for q.first < q.end {
		amount, at := q.at(s, who, q.first)
		if at > ctx.Number() {
			if pay.IsZero() {
				return fmt.Errorf("%w: claimable at block %d", errNotMatured, at)
			}
			break
		}
		pay.Add(pay, amount)
		q.first++
	}
	q.total.Sub(q.total, pay)
	q.save(s, who)
	if err := ctx.Transfer(who, pay); err != nil {
		return fmt.Errorf("%w: %w", errPayout, err)
	}
	ctx.Emit("Claimed", who, pay.ToBig())
	return nil
}

// sorted returns the entries' addresses and stakes ordered by address.
func sorted(set []entry) ([]common.Address, []*big.Int) {
	set = slices.Clone(set)
	slices.SortFunc(set, func(a, b entry) int { return bytes.Compare(a.addr[:], b.addr[:]) })
	addrs := make([]common.Address, len(set))
	stakes := make([]*big.Int, len(set))
	for i, e := range set {
		addrs[i], stakes[i] = e.addr, e.stake.ToBig()
	}
	return addrs, stakes
}

// validators returns the set in force in the epoch of the block the call
// runs in (for eth_call, the block it is run against), ordered by address:
// removed members left out (members.go).
func validators(ctx *native.Context, _ native.Args) ([]any, error) {
	s := store{ctx}
	p, hd, err := load(s)
	if err != nil {
		return nil, err
	}
	set, _, err := setIn(s, memberView{ctx}, p, hd, ctx.Number()/p.EpochLength)
	if err != nil {
		return nil, err
	}
	addrs, stakes := sorted(set)
	return []any{addrs, stakes}, nil
}

// stakeOf returns an account's bonded stake (pending changes included) and
// the sum of its withdrawals not yet claimed.
func stakeOf(ctx *native.Context, args native.Args) ([]any, error) {
	var in struct{ Account common.Address }
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	s := store{ctx}
	_, stake := bonded(s, in.Account)
	return []any{stake.ToBig(), loadQueue(s, in.Account).total.ToBig()}, nil
}

// epoch returns the epoch of the block the call runs in and its first height.
func epoch(ctx *native.Context, _ native.Args) ([]any, error) {
	p, err := ParamsOf(store{ctx})
	if err != nil {
		return nil, err
	}
	e := ctx.Number() / p.EpochLength
	return []any{e, e * p.EpochLength}, nil
}

// params returns the parameters.
func params(ctx *native.Context, _ native.Args) ([]any, error) {
	p, err := ParamsOf(store{ctx})
	if err != nil {
		return nil, err
	}
	return []any{p.EpochLength, p.UnbondingDelay, p.MinStake.ToBig()}, nil
}

// memberView lets the membership layout read the membership contract's
// storage through the calling context, read-only and metered.
type memberView struct{ ctx *native.Context }

func (m memberView) GetState(addr common.Address, key common.Hash) common.Hash {
	return m.ctx.ReadState(addr, key)
}
