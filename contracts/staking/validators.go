package staking

import (
	"fmt"

	"github.com/arbiter-chain/arbiter/consensus/pos"
)

// ValidatorsAt returns the validators in force at height, ordered by
// address, read from st (both the staking and the membership contract's
// storage): the state after a block n with
// start(epoch(height))-1 <= n, that is, any block from the last one of the
// previous epoch on. The parent of height (n = height-1) always qualifies,
// so every node derives the set of height from the state it has before
// executing height, and all derive the same one: a change made by a
// transaction in block n takes effect at the first block of n's next
// epoch, never earlier, and a later state still gives the set of an
// earlier height from the history it keeps (EvidenceEpochs+2 sets, or
// ErrHistory). A state from before the previous epoch's last block may
// miss changes and must not be used.
//
// Power scaling: the validators' bonded stakes (wei) become powers with
// pos.ScalePowers, which divides them by their greatest common divisor
// and, if their total still exceeds pos.MaxTotalPower, by the least
// factor that brings it under (rounding down). Powers are thus
// proportional to stakes, exactly so for sets whose stakes are multiples
// of a common unit such as 1 ether, and depend only on the set's stakes.
//
// Membership: validators that were not members at the end of the last
// block of the previous epoch are left out, unless none was (members.go).
//
// It fails with ErrNotSeeded without a staking contract in st and with
// ErrNoValidators when the set is empty (a chain without genesis stakes,
// or whose last validator was slashed).
func ValidatorsAt(st StateReader, height uint64) ([]pos.Validator, error) {
	vals, _, err := validatorsAt(st, height)
	return vals, err
}

// ValidatorSetAt is ValidatorsAt as a pos.ValidatorSet whose start is the
// first height of the run of epochs the set has been in force for without
// change (at least 1), so that a pos.ValidatorSource can return one
// *pos.ValidatorSet, and one proposer rotation, for that whole run. A run
// also ends where the membership of one of the staked validators changed,
// even when the change left the set as it was (a removal and re-admission
// within one epoch).
func ValidatorSetAt(st StateReader, height uint64) (*pos.ValidatorSet, error) {
	vals, start, err := validatorsAt(st, height)
	if err != nil {
		return nil, err
	}
	return pos.NewValidatorSet(start, vals)
}

// EpochAt returns the number and first height of the epoch of height.
func EpochAt(st StateReader, height uint64) (number, start uint64, err error) {
	p, err := ParamsOf(st)
	if err != nil {
		return 0, 0, err
	}
	number = height / p.EpochLength
	return number, number * p.EpochLength, nil
}

func validatorsAt(st StateReader, height uint64) ([]pos.Validator, uint64, error) {
	p, err := ParamsOf(st)
	if err != nil {
		return nil, 0, err
	}
	set, since, err := setIn(st, st, p, loadHead(st), height/p.EpochLength)
	if err != nil {
		return nil, 0, err
	}
	vals, err := toValidators(set)
	if err != nil {
		return nil, 0, err
	}
	return vals, max(since*p.EpochLength, 1), nil
}

// toValidators scales the set's stakes into powers, ordered by address.
func toValidators(set []entry) ([]pos.Validator, error) {
	if len(set) == 0 {
		return nil, ErrNoValidators
	}
	addrs, stakes := sorted(set)
	powers, err := pos.ScalePowers(stakes)
	if err != nil {
		return nil, fmt.Errorf("staking: %w", err) // stakes are at least MinStake > 0: never
	}
	vals := make([]pos.Validator, len(addrs))
	for i := range addrs {
		vals[i] = pos.Validator{Address: addrs[i], Power: powers[i]}
	}
	return vals, nil
}

// posSet builds the pos set of entries in force since epoch since.
func posSet(set []entry, since uint64, p Params) (*pos.ValidatorSet, error) {
	vals, err := toValidators(set)
	if err != nil {
		return nil, err
	}
	return pos.NewValidatorSet(max(since*p.EpochLength, 1), vals)
}
