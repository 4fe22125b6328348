package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// logID names a log by block and index for comparison.
type logID struct{ block, index uint64 }

func logIDs(logs []types.Log) []logID {
	out := []logID{}
	for _, l := range logs {
		out = append(out, logID{l.BlockNumber, uint64(l.Index)})
	}
	return out
}

func TestGetLogs(t *testing.T) {
	e := newTestEnv(t, Config{})
	small := newTestEnv(t, Config{MaxLogRange: 2, MaxLogResults: 2})
	ctx := context.Background()
	// The chain's logs: block 1 index 0 (A, B) and 1 (B); block 3 index 0 (C, A).
	l10, l11, l30 := logID{1, 0}, logID{1, 1}, logID{3, 0}
	b1 := e.chain.blocks[1].Hash()
	other := common.HexToAddress("0x99")
	unknown := common.HexToHash("0x77")
	tests := []struct {
		name    string
		env     *testEnv
		q       ethereum.FilterQuery
		want    []logID
		wantErr string
	}{
		{"whole chain", e, ethereum.FilterQuery{FromBlock: big.NewInt(0)}, []logID{l10, l11, l30}, ""},
		{"default is latest only", e, ethereum.FilterQuery{FromBlock: big.NewInt(-2)}, []logID{l30}, ""},
		{"topic A first", e, ethereum.FilterQuery{FromBlock: big.NewInt(0), Topics: [][]common.Hash{{topicA}}}, []logID{l10}, ""},
		{"topic A or C first", e, ethereum.FilterQuery{FromBlock: big.NewInt(0), Topics: [][]common.Hash{{topicA, topicC}}}, []logID{l10, l30}, ""},
		{"any then A", e, ethereum.FilterQuery{FromBlock: big.NewInt(0), Topics: [][]common.Hash{nil, {topicA}}}, []logID{l30}, ""},
		{"any then B", e, ethereum.FilterQuery{FromBlock: big.NewInt(0), Topics: [][]common.Hash{nil, {topicB}}}, []logID{l10}, ""},
		{"topic B first", e, ethereum.FilterQuery{FromBlock: big.NewInt(0), Topics: [][]common.Hash{{topicB}}}, []logID{l11}, ""},
		{"address matches", e, ethereum.FilterQuery{FromBlock: big.NewInt(0), Addresses: []common.Address{other, contractAddr}}, []logID{l10, l11, l30}, ""},
		{"address does not match", e, ethereum.FilterQuery{FromBlock: big.NewInt(0), Addresses: []common.Address{other}}, []logID{}, ""},
		{"block hash", e, ethereum.FilterQuery{BlockHash: &b1}, []logID{l10, l11}, ""},
		{"block hash unknown", e, ethereum.FilterQuery{BlockHash: &unknown}, nil, "unknown block"},
		{"to finalized", e, ethereum.FilterQuery{FromBlock: big.NewInt(0), ToBlock: big.NewInt(-3)}, []logID{l10, l11}, ""},
		{"beyond head", e, ethereum.FilterQuery{FromBlock: big.NewInt(10), ToBlock: big.NewInt(20)}, []logID{}, ""},
		{"to clamped to head", e, ethereum.FilterQuery{FromBlock: big.NewInt(2), ToBlock: big.NewInt(1_000_000)}, []logID{l30}, ""},
		{"from after to", e, ethereum.FilterQuery{FromBlock: big.NewInt(3), ToBlock: big.NewInt(1)}, nil, "invalid block range"},
		{"range too large", small, ethereum.FilterQuery{FromBlock: big.NewInt(0)}, nil, "block range too large: 4 blocks"},
		{"range at limit", small, ethereum.FilterQuery{FromBlock: big.NewInt(2)}, []logID{l30}, ""},
		{"results at limit", small, ethereum.FilterQuery{FromBlock: big.NewInt(1), ToBlock: big.NewInt(2), Topics: [][]common.Hash{{topicA, topicB}}}, []logID{l10, l11}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs, err := tt.env.client.FilterLogs(ctx, tt.q)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("have %v, %v; want error %q", logIDs(logs), err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if have := logIDs(logs); !slices.Equal(have, tt.want) {
				t.Errorf("have %v, want %v", have, tt.want)
			}
		})
	}

	t.Run("result limit", func(t *testing.T) {
		tiny := newTestEnv(t, Config{MaxLogResults: 1})
		_, err := tiny.client.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(0)})
		if err == nil || !strings.Contains(err.Error(), "query returned more than 1 logs") || errorCode(err) != codeLimitExceeded {
			t.Fatalf("have %v (code %d), want limit error", err, errorCode(err))
		}
	})
	t.Run("range limit code", func(t *testing.T) {
		_, err := small.client.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(0)})
		if errorCode(err) != codeLimitExceeded {
			t.Fatalf("have %v (code %d), want %d", err, errorCode(err), codeLimitExceeded)
		}
	})
	t.Run("bloom skips blocks", func(t *testing.T) {
		before := e.chain.receiptReads.Load()
		logs, err := e.client.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(0), Topics: [][]common.Hash{{topicC}}})
		if err != nil || len(logs) != 1 {
			t.Fatalf("have %v, %v; want one log", logIDs(logs), err)
		}
		if reads := e.chain.receiptReads.Load() - before; reads != 1 {
			t.Errorf("read receipts of %d blocks, want 1", reads)
		}
	})
	t.Run("log fields", func(t *testing.T) {
		logs, err := e.client.FilterLogs(ctx, ethereum.FilterQuery{BlockHash: &b1})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := e.chain.GetReceipts(b1)
		want := r[1].Logs[0]
		have := logs[0]
		if have.Address != want.Address || !slices.Equal(have.Topics, want.Topics) || !slices.Equal(have.Data, want.Data) ||
			have.TxHash != want.TxHash || have.TxIndex != want.TxIndex || have.BlockHash != want.BlockHash {
			t.Errorf("have %+v, want %+v", have, *want)
		}
	})
}

func TestFilterQueryJSON(t *testing.T) {
	h := func(x common.Hash) string { return `"` + x.Hex() + `"` }
	tests := []struct {
		name       string
		json       string
		wantAddrs  int
		wantTopics [][]common.Hash
		wantErr    string
	}{
		{"single address", `{"address":"` + contractAddr.Hex() + `"}`, 1, nil, ""},
		{"address list", `{"address":["` + contractAddr.Hex() + `","0x0000000000000000000000000000000000000001"]}`, 2, nil, ""},
		{"null address", `{"address":null}`, 0, nil, ""},
		{"topics mixed", `{"topics":[null,` + h(topicA) + `,[` + h(topicB) + `,` + h(topicC) + `]]}`, 0,
			[][]common.Hash{nil, {topicA}, {topicB, topicC}}, ""},
		{"null alternative is wildcard", `{"topics":[[` + h(topicA) + `,null]]}`, 0, [][]common.Hash{nil}, ""},
		{"too many topics", `{"topics":[null,null,null,null,null]}`, 0, nil, "too many topics"},
		{"bad topic", `{"topics":["0x12"]}`, 0, nil, "invalid topic 0"},
		{"bad address", `{"address":"0x12"}`, 0, nil, "invalid address"},
		{"hash and range", `{"blockHash":` + h(topicA) + `,"fromBlock":"0x1"}`, 0, nil, "cannot specify both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q filterQuery
			err := json.Unmarshal([]byte(tt.json), &q)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("have %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(q.Addresses) != tt.wantAddrs || fmt.Sprint(q.Topics) != fmt.Sprint(tt.wantTopics) {
				t.Errorf("have %v %v, want %d addresses, topics %v", q.Addresses, q.Topics, tt.wantAddrs, tt.wantTopics)
			}
		})
	}
}
