package node

import (
	"io"
	"log/slog"
	"math"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	gmath "github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/txpool"
)

// TestClientBacklogConfig: the client backlog is off unless the node's
// config sets a window, and the window reaches the pool.
func TestClientBacklogConfig(t *testing.T) {
	key := memberKey(0)
	g := &genesis.Genesis{
		ChainID: testChainID, Engine: genesis.EnginePoS,
		BlockTime: genesis.Duration(time.Second), GasLimit: 30_000_000,
		Members: []genesis.Member{{Address: crypto.PubkeyToAddress(key.PublicKey), Name: "0", Stake: (*gmath.HexOrDecimal256)(big.NewInt(1))}},
		Alloc:   map[common.Address]genesis.Account{},
	}
	for _, c := range []struct {
		backlog time.Duration
		want    int
	}{{0, math.MaxInt}, {-time.Second, math.MaxInt}, {800 * time.Millisecond, txpool.DefaultMinBacklog}} {
		dir := filepath.Join(t.TempDir(), "data")
		if _, err := Init(dir, g); err != nil {
			t.Fatalf("init: %v", err)
		}
		n, err := New(Config{DataDir: dir, Key: key, NoP2P: true, ClientBacklog: c.backlog,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatalf("new node: %v", err)
		}
		if have := n.Pool().Backlog(); have != c.want {
			t.Errorf("ClientBacklog %v: pool backlog %d, want %d", c.backlog, have, c.want)
		}
		n.Close()
	}
}
