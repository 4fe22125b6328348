package chain

import (
	"math/big"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/arbiter-chain/arbiter/node/store"
)

// mapSenders is a sender cache over a map.
type mapSenders struct {
	mu sync.Mutex
	m  map[common.Hash]common.Address
}

func (s *mapSenders) Sender(h common.Hash) (common.Address, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.m[h]
	return a, ok
}

func (s *mapSenders) Remember(h common.Hash, from common.Address) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[h] = from
}

// TestSenderCache: a block whose transactions the sender cache knows (the
// pool admitted them) is imported without recovering one signature; the
// transactions it does not know are recovered, once each. The block
// arrives as bytes, as from the network, so its transactions carry no
// sender of their own.
func TestSenderCache(t *testing.T) {
	var txs []*types.Transaction
	for i := uint64(0); i < 40; i++ {
		txs = append(txs, transfer("A", i, addrOf("B"), 1, i%2 == 0))
	}
	tests := []struct {
		name   string
		known  int // the cache knows txs[:known]
		wantRe uint64
	}{
		{"no cache", -1, 40},
		{"all known", 40, 0},
		{"half known", 20, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			builder := newTestChain(t, "A")
			block := builder.mine(builder.chain.CurrentBlock(), txs, 1)
			enc, err := rlp.EncodeToBytes(block)
			if err != nil {
				t.Fatal(err)
			}
			fresh := new(types.Block)
			if err := rlp.DecodeBytes(enc, fresh); err != nil {
				t.Fatal(err)
			}

			db, err := store.OpenInMemory()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			var opts []Option
			if tt.known >= 0 {
				cache := &mapSenders{m: make(map[common.Hash]common.Address)}
				for _, tx := range txs[:tt.known] {
					cache.m[tx.Hash()] = addrOf("A")
				}
				opts = append(opts, WithSenderCache(cache))
			}
			importer := openTestChainWith(t, db, "B", opts...)
			if err := importer.chain.InsertBlock(fresh); err != nil {
				t.Fatalf("insert: %v", err)
			}
			if have := importer.chain.SenderRecoveries(); have != tt.wantRe {
				t.Fatalf("recoveries: have %v, want %v", have, tt.wantRe)
			}
			// The valid block's senders are now in the cache (a
			// SenderRecorder), so gossip of its transactions arriving
			// later is not recovered again.
			if cache, ok := importer.chain.senders.(*mapSenders); ok {
				for i, tx := range txs {
					if from, ok := cache.Sender(tx.Hash()); !ok || from != addrOf("A") {
						t.Fatalf("tx %d: cached sender %v, %v after a valid block; want A", i, from, ok)
					}
				}
			}
			want := new(big.Int).Add(ether(1000), big.NewInt(int64(len(txs))))
			if have := importer.balance("B"); have.Cmp(want) != 0 {
				t.Fatalf("balance of B: have %v, want %v", have, want)
			}
			if importer.chain.CurrentBlock().Hash() != block.Hash() {
				t.Fatalf("head: have %x, want %x", importer.chain.CurrentBlock().Hash(), block.Hash())
			}
		})
	}
}
