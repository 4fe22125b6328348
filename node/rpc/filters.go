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

	// The criteria above as mayMatch and matches test them, computed once
	// by UnmarshalJSON (index) because a filter is tested against every
	// block of a range and every log of a feed: addrBits[i] and
	// topicBits[i][j] are the bloom bits of Addresses[i] and
	// Topics[i][j]; addrSet and topicSets[i] hold the lists longer than
	// setThreshold, and are nil for the others.
	addrBits  []bloomBits
	topicBits [][]bloomBits
	addrSet   map[common.Address]struct{}
	topicSets []map[common.Hash]struct{}
}

// setThreshold is the length past which matches looks a log's address or
// topic up in a map rather than scanning the list: a few comparisons of 20
// or 32 bytes cost less than hashing the key.
const setThreshold = 8

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
	q.index()
	return nil
}

// index computes the bloom bits and sets of q's criteria.
func (q *filterQuery) index() {
	q.addrBits = make([]bloomBits, len(q.Addresses))
	for i, a := range q.Addresses {
		q.addrBits[i] = bloomBitsOf(a[:])
	}
	if len(q.Addresses) > setThreshold {
		q.addrSet = setOf(q.Addresses)
	}
	q.topicBits = make([][]bloomBits, len(q.Topics))
	q.topicSets = make([]map[common.Hash]struct{}, len(q.Topics))
	for i, alts := range q.Topics {
		q.topicBits[i] = make([]bloomBits, len(alts))
		for j, h := range alts {
			q.topicBits[i][j] = bloomBitsOf(h[:])
		}
		if len(alts) > setThreshold {
			q.topicSets[i] = setOf(alts)
		}
	}
}

func setOf[T comparable](items []T) map[T]struct{} {
	set := make(map[T]struct{}, len(items))
	for _, x := range items {
		set[x] = struct{}{}
	}
	return set
}

// bloomBits are the bits of a log bloom that one item (an address or a
// topic) sets: Bloom.Add sets three bits chosen by the item's keccak hash,
// so they lie in at most three bytes; idx[k] is such a byte's index and
// bits[k] its bits there (zero for an unused slot). A bloom passes
// Bloom.Test for the item exactly when every byte holds all its bits, and
// testing that needs no hash.
type bloomBits struct {
	idx  [3]uint8
	bits [3]byte
}

// bloomBitsOf returns the bloom bits of item, read from a bloom holding
// item alone, so that they are by construction the ones Bloom.Add sets
// and Bloom.Test checks.
func bloomBitsOf(item []byte) bloomBits {
	var one types.Bloom
	one.Add(item)
	var bb bloomBits
	n := 0
	for i, v := range one {
		if v != 0 {
			bb.idx[n], bb.bits[n] = uint8(i), v
			n++
		}
	}
	return bb
}

// in reports whether b holds every bit of bb: Bloom.Test for bb's item.
func (bb *bloomBits) in(b *types.Bloom) bool {
	return b[bb.idx[0]]&bb.bits[0] == bb.bits[0] &&
		b[bb.idx[1]]&bb.bits[1] == bb.bits[1] &&
		b[bb.idx[2]]&bb.bits[2] == bb.bits[2]
}

// anyIn reports whether b holds the bits of any item of list.
func anyIn(list []bloomBits, b *types.Bloom) bool {
	for k := range list {
		if list[k].in(b) {
			return true
		}
	}
	return false
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

// matches reports whether l passes the address and topic criteria. q
// must come from UnmarshalJSON.
func (q *filterQuery) matches(l *types.Log) bool {
	if len(q.Addresses) > 0 && !contains(q.addrSet, q.Addresses, l.Address) {
		return false
	}
	if len(q.Topics) > len(l.Topics) {
		return false
	}
	for i, alts := range q.Topics {
		if len(alts) > 0 && !contains(q.topicSets[i], alts, l.Topics[i]) {
			return false
		}
	}
	return true
}

// contains reports whether x is in list, looked up in set if there is one
// (set then holds the items of list).
func contains[T comparable](set map[T]struct{}, list []T, x T) bool {
	if set != nil {
		_, ok := set[x]
		return ok
	}
	return slices.Contains(list, x)
}

// mayMatch reports whether a block with bloom b may hold a matching log:
// some address, and at each topic position some alternative, is in b
// (Bloom.Test). q must come from UnmarshalJSON.
func (q *filterQuery) mayMatch(b types.Bloom) bool {
	if len(q.addrBits) > 0 && !anyIn(q.addrBits, &b) {
		return false
	}
	for _, alts := range q.topicBits {
		if len(alts) > 0 && !anyIn(alts, &b) {
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
