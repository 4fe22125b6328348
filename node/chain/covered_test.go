package chain

import (
	"errors"
	"math/big"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/consensus/pos"
)

// countingEngine counts how an import checks headers and certificates.
type countingEngine struct {
	*pos.Engine
	full, covered, certs *atomic.Int64
}

func (e countingEngine) VerifyHeader(chain consensus.ChainHeaderReader, header, parent *types.Header) error {
	e.full.Add(1)
	return e.Engine.VerifyHeader(chain, header, parent)
}

func (e countingEngine) VerifyHeaderCovered(chain consensus.ChainHeaderReader, header, parent *types.Header) error {
	e.covered.Add(1)
	return e.Engine.VerifyHeaderCovered(chain, header, parent)
}

func (e countingEngine) VerifyCertificate(chain consensus.ChainHeaderReader, header *types.Header, cert []byte) error {
	e.certs.Add(1)
	return e.Engine.VerifyCertificate(chain, header, cert)
}

// counts is what a countingEngine counted.
type counts struct{ full, covered, certs int64 }

// importer opens a verify-only chain of net on a fresh database whose
// engine counts; strict turns covering off (block-by-block checks).
func (n *posNet) importer(t *testing.T, strict bool) (*Chain, func() counts) {
	t.Helper()
	e := countingEngine{pos.New(big.NewInt(testChainID), n.sched, nil), new(atomic.Int64), new(atomic.Int64), new(atomic.Int64)}
	c, err := New(n.memDB(t), n.g, e)
	if err != nil {
		t.Fatal(err)
	}
	if strict {
		c.coverer = nil
	}
	return c, func() counts { return counts{e.full.Load(), e.covered.Load(), e.certs.Load()} }
}

// TestInsertChainCovered imports certified chains with and without
// covering: the same blocks are accepted, with one certificate checked per
// stretch of blocks with unchanged certifiers (at a run's end, before a
// change of validator set, before the stretch's transactions could use
// more than maxCoveredGas), and a block whose transactions alone could use
// more is checked in full before it is executed.
func TestInsertChainCovered(t *testing.T) {
	t.Run("empty blocks", func(t *testing.T) {
		const length = 2*maxRunBlocks + 10
		net := newPosNet(t, 4)
		blocks, tipCert := net.extend(t, length, nil)
		c, got := net.importer(t, false)
		if n, err := c.InsertChain(blocks, tipCert); n != length || err != nil {
			t.Fatalf("InsertChain: have %d, %v; want %d, nil", n, err, length)
		}
		// Three runs (64, 64, 10 blocks): one certificate each.
		if want := (counts{full: 0, covered: length, certs: 3}); got() != want {
			t.Fatalf("checks: have %+v, want %+v", got(), want)
		}
		checkCertifiedHead(t, c, blocks, length)
		strict, gotStrict := net.importer(t, true)
		if n, err := strict.InsertChain(blocks, tipCert); n != length || err != nil {
			t.Fatalf("strict InsertChain: have %d, %v", n, err)
		}
		if want := (counts{full: length, covered: 0, certs: length}); gotStrict() != want {
			t.Fatalf("strict checks: have %+v, want %+v", gotStrict(), want)
		}
	})

	t.Run("gas budget", func(t *testing.T) {
		// 20 transfers (420,000 gas) a block: two blocks fit the budget,
		// so a certificate is checked every second block; block 11 holds
		// 50 (1,050,000 gas), more than the budget alone: it is checked in
		// full before it is executed.
		net := newPosNet(t, 4, "S")
		var nonce uint64
		blocks, tipCert := net.extend(t, 12, func(number uint64) []*types.Transaction {
			n := 20
			if number == 11 {
				n = 50
			}
			out := make([]*types.Transaction, n)
			for i := range out {
				out[i] = transfer("S", nonce, common.BigToAddress(big.NewInt(int64(1000+nonce))), 1, true)
				nonce++
			}
			return out
		})
		c, got := net.importer(t, false)
		if n, err := c.InsertChain(blocks, tipCert); n != 12 || err != nil {
			t.Fatalf("InsertChain: have %d, %v", n, err)
		}
		// Stretches 1-2, 3-4, 5-6, 7-8, 9-10, then 11 in full (its own
		// certificate), then 12 at the end.
		if want := (counts{full: 1, covered: 11, certs: 7}); got() != want {
			t.Fatalf("checks: have %+v, want %+v", got(), want)
		}
		checkCertifiedHead(t, c, blocks, 12)
	})

	t.Run("validator set change", func(t *testing.T) {
		// Set 1 (V0-V3) decides blocks 1-19, set 2 from block 20.
		net := newPosSchedule(t, []int{4, 4}, []uint64{20})
		blocks, tipCert := net.extend(t, 40, nil)
		c, got := net.importer(t, false)
		if n, err := c.InsertChain(blocks, tipCert); n != 40 || err != nil {
			t.Fatalf("InsertChain: have %d, %v", n, err)
		}
		// Block 19's certificate before block 20, block 40's at the end.
		if want := (counts{full: 0, covered: 40, certs: 2}); got() != want {
			t.Fatalf("checks: have %+v, want %+v", got(), want)
		}
		checkCertifiedHead(t, c, blocks, 40)
	})
}

// TestInsertChainCoveredForgeries imports forged chains with and without
// covering and checks that both refuse the same block for the same reason
// and keep the same head.
func TestInsertChainCoveredForgeries(t *testing.T) {
	tests := []struct {
		name    string
		sizes   []int
		starts  []uint64
		signers func(number uint64) int
		length  int
		wantN   int // blocks imported; the next is refused
	}{
		{
			// Every commit from block 30's on has 2 of 4 signatures: the
			// last block's certificate fails, so does block 30's.
			name: "weak commits from block 30", sizes: []int{4},
			signers: func(n uint64) int { return map[bool]int{true: 2, false: 3}[n >= 30] },
			length:  100, wantN: 29,
		},
		{
			// The blocks before set 2 takes over at block 20 carry commits
			// of one signature; set 2's are genuine, so is the tip's. A
			// single certificate at the end would accept them all.
			name: "forged stretch before a set change", sizes: []int{4, 4}, starts: []uint64{20},
			signers: func(n uint64) int { return map[bool]int{true: 1, false: 3}[n < 20] },
			length:  40, wantN: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			net := newPosSchedule(t, tt.sizes, tt.starts)
			net.forge(t, tt.signers)
			blocks, tipCert := net.extend(t, tt.length, nil)
			var errs [2]error
			for i, strict := range []bool{false, true} {
				c, _ := net.importer(t, strict)
				n, err := c.InsertChain(blocks, tipCert)
				if n != tt.wantN || !errors.Is(err, consensus.ErrNoCertificate) {
					t.Fatalf("strict=%v: InsertChain: have %d, %v; want %d, %v", strict, n, err, tt.wantN, consensus.ErrNoCertificate)
				}
				checkCertifiedHead(t, c, blocks, uint64(tt.wantN))
				errs[i] = err
			}
			if errs[0].Error() != errs[1].Error() {
				t.Fatalf("covered and strict imports disagree:\n covered: %v\n strict:  %v", errs[0], errs[1])
			}
		})
	}
}

// TestInsertChainCoveredNotLinked: a block whose successor in the list is
// not built on it takes its certificate from a header that does not vouch
// for it, so that certificate is checked with the block: the covered
// import refuses what the strict one refuses and stores no certificate
// that does not verify.
func TestInsertChainCoveredNotLinked(t *testing.T) {
	net := newPosNet(t, 4)
	blocks, tipCert := net.extend(t, 10, nil)
	type outcome struct {
		n    int
		err  string
		head uint64
	}
	var got [2]outcome
	for i, strict := range []bool{false, true} {
		c, _ := net.importer(t, strict)
		if n, err := c.InsertChain(blocks[:4], nil); n != 3 || err != nil {
			t.Fatalf("strict %v: first three blocks: n=%d, err %v", strict, n, err)
		}
		// Head 3; the list is 4, 3 (known), 5..10: block 4's certificate
		// would be read from block 3's header, the commit for block 2.
		list := append([]*types.Block{blocks[3], blocks[2]}, blocks[4:]...)
		n, err := c.InsertChain(list, tipCert)
		if err == nil {
			t.Fatalf("strict %v: a block with another block's certificate was accepted (n=%d)", strict, n)
		}
		got[i] = outcome{n, err.Error(), c.CurrentBlock().NumberU64()}
		for num := uint64(1); num <= c.CurrentBlock().NumberU64(); num++ {
			h := c.GetHeaderByNumber(num)
			if err := c.certifier.VerifyCertificate(c, h, c.Certificate(h.Hash(), num)); err != nil {
				t.Errorf("strict %v: stored certificate of block %d does not verify: %v", strict, num, err)
			}
		}
	}
	if got[0] != got[1] {
		t.Errorf("covered %+v, strict %+v", got[0], got[1])
	}
	if got[0].head != 3 {
		t.Errorf("head %d, want 3", got[0].head)
	}
}

// TestInsertChainCoveredReleasesState: the state of a stretch no
// certificate proves is never written; once the stretch is refused it is
// not readable either.
func TestInsertChainCoveredReleasesState(t *testing.T) {
	net := newPosNet(t, 4, "S")
	net.forge(t, func(uint64) int { return 1 }) // one signer: no block has a quorum
	var nonce uint64
	blocks, tipCert := net.extend(t, 4, func(uint64) []*types.Transaction {
		out := make([]*types.Transaction, 5)
		for i := range out {
			out[i] = transfer("S", nonce, common.BigToAddress(big.NewInt(int64(5000+nonce))), 1, true)
			nonce++
		}
		return out
	})
	for _, strict := range []bool{false, true} {
		c, _ := net.importer(t, strict)
		if n, err := c.InsertChain(blocks, tipCert); n != 0 || err == nil {
			t.Fatalf("strict %v: forged blocks: n=%d, err %v; want block 1 refused", strict, n, err)
		}
		for _, b := range blocks {
			if _, err := c.StateAt(b.Root()); err == nil {
				t.Errorf("strict %v: the state of refused block %d is readable", strict, b.NumberU64())
			}
		}
		// Releasing them must not take the head's state with them.
		if err := c.VerifyHead(); err != nil {
			t.Errorf("strict %v: head after the refused stretch: %v", strict, err)
		}
		if _, recovered, _ := c.StateStats(); recovered != 0 {
			t.Errorf("strict %v: %d blocks re-executed to read the head", strict, recovered)
		}
	}
}
