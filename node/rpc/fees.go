package rpc

import (
	"fmt"
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// Bounds on one eth_feeHistory.
const (
	maxFeeHistoryBlocks      = 1024
	maxFeeHistoryPercentiles = 100
)

// GasPrice is eth_gasPrice: the configured price plus the head's base fee,
// if it has one.
func (api *ethAPI) GasPrice() (*hexutil.Big, error) {
	h, err := head(api.chain)
	if err != nil {
		return nil, err
	}
	p := new(big.Int).Set(api.cfg.GasPrice)
	if h.BaseFee != nil {
		p.Add(p, h.BaseFee)
	}
	return (*hexutil.Big)(p), nil
}

// MaxPriorityFeePerGas is eth_maxPriorityFeePerGas: the configured price.
func (api *ethAPI) MaxPriorityFeePerGas() *hexutil.Big {
	return (*hexutil.Big)(new(big.Int).Set(api.cfg.GasPrice))
}

type feeHistory struct {
	OldestBlock  *hexutil.Big     `json:"oldestBlock"`
	Reward       [][]*hexutil.Big `json:"reward,omitempty"`
	BaseFee      []*hexutil.Big   `json:"baseFeePerGas"`
	GasUsedRatio []float64        `json:"gasUsedRatio"`
}

// FeeHistory is eth_feeHistory over at most 1024 blocks ending at
// lastBlock. Base fees are the headers' (zero when absent; the next block's
// is taken to equal the last's); rewards are percentiles of the effective
// tips of each block's transactions, unweighted, zero for an empty block.
func (api *ethAPI) FeeHistory(blockCount math.HexOrDecimal64, lastBlock gethrpc.BlockNumber, percentiles []float64) (*feeHistory, error) {
	if len(percentiles) > maxFeeHistoryPercentiles {
		return nil, invalidParams("too many reward percentiles: %d, at most %d", len(percentiles), maxFeeHistoryPercentiles)
	}
	for i, p := range percentiles {
		if p < 0 || p > 100 || (i > 0 && p < percentiles[i-1]) {
			return nil, invalidParams("invalid reward percentile %v: must be in [0, 100] and ascending", p)
		}
	}
	last, err := api.number(lastBlock)
	if err != nil {
		return nil, err
	}
	if h, err := head(api.chain); err != nil {
		return nil, err
	} else if last > h.Number.Uint64() {
		return nil, fmt.Errorf("block %d is beyond the head %d", last, h.Number.Uint64())
	}
	count := min(uint64(blockCount), maxFeeHistoryBlocks, last+1)
	res := &feeHistory{OldestBlock: (*hexutil.Big)(new(big.Int)), BaseFee: []*hexutil.Big{}, GasUsedRatio: []float64{}}
	if count == 0 {
		return res, nil
	}
	oldest := last + 1 - count
	res.OldestBlock = (*hexutil.Big)(new(big.Int).SetUint64(oldest))
	var baseFee *big.Int
	for n := oldest; n <= last; n++ {
		b := api.chain.GetBlockByNumber(n)
		if b == nil {
			return nil, fmt.Errorf("block %d not found", n)
		}
		baseFee = new(big.Int)
		if b.BaseFee() != nil {
			baseFee.Set(b.BaseFee())
		}
		res.BaseFee = append(res.BaseFee, (*hexutil.Big)(baseFee))
		ratio := 0.0
		if b.GasLimit() > 0 {
			ratio = float64(b.GasUsed()) / float64(b.GasLimit())
		}
		res.GasUsedRatio = append(res.GasUsedRatio, ratio)
		if len(percentiles) > 0 {
			res.Reward = append(res.Reward, rewards(b, percentiles))
		}
	}
	res.BaseFee = append(res.BaseFee, (*hexutil.Big)(baseFee))
	return res, nil
}

func rewards(b *types.Block, percentiles []float64) []*hexutil.Big {
	tips := make([]*big.Int, 0, len(b.Transactions()))
	for _, tx := range b.Transactions() {
		tips = append(tips, new(big.Int).Sub(effectiveGasPrice(tx, b.BaseFee()), baseFeeOrZero(b.BaseFee())))
	}
	slices.SortFunc(tips, (*big.Int).Cmp)
	out := make([]*hexutil.Big, len(percentiles))
	for i, p := range percentiles {
		v := new(big.Int)
		if len(tips) > 0 {
			idx := min(int(p/100*float64(len(tips))), len(tips)-1)
			v.Set(tips[idx])
		}
		out[i] = (*hexutil.Big)(v)
	}
	return out
}

func baseFeeOrZero(b *big.Int) *big.Int {
	if b == nil {
		return new(big.Int)
	}
	return b
}
