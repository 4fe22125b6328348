package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// faultReport is what a TestFaultInjection run measured.
type faultReport struct {
	Seed      uint64        `json:"seed"`
	BlockTime string        `json:"blockTime"`
	Nodes     int           `json:"nodes"`
	Elapsed   string        `json:"elapsed"`
	Faults    []faultRecord `json:"faults"`
	Kinds     []kindSummary `json:"kinds"`
	// FinalHeight is the lowest finalized height of the nodes at the end,
	// up to which all agree.
	FinalHeight  uint64 `json:"finalHeight"`
	Acknowledged int    `json:"acknowledged"`
	Transfers    int    `json:"transfers"`
	ChessTxs     int    `json:"chessTxs"`
	Games        int    `json:"games"`
	Lost         int    `json:"lost"`
	Duplicated   int    `json:"duplicated"`
	Moved        int    `json:"moved"`
}

// faultRecord is one injected fault.
type faultRecord struct {
	Kind     string        `json:"kind"`
	Detail   string        `json:"detail"`
	At       string        `json:"at"`
	Hold     string        `json:"hold"`
	Progress int64         `json:"finalizedDuring"`
	Target   uint64        `json:"target"`
	Recovery time.Duration `json:"-"`
	// RecoveryMS is the time from the heal until every node had finalized
	// Target, the first height no node had finalized at the heal.
	RecoveryMS int64 `json:"recoveryMs"`
}

// kindSummary is the recovery time of one fault kind over a run.
type kindSummary struct {
	Kind  string `json:"kind"`
	Count int    `json:"count"`
	P50MS int64  `json:"p50Ms"`
	MaxMS int64  `json:"maxMs"`
}

// finish waits until every node has finalized every acknowledged
// transaction's block, compares the nodes' canonical chains up to their
// final heights, checks every acknowledged transaction is in each final
// chain exactly once and in the block its receipt named, and reports.
func (ft *faultTest) finish(t *testing.T) {
	t.Helper()
	r := &ft.report
	r.Elapsed = time.Since(ft.start).Round(time.Second).String()
	acked, failed, games := ft.load.snapshot()
	for _, f := range failed {
		t.Errorf("load: %s", f)
	}
	var need uint64
	for _, a := range acked {
		need = max(need, a.Number)
	}
	posWaitFinal(t, ft.nodes, need, 30*time.Second, "final catch-up")
	r.FinalHeight = ft.pn.check(t, ft.nodes...)

	chains := make([]finalChain, len(ft.nodes))
	for i, p := range ft.nodes {
		chains[i] = finalChain{node: p.name, txs: map[common.Hash]int{}, blocks: map[uint64]common.Hash{}}
		fin := p.finalized(t)
		for n := uint64(1); n <= fin; n++ {
			var b *struct {
				Hash         common.Hash   `json:"hash"`
				Transactions []common.Hash `json:"transactions"`
			}
			if err := p.call(&b, "eth_getBlockByNumber", hexutil.Uint64(n), false); err != nil || b == nil {
				t.Fatalf("%s: block %d: %v", p.name, n, err)
			}
			chains[i].blocks[n] = b.Hash
			for _, h := range b.Transactions {
				chains[i].txs[h]++
			}
		}
	}
	for _, a := range acked {
		if a.What == "transfer" {
			r.Transfers++
		} else {
			r.ChessTxs++
		}
	}
	a := auditAcked(acked, chains)
	r.Acknowledged, r.Lost, r.Duplicated, r.Moved = len(acked), a.lost, a.duplicated, a.moved
	for i, problem := range a.problems {
		if i == 20 {
			t.Errorf("... and %d more", len(a.problems)-i)
			break
		}
		t.Error(problem)
	}
	r.Games = games
	if r.Transfers == 0 || r.Games == 0 {
		t.Errorf("load: %d transfers and %d chess games acknowledged, want some of each", r.Transfers, r.Games)
	}

	byKind := map[string][]time.Duration{}
	for _, f := range r.Faults {
		byKind[f.Kind] = append(byKind[f.Kind], f.Recovery)
	}
	for _, k := range faultKinds {
		d := byKind[k.name]
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		r.Kinds = append(r.Kinds, kindSummary{Kind: k.name, Count: len(d),
			P50MS: d[(len(d)-1)/2].Milliseconds(), MaxMS: d[len(d)-1].Milliseconds()})
	}
	md := r.markdown()
	t.Logf("fault injection summary:\n%s", md)
	if path := os.Getenv(faultReportEnv); path != "" {
		out := []byte(md)
		if strings.HasSuffix(path, ".json") {
			b, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			out = append(b, '\n')
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Errorf("%s: %v", faultReportEnv, err)
		}
	}
}

// markdown renders the report as tables.
func (r *faultReport) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d validators, block time %s, seed %d, fault phase %s, %d faults\n\n", r.Nodes, r.BlockTime, r.Seed, r.Elapsed, len(r.Faults))
	b.WriteString("| fault kind | injected | recovery p50 | recovery max |\n|---|---:|---:|---:|\n")
	for _, k := range r.Kinds {
		fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", k.Kind, k.Count,
			time.Duration(k.P50MS)*time.Millisecond, time.Duration(k.MaxMS)*time.Millisecond)
	}
	b.WriteString("\n| at | fault | nodes | finalized during | recovered to | recovery |\n|---|---|---|---:|---:|---:|\n")
	for _, f := range r.Faults {
		fmt.Fprintf(&b, "| %s | %s | %s | +%d | %d | %s |\n", f.At, f.Kind, f.Detail, f.Progress, f.Target,
			time.Duration(f.RecoveryMS)*time.Millisecond)
	}
	fmt.Fprintf(&b, "\ntransactions acknowledged: %d (%d transfers, %d chess calls in %d games); lost: %d; duplicated: %d; receipt block not final: %d; all nodes agree up to height %d\n",
		r.Acknowledged, r.Transfers, r.ChessTxs, r.Games, r.Lost, r.Duplicated, r.Moved, r.FinalHeight)
	return b.String()
}

// finalChain is one node's final chain: how often each transaction occurs
// in it and which block is final at each height.
type finalChain struct {
	node   string
	txs    map[common.Hash]int
	blocks map[uint64]common.Hash
}

// auditResult counts acknowledged transactions that some final chain
// lacks, holds more than once, or holds in another block than the receipt
// named, and describes each such finding.
type auditResult struct {
	lost, duplicated, moved int
	problems                []string
}

// auditAcked checks every acknowledged transaction against every final
// chain.
func auditAcked(acked []ackedTx, chains []finalChain) auditResult {
	var r auditResult
	for _, a := range acked {
		var lost, dup, moved bool
		for _, c := range chains {
			switch n := c.txs[a.Hash]; {
			case n == 0:
				lost = true
				r.problems = append(r.problems, fmt.Sprintf("LOST: %s %s (receipt from node%d: block %d %s) is not in %s's final chain",
					a.What, a.Hash, a.Node+1, a.Number, a.Block, c.node))
			case n > 1:
				dup = true
				r.problems = append(r.problems, fmt.Sprintf("DUPLICATED: %s %s is %d times in %s's final chain", a.What, a.Hash, n, c.node))
			case c.blocks[a.Number] != a.Block:
				moved = true
				r.problems = append(r.problems, fmt.Sprintf("MOVED: %s %s: the receipt named block %d %s, final on %s is %s",
					a.What, a.Hash, a.Number, a.Block, c.node, c.blocks[a.Number]))
			}
		}
		r.lost += b2i(lost)
		r.duplicated += b2i(dup)
		r.moved += b2i(moved)
	}
	return r
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
