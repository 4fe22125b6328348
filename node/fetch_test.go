package node

import (
	"context"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/arbiter-chain/arbiter/node/p2p"
	"github.com/arbiter-chain/arbiter/node/txpool"
)

// deafPool is the pool as a validator's network layer sees it when no
// peer's transaction ever reaches it: every one offered, by gossip or by
// pull, is refused as if the pool were full. Pulls and fetches are still
// served from the real pool.
type deafPool struct {
	p2p.Pool
	offered *atomic.Int64
}

func (p deafPool) Add(*types.Transaction) error {
	p.offered.Add(1)
	return txpool.ErrPoolFull
}

// TestProposalFilledByFetch: three validators of equal stake, so that every
// vote is needed, and one of them never takes a peer's transaction into its
// pool. Another's proposal carrying transfers reaches it as a compact
// proposal whose transactions it lacks, so it must fetch them from the
// proposer over BlockTxProtocol, through posval's filler, to judge the
// block and vote for it. The transfers become final only if that works end
// to end over libp2p.
func TestProposalFilledByFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	const deaf = 2
	var offered atomic.Int64
	nodes, keys := startPosClusterWith(t, 3, nil, func(i int, c *Config) {
		if i == deaf {
			c.p2pPool = func(p p2p.Pool) p2p.Pool { return deafPool{Pool: p, offered: &offered} }
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eth, err := ethclient.DialContext(ctx, "http://"+nodes[0].RPCAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer eth.Close()

	const transfers = 20
	signer := types.LatestSignerForChainID(big.NewInt(TestnetChainID))
	to := common.Address{0xfe, 0xed}
	var sent []common.Hash
	for nonce := range uint64(transfers) {
		tx := types.MustSignNewTx(keys[0], signer, &types.DynamicFeeTx{ChainID: big.NewInt(TestnetChainID),
			Nonce: nonce, To: &to, Value: big.NewInt(1), Gas: 21_000, GasTipCap: new(big.Int), GasFeeCap: new(big.Int)})
		if err := eth.SendTransaction(ctx, tx); err != nil {
			t.Fatalf("send %d: %v", nonce, err)
		}
		sent = append(sent, tx.Hash())
	}
	r := waitReceipt(ctx, t, eth, sent[len(sent)-1])

	// The deaf validator holds the final block and its state.
	d := nodes[deaf]
	for d.chain.CurrentBlock().NumberU64() < r.BlockNumber.Uint64() {
		select {
		case <-ctx.Done():
			t.Fatalf("the deaf validator never reached block %d", r.BlockNumber)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if b := d.chain.GetBlockByNumber(r.BlockNumber.Uint64()); b == nil || b.Hash() != r.BlockHash {
		t.Fatalf("the deaf validator's block %d is not %x", r.BlockNumber, r.BlockHash)
	}
	st, err := d.chain.StateAt(d.chain.CurrentBlock().Root())
	if err != nil {
		t.Fatal(err)
	}
	if have := st.GetBalance(to).Uint64(); have != transfers {
		t.Fatalf("balance at the deaf validator: have %d wei, want %d", have, transfers)
	}
	// Gossip offered the transfers and the deaf pool refused them.
	if offered.Load() == 0 {
		t.Fatal("no peer's transaction was offered to the deaf validator's pool: the test shows nothing")
	}
	for _, h := range sent {
		if d.pool.Has(h) {
			t.Fatalf("transfer %x reached the deaf validator's pool", h)
		}
	}
	if n := counterValue(t, d, "arbiter_p2p_block_txs_fetched_total"); n == 0 {
		t.Fatal("the deaf validator fetched no transaction, yet voted for blocks carrying them")
	}
}

// counterValue reads a counter from n's metrics.
func counterValue(t *testing.T, n *Node, name string) float64 {
	t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}
