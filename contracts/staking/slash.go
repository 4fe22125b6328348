package staking

import (
	"errors"
	"fmt"

	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/contracts/native"
)

// MaxEvidenceSize bounds the evidence slash decodes. An encoded pos.Evidence
// of two votes is about 230 bytes.
const MaxEvidenceSize = 1024

// GasVerifyEvidence is charged per evidence checked by signature, priced
// like native's schedule: two vote digests and two signature recoveries
// (pos.VerifyEvidence), plus decoding. BenchmarkSlash re-measures it.
const GasVerifyEvidence = 2*native.GasEcrecover + 2*native.GasTypedHash

// Reasons slash reverts with. A vote pair that gets past the checks here
// is checked by pos.VerifyEvidence, whose reason follows errInvalidEvidence.
var (
	errEvidenceSize    = fmt.Errorf("evidence larger than %d bytes", MaxEvidenceSize)
	errBadEvidence     = errors.New("malformed evidence")
	errHeightMismatch  = errors.New("votes are for different heights")
	errVoteMismatch    = errors.New("votes differ in type or round")
	errSameBlock       = errors.New("votes are for the same block")
	errEvidenceFuture  = errors.New("evidence from a future epoch")
	errEvidenceTooOld  = errors.New("evidence older than the kept history")
	errInvalidEvidence = errors.New("invalid evidence")
	errAlreadySlashed  = errors.New("offender already slashed")
)

// slash verifies equivocation evidence against the validator set in force
// at its height and slashes the offender: its whole stake, bonded and
// unbonding, goes to BurnAddress, it leaves the set from the next epoch on
// and it can never stake again. Evidence is admitted from the epoch of its
// height until EvidenceEpochs epochs later.
func slash(ctx *native.Context, args native.Args) ([]any, error) {
	var in struct{ Evidence []byte }
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	if len(in.Evidence) > MaxEvidenceSize {
		return nil, errEvidenceSize
	}
	ev, err := pos.DecodeEvidence(in.Evidence)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadEvidence, err)
	}
	a, b := &ev.VoteA, &ev.VoteB
	switch {
	case a.Height != b.Height:
		return nil, fmt.Errorf("%w: %d and %d", errHeightMismatch, a.Height, b.Height)
	case a.Type != b.Type || a.Round != b.Round:
		return nil, errVoteMismatch
	case a.BlockHash == b.BlockHash:
		return nil, errSameBlock
	}
	s := store{ctx}
	p, hd, err := load(s)
	if err != nil {
		return nil, err
	}
	now, e := ctx.Number()/p.EpochLength, a.Height/p.EpochLength
	switch {
	case e > now:
		return nil, fmt.Errorf("%w: height %d is in epoch %d, this block in %d", errEvidenceFuture, a.Height, e, now)
	case now-e > p.EvidenceEpochs():
		return nil, fmt.Errorf("%w: height %d is in epoch %d, evidence is admitted from epoch %d", errEvidenceTooOld, a.Height, e, now-p.EvidenceEpochs())
	}
	set, since, err := setIn(s, memberView{ctx}, p, hd, e)
	if err != nil {
		return nil, err
	}
	vals, err := posSet(set, since, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalidEvidence, err)
	}
	if err := ctx.UseGas(GasVerifyEvidence); err != nil {
		return nil, err
	}
	offender, err := pos.VerifyEvidence(ctx.ChainID(), ev, vals)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalidEvidence, err)
	}
	if at, ok := slashedAt(s, offender); ok {
		return nil, fmt.Errorf("%w: %s for height %d", errAlreadySlashed, offender, at)
	}
	markSlashed(s, offender, a.Height)

	idx, amount := bonded(s, offender)
	isNew := false
	if idx != 0 {
		isNew = schedule(s, p, &hd, now)
		setBonded(s, &hd, offender, new(uint256.Int))
		hd.save(s)
	}
	q := loadQueue(s, offender)
	amount.Add(amount, q.total)
	if q.first != q.end || !q.total.IsZero() {
		q.first, q.end = 0, 0
		q.total.Clear()
		q.save(s, offender)
	}
	if err := ctx.Transfer(BurnAddress, amount); err != nil {
		return nil, fmt.Errorf("%w: %w", errPayout, err)
	}
	ctx.Emit("Slashed", offender, amount.ToBig(), a.Height)
	scheduled(ctx, p, now, isNew)
	return nil, nil
}
