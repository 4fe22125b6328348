package pow

import (
	"math/big"

	"github.com/ethereum/go-ethereum/core/types"
)

const (
	// adjustmentDivisor sets the size of one retarget step: parent/16.
	adjustmentDivisor = 16

	// maxDownSteps bounds how far one slow block can lower the difficulty:
	// eight steps, i.e. by at most a half.
	maxDownSteps = 8
)

// CalcDifficulty returns the difficulty a child of parent with timestamp time
// must carry. The rule uses integers only, so every node agrees on it:
//
//	T     = target block time in whole seconds (at least 1)
//	delta = time - parent.Time                 (0 if time < parent.Time)
//	step  = max(parent.Difficulty / 16, 1)
//
//	delta <  T:  parent.Difficulty + step                       (block was fast)
//	delta == T:  parent.Difficulty                              (on target)
//	delta >  T:  parent.Difficulty - k*step,                    (block was slow)
//	             k = min(ceil((delta-T)/T), 8)
//
// and the result is never below MinDifficulty (nor below 1). So a fast block
// raises the difficulty by 1/16, a slow one lowers it by 1/16 for every
// started target period it was late, at most by 8/16 per block. Timestamps
// have one-second resolution and consecutive blocks may share one (delta 0
// counts as fast). The step is at least 1 so that very small difficulties
// still move.
func (e *Engine) CalcDifficulty(time uint64, parent *types.Header) *big.Int {
	floor := new(big.Int).SetUint64(max(e.cfg.MinDifficulty, 1))
	if parent == nil || parent.Difficulty == nil || parent.Difficulty.Cmp(floor) < 0 {
		// Only a malformed chain gets here; restart from the floor.
		return floor
	}
	var delta uint64
	if time > parent.Time {
		delta = time - parent.Time
	}
	target := e.targetSeconds

	step := new(big.Int).Div(parent.Difficulty, big.NewInt(adjustmentDivisor))
	if step.Sign() == 0 {
		step.SetUint64(1)
	}
	diff := new(big.Int).Set(parent.Difficulty)
	switch {
	case delta < target:
		diff.Add(diff, step)
	case delta > target:
		k := min((delta-target-1)/target+1, maxDownSteps) // ceil((delta-T)/T), capped
		diff.Sub(diff, step.Mul(step, new(big.Int).SetUint64(k)))
	}
	if diff.Cmp(floor) < 0 {
		return floor
	}
	return diff
}

// GenesisDifficulty returns the difficulty the genesis block must carry
// (Config.InitialDifficulty).
func (e *Engine) GenesisDifficulty() *big.Int {
	return new(big.Int).SetUint64(e.cfg.InitialDifficulty)
}
