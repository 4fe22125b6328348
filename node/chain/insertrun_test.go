package chain

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/node/store"
)

// errInjected fails a run's batch in tests.
var errInjected = errors.New("injected batch failure")

// TestInsertChainRuns imports certified chains in runs and checks what a
// run leaves behind when it succeeds, when a block in it is refused, and
// when its batch fails to commit (as a crash before the commit would):
// the head is always the end of the last committed run, every block up
// to it is stored with its certificate, and nothing after it is visible.
func TestInsertChainRuns(t *testing.T) {
	const length = 2*maxRunBlocks + 10
	net := newPosNet(t, 4)
	blocks, tipCert := net.extend(t, length, nil)
	badCert := net.commit // block length's commit does not certify block length-1
	badCert.Round = 7

	tests := []struct {
		name     string
		blocks   []*types.Block
		tipCert  []byte
		failRun  int // the run (1-based) whose batch fails; 0 for none
		wantN    int
		wantErr  error
		wantHead uint64
	}{
		{"whole chain", blocks, tipCert, 0, length, nil, length},
		{"no tip certificate", blocks, nil, 0, length - 1, nil, length - 1},
		{"refused tip", blocks[:length-1], badCert.Encode(), 0, length - 2, consensus.ErrNoCertificate, length - 2},
		{"second run fails", blocks, tipCert, 2, maxRunBlocks, errInjected, maxRunBlocks},
		{"first run fails", blocks, tipCert, 1, 0, errInjected, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := net.memDB(t)
			c := net.open(t, db, nil)
			runs := 0
			c.commitRun = func(b *store.Batch) error {
				runs++
				if runs == tt.failRun {
					b.Discard()
					return errInjected
				}
				return b.Commit()
			}
			n, err := c.InsertChain(tt.blocks, tt.tipCert)
			if n != tt.wantN || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("InsertChain: have %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
			checkCertifiedHead(t, c, blocks, tt.wantHead)
			// Reopened on the same database (a restart), the chain has the
			// same head, and imports the rest.
			c2 := net.open(t, db, nil)
			checkCertifiedHead(t, c2, blocks, tt.wantHead)
			if _, err := c2.InsertChain(blocks[tt.wantHead:], tipCert); err != nil {
				t.Fatalf("import the rest after reopening: have %v, want nil", err)
			}
			checkCertifiedHead(t, c2, blocks, length)
		})
	}
}

// checkCertifiedHead checks that head is both the head and the final
// block of c, that blocks up to it are canonical with a certificate that
// verifies, and that no later block is stored or visible.
func checkCertifiedHead(t *testing.T, c *Chain, blocks []*types.Block, head uint64) {
	t.Helper()
	if have := c.CurrentBlock().NumberU64(); have != head {
		t.Fatalf("head: have %d, want %d", have, head)
	}
	if have := c.FinalizedHeader().Number.Uint64(); have != head {
		t.Fatalf("final block: have %d, want %d", have, head)
	}
	for i, b := range blocks {
		num := uint64(i + 1)
		stored := c.GetHeaderByNumber(num)
		if num > head {
			if stored != nil || c.GetHeader(b.Hash(), num) != nil || c.db.HasBlock(b.Hash(), num) {
				t.Fatalf("block %d above the head %d is visible", num, head)
			}
			continue
		}
		if stored == nil || stored.Hash() != b.Hash() {
			t.Fatalf("canonical block %d: have %v, want %x", num, stored, b.Hash())
		}
		if err := c.certifier.VerifyCertificate(c, stored, c.Certificate(b.Hash(), num)); err != nil {
			t.Fatalf("certificate of block %d: have %v, want nil", num, err)
		}
	}
}
