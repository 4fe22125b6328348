package pos

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
)

// memChain is a node's chain for the driver tests: it builds empty blocks,
// validates with the engine and stores decided blocks.
type memChain struct {
	engine *Engine
	events chan<- string

	mu      sync.Mutex
	blocks  map[uint64]*types.Block
	commits map[uint64]Commit
	head    *types.Block
}

func newMemChain(e *Engine, genesis *types.Block, events chan<- string) *memChain {
	return &memChain{
		engine:  e,
		events:  events,
		blocks:  map[uint64]*types.Block{0: genesis},
		commits: make(map[uint64]Commit),
		head:    genesis,
	}
}

func (c *memChain) BuildBlock(parent *types.Block, now uint64) (*types.Block, error) {
	h := &types.Header{
		ParentHash: parent.Hash(),
		Number:     new(big.Int).Add(parent.Number(), big.NewInt(1)),
		Time:       max(now, parent.Time()),
		GasLimit:   parent.GasLimit(),
		BaseFee:    new(big.Int),
		TxHash:     types.EmptyTxsHash, ReceiptHash: types.EmptyReceiptsHash, Root: parent.Root(),
	}
	if err := c.engine.Prepare(nil, h, parent.Header()); err != nil {
		return nil, err
	}
	return types.NewBlockWithHeader(h), nil
}

func (c *memChain) ValidateBlock(b *types.Block) error {
	c.mu.Lock()
	parent := c.blocks[b.NumberU64()-1]
	c.mu.Unlock()
	if parent == nil || parent.Hash() != b.ParentHash() {
		return errors.New("unknown parent")
	}
	return c.engine.VerifyHeader(nil, b.Header(), parent.Header())
}

func (c *memChain) Commit(b *types.Block, commit Commit) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.ParentHash() != c.head.Hash() {
		return fmt.Errorf("block %d does not extend head %d", b.NumberU64(), c.head.NumberU64())
	}
	c.blocks[b.NumberU64()], c.commits[b.NumberU64()], c.head = b, commit, b
	c.events <- fmt.Sprintf("%d:%x", b.NumberU64(), b.Hash())
	return nil
}

func (c *memChain) CommittedBlock(n uint64) (*types.Block, Commit, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.blocks[n]
	return b, c.commits[n], ok && n > 0
}

func (c *memChain) Head() *types.Block {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.head
}

// memNet connects drivers through buffered channels; a full inbox drops.
type memNet struct{ inboxes []chan []byte }

type memPort struct {
	net  *memNet
	self int
}

func (p memPort) Broadcast(msg []byte) {
	for i, in := range p.net.inboxes {
		if i == p.self {
			continue
		}
		select {
		case in <- msg:
		default:
		}
	}
}

func TestDriversCommitAndRestart(t *testing.T) {
	keys := []*ecdsa.PrivateKey{testKey(t, "drv-A"), testKey(t, "drv-B"), testKey(t, "drv-C"), testKey(t, "drv-D")}
	sets := mustSchedule(t, mustSet(t, 1, keys, nil))
	genesis := testGenesis()
	dir := t.TempDir()
	events := make(chan string, 1024)
	net := &memNet{}
	chains := make([]*memChain, len(keys))
	for i, k := range keys {
		net.inboxes = append(net.inboxes, make(chan []byte, 4096))
		chains[i] = newMemChain(New(testChainID, sets, k), genesis, events)
	}

	// runAll runs a driver per node until every chain reaches height.
	runAll := func(height uint64) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		errs := make(chan error, len(keys))
		for i := range keys {
			cfg := DriverConfig{
				WALPath:      filepath.Join(dir, fmt.Sprintf("%d.wal", i)),
				TickInterval: 2 * time.Millisecond,
				Head:         chains[i].Head(),
				Inbound:      net.inboxes[i],
				Transport:    memPort{net, i},
				Builder:      chains[i],
				Validator:    chains[i],
				Committer:    chains[i],
				Clock:        func() time.Time { return time.Unix(int64(testGenesisTime), 0) },
				BlockTime:    4 * time.Millisecond,
				Logger:       slog.New(slog.DiscardHandler),
			}
			cfg.Core.DefaultTimeouts()
			d, err := NewDriver(chains[i].engine, cfg)
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- d.Run(ctx)
			}()
		}
		deadline := time.After(20 * time.Second)
		for done := false; !done; {
			select {
			case <-events:
				done = true
				for _, c := range chains {
					if c.Head().NumberU64() < height {
						done = false
					}
				}
			case <-deadline:
				cancel()
				wg.Wait()
				t.Fatalf("timed out before all chains reached %d", height)
			}
		}
		cancel()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("driver: %v", err)
			}
		}
	}

	runAll(3)
	// Restart every driver from its WAL and chain head.
	runAll(6)
	for h := uint64(1); h <= 5; h++ {
		want := chains[0].blocks[h].Hash()
		for i, c := range chains {
			if c.blocks[h].Hash() != want {
				t.Fatalf("height %d: node %d has %x, want %x", h, i, c.blocks[h].Hash(), want)
			}
		}
	}
}
