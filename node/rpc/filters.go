package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// Bounds on one filter's criteria.
const (
	maxFilterAddresses   = 1000
	maxFilterTopics      = 4
	maxTopicAlternatives = 1000
)

// filterQuery is the filter of eth_getLogs and of a "logs" subscription.
type filterQuery struct {
	BlockHash *common.Hash
	FromBlock *gethrpc.BlockNumber
	ToBlock   *gethrpc.BlockNumber
	// Addresses: a log from any of them matches; empty matches any.
	Addresses []common.Address
	// Topics[i]: the log's topic i is any of them; empty matches any.
	Topics [][]common.Hash
}

// UnmarshalJSON reads the usual filter object: "address" is one address
// or a list; "topics" is a list whose entries are null (any), a topic, or
// a list of alternatives (a null alternative makes the position match any).
func (q *filterQuery) UnmarshalJSON(data []byte) error {
	var raw struct {
		BlockHash *common.Hash         `json:"blockHash"`
		FromBlock *gethrpc.BlockNumber `json:"fromBlock"`
		ToBlock   *gethrpc.BlockNumber `json:"toBlock"`
		Address   json.RawMessage      `json:"address"`
		Topics    []json.RawMessage    `json:"topics"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if raw.BlockHash != nil && (raw.FromBlock != nil || raw.ToBlock != nil) {
		return errors.New("cannot specify both blockHash and fromBlock/toBlock")
	}
	*q = filterQuery{BlockHash: raw.BlockHash, FromBlock: raw.FromBlock, ToBlock: raw.ToBlock}

	switch addr := bytes.TrimSpace(raw.Address); {
	case len(addr) == 0 || string(addr) == "null":
	case addr[0] == '[':
		if err := json.Unmarshal(addr, &q.Addresses); err != nil {
			return fmt.Errorf("invalid address list: %w", err)
		}
	default:
		var a common.Address
		if err := json.Unmarshal(addr, &a); err != nil {
			return fmt.Errorf("invalid address: %w", err)
		}
		q.Addresses = []common.Address{a}
	}
	if len(q.Addresses) > maxFilterAddresses {
		return fmt.Errorf("too many addresses: %d, at most %d", len(q.Addresses), maxFilterAddresses)
	}

	if len(raw.Topics) > maxFilterTopics {
		return fmt.Errorf("too many topics: %d, at most %d", len(raw.Topics), maxFilterTopics)
	}
	if len(raw.Topics) > 0 {
		q.Topics = make([][]common.Hash, len(raw.Topics))
	}
	for i, t := range raw.Topics {
		alts, err := decodeTopicPosition(t)
		if err != nil {
			return fmt.Errorf("invalid topic %d: %w", i, err)
		}
		q.Topics[i] = alts
	}
	return nil
}

func decodeTopicPosition(raw json.RawMessage) ([]common.Hash, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '[' {
		var h common.Hash
		if err := json.Unmarshal(raw, &h); err != nil {
			return nil, err
		}
		return []common.Hash{h}, nil
	}
	var alts []*common.Hash
	if err := json.Unmarshal(raw, &alts); err != nil {
		return nil, err
	}
	if len(alts) > maxTopicAlternatives {
		return nil, fmt.Errorf("%d alternatives, at most %d", len(alts), maxTopicAlternatives)
	}
	out := make([]common.Hash, 0, len(alts))
	for _, h := range alts {
		if h == nil {
			return nil, nil
		}
		out = append(out, *h)
	}
	return out, nil
}

// matches reports whether l passes the address and topic criteria.
func (q *filterQuery) matches(l *types.Log) bool {
	if len(q.Addresses) > 0 && !slices.Contains(q.Addresses, l.Address) {
		return false
	}
	if len(q.Topics) > len(l.Topics) {
		return false
	}
	for i, alts := range q.Topics {
		if len(alts) > 0 && !slices.Contains(alts, l.Topics[i]) {
			return false
		}
	}
	return true
}

// mayMatch reports whether a block with bloom b may hold a matching log.
func (q *filterQuery) mayMatch(b types.Bloom) bool {
	if len(q.Addresses) > 0 && !slices.ContainsFunc(q.Addresses, func(a common.Address) bool { return b.Test(a[:]) }) {
		return false
	}
	for _, alts := range q.Topics {
		if len(alts) > 0 && !slices.ContainsFunc(alts, func(h common.Hash) bool { return b.Test(h[:]) }) {
			return false
		}
	}
	return true
}

// GetLogs is eth_getLogs. Blocks whose bloom rules the filter out are not
// read. A range is clamped to the head, may span at most MaxLogRange
// blocks and return at most MaxLogResults logs; beyond either it fails
// with code -32005 rather than truncating.
func (api *ethAPI) GetLogs(ctx context.Context, q filterQuery) ([]*types.Log, error) {
	ctx, cancel := withRequestTimeout(ctx)
	defer cancel()
	logs := []*types.Log{}

	if q.BlockHash != nil {
		h := api.chain.GetHeaderByHash(*q.BlockHash)
		if h == nil {
			return nil, fmt.Errorf("unknown block %s", q.BlockHash.Hex())
		}
		if !q.mayMatch(h.Bloom) {
			return logs, nil
		}
		return api.appendBlockLogs(logs, h, &q)
	}

	headHeader, err := head(api.chain)
	if err != nil {
		return nil, err
	}
	latest := headHeader.Number.Uint64()
	from, to := latest, latest
	if q.FromBlock != nil {
		if from, err = api.number(*q.FromBlock); err != nil {
			return nil, err
		}
	}
	if q.ToBlock != nil {
		if to, err = api.number(*q.ToBlock); err != nil {
			return nil, err
		}
	}
	if from > to {
		return nil, invalidParams("invalid block range: fromBlock %d is after toBlock %d", from, to)
	}
	to = min(to, latest)
	if from > to {
		return logs, nil
	}
	if n := to - from + 1; n > api.cfg.MaxLogRange {
		return nil, limitExceeded("block range too large: %d blocks (%d to %d), at most %d per query", n, from, to, api.cfg.MaxLogRange)
	}
	for n := from; n <= to; n++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("eth_getLogs stopped at block %d: %w", n, err)
		}
		h := api.chain.GetHeaderByNumber(n)
		if h == nil {
			break
		}
		if !q.mayMatch(h.Bloom) {
			continue
		}
		if logs, err = api.appendBlockLogs(logs, h, &q); err != nil {
			return nil, err
		}
	}
	return logs, nil
}

func (api *ethAPI) appendBlockLogs(dst []*types.Log, h *types.Header, q *filterQuery) ([]*types.Log, error) {
	receipts, err := api.chain.GetReceipts(h.Hash())
	if err != nil {
		return nil, err
	}
	for _, r := range receipts {
		for _, l := range r.Logs {
			if !q.matches(l) {
				continue
			}
			if len(dst) == api.cfg.MaxLogResults {
				return nil, limitExceeded("query returned more than %d logs; narrow the block range or the filter", api.cfg.MaxLogResults)
			}
			dst = append(dst, l)
		}
	}
	return dst, nil
}
