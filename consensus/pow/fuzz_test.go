package pow

import (
	"context"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/consensus"
)

// sealErrors are the sentinels Author and VerifyHeader fail with for a
// header whose seal was tampered with.
var sealErrors = []error{consensus.ErrInvalidSeal, consensus.ErrNotMember, consensus.ErrInvalidDifficulty}

// FuzzSeal replaces the seal of a mined block (the signature in Extra,
// the nonce and, unless keepMix, the mix digest recomputed from the nonce)
// and verifies it. Author and VerifyHeader fail only with seal sentinels,
// and a header that verifies is signed by its coinbase, a member, with
// work that meets its difficulty.
func FuzzSeal(f *testing.F) {
	key := crypto.ToECDSAUnsafe(crypto.Keccak256([]byte("arbiter pow fuzz miner")))
	miner := crypto.PubkeyToAddress(key.PublicKey)
	e := newTestEngine(key)
	genesis := testGenesis(e)
	chain := newTestChain(genesis, miner)
	h := childOf(genesis, 5)
	if err := e.Prepare(chain, h, genesis); err != nil {
		f.Fatal(err)
	}
	block, err := e.Seal(context.Background(), chain, types.NewBlockWithHeader(h))
	if err != nil {
		f.Fatal(err)
	}
	sealed := block.Header()
	verifier := newTestEngine(nil)
	if err := verifier.VerifyHeader(chain, sealed, genesis); err != nil {
		f.Fatalf("mined block: %v", err)
	}
	f.Add(sealed.Extra, sealed.Nonce.Uint64(), true)
	f.Add(sealed.Extra, sealed.Nonce.Uint64()+1, false)
	f.Add(sealed.Extra[:64], sealed.Nonce.Uint64(), true)
	other := *sealed
	forgeSeal(f, &other, crypto.ToECDSAUnsafe(crypto.Keccak256([]byte("not a member"))))
	f.Add(other.Extra, other.Nonce.Uint64(), false)
	f.Fuzz(func(t *testing.T, extra []byte, nonce uint64, keepMix bool) {
		hdr := types.CopyHeader(sealed)
		hdr.Extra = extra
		hdr.Nonce = types.EncodeNonce(nonce)
		if !keepMix {
			hdr.MixDigest = mixDigest(SealHash(hdr), hdr.Nonce)
		}
		author, aerr := verifier.Author(hdr)
		if aerr != nil && !errors.Is(aerr, consensus.ErrInvalidSeal) {
			t.Fatalf("Author error %q does not wrap ErrInvalidSeal", aerr)
		}
		err := verifier.VerifyHeader(chain, hdr, genesis)
		if err != nil {
			for _, s := range sealErrors {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("VerifyHeader error %q wraps no sentinel", err)
		}
		mix := mixDigest(SealHash(hdr), hdr.Nonce)
		tgt := newTarget(hdr.Difficulty)
		if aerr != nil || author != hdr.Coinbase || author != miner || mix != hdr.MixDigest || !tgt.met(&mix) {
			t.Fatalf("verified a header signed by %v (%v), coinbase %v, mix ok %v", author, aerr, hdr.Coinbase, mix == hdr.MixDigest)
		}
	})
}
