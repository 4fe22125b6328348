package staking

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/native"
)

// Default parameters, those of New without options.
const (
	// DefaultEpochLength is the number of blocks of an epoch.
	DefaultEpochLength uint64 = 100
	// DefaultUnbondingDelay is two epochs: evidence is admitted for the
	// current and the previous epoch (see Params.EvidenceEpochs).
	DefaultUnbondingDelay = 2 * DefaultEpochLength
)

// DefaultMinStake is the default least stake of a validator: 1 ether.
var DefaultMinStake = uint256.NewInt(1e18)

// Bounds on the parameters.
const (
	// MaxEpochLength bounds the epoch length (and so the unbonding delay's
	// unit) far from overflowing heights.
	MaxEpochLength uint64 = 1 << 32
	// MaxUnbondingDelay bounds the unbonding delay the same way.
	MaxUnbondingDelay uint64 = 1 << 40
	// MaxEvidenceEpochs bounds how many past epochs' sets are kept for
	// checking evidence, whatever the unbonding delay.
	MaxEvidenceEpochs uint64 = 64
	// MaxValidators bounds the live set, so that copying it into the
	// history and reading a set stay cheap.
	MaxValidators = 128
	// MaxPendingWithdrawals bounds an account's unbonding queue.
	MaxPendingWithdrawals = 16
)

// Params are the contract's parameters. They are fixed at genesis, where
// SeedGenesis writes them into the contract's storage: genesis.json's
// "staking" section, or the defaults.
type Params struct {
	// EpochLength is the number of blocks of an epoch; epoch e is the
	// heights e*EpochLength to (e+1)*EpochLength-1.
	EpochLength uint64
	// UnbondingDelay is the number of blocks between a withdrawal and the
	// first block its amount can be claimed in. At least EpochLength.
	UnbondingDelay uint64
	// MinStake is the least bonded stake of a validator, in wei.
	MinStake *uint256.Int
}

// EvidenceEpochs is how many epochs back evidence is admitted: evidence
// for a height of epoch e is admitted in epochs e to e+EvidenceEpochs. It
// is UnbondingDelay/EpochLength - 1 (at most MaxEvidenceEpochs), so that
// stake that backed a validator's power in e is still unbonding, and can
// be slashed, for as long as evidence about e is admitted: withdrawn in e
// at the earliest, it is claimable from e's start + UnbondingDelay, no
// earlier than the end of epoch e+EvidenceEpochs.
func (p Params) EvidenceEpochs() uint64 {
	return min(p.UnbondingDelay/p.EpochLength-1, MaxEvidenceEpochs)
}

// historySets is the size of the snapshot ring. EvidenceEpochs+1 snapshots
// always cover the sets of the epochs evidence is admitted for (at most
// EvidenceEpochs of them start inside that window, one more starts at or
// before it); one more is a margin for ValidatorsAt on older heights.
func (p Params) historySets() uint64 { return p.EvidenceEpochs() + 2 }

// Validate checks the parameters' bounds.
func (p Params) Validate() error {
	switch {
	case p.EpochLength == 0 || p.EpochLength > MaxEpochLength:
		return fmt.Errorf("%w: epoch length %d, want 1 to %d", ErrParams, p.EpochLength, MaxEpochLength)
	case p.UnbondingDelay < p.EpochLength || p.UnbondingDelay > MaxUnbondingDelay:
		return fmt.Errorf("%w: unbonding delay %d, want %d to %d", ErrParams, p.UnbondingDelay, p.EpochLength, MaxUnbondingDelay)
	case p.MinStake == nil || p.MinStake.IsZero() || p.MinStake.Gt(MaxStake):
		return fmt.Errorf("%w: min stake %v, want 1 to %v", ErrParams, p.MinStake, MaxStake)
	}
	return nil
}

func (p Params) save(s kv) {
	var h common.Hash
	native.PutU64(&h, 0, p.EpochLength)
	native.PutU64(&h, 8, p.UnbondingDelay)
	s.SetState(Address, slotParams(), h)
	s.SetState(Address, slotMinStake(), p.MinStake.Bytes32())
}

// ParamsOf reads the parameters from a state. It fails with ErrNotSeeded
// if the contract was not enabled at genesis.
func ParamsOf(s StateReader) (Params, error) {
	h := s.GetState(Address, slotParams())
	p := Params{EpochLength: native.GetU64(h, 0), UnbondingDelay: native.GetU64(h, 8)}
	if p.EpochLength == 0 {
		return Params{}, ErrNotSeeded
	}
	m := s.GetState(Address, slotMinStake())
	p.MinStake = new(uint256.Int).SetBytes32(m[:])
	return p, nil
}

// Option changes a parameter of New.
type Option func(*Params)

// WithEpochLength sets the epoch length; the unbonding delay follows at
// twice it unless WithUnbondingDelay sets it.
func WithEpochLength(n uint64) Option { return func(p *Params) { p.EpochLength = n } }

// WithUnbondingDelay sets the unbonding delay in blocks.
func WithUnbondingDelay(n uint64) Option { return func(p *Params) { p.UnbondingDelay = n } }

// WithParams sets every parameter at once (genesis.json's staking section).
func WithParams(p Params) Option {
	return func(q *Params) {
		q.EpochLength, q.UnbondingDelay = p.EpochLength, p.UnbondingDelay
		if p.MinStake != nil {
			q.MinStake = new(uint256.Int).Set(p.MinStake)
		}
	}
}

// WithMinStake sets the least stake of a validator.
func WithMinStake(v *uint256.Int) Option {
	return func(p *Params) { p.MinStake = new(uint256.Int).Set(v) }
}
