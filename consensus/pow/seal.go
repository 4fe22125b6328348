package pow

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// checkInterval is how many nonces a mining goroutine tries between looks at
// its context.
const checkInterval = 4096

// Seal signs the seal hash of block's header into Extra and then searches for
// a nonce whose MixDigest meets the difficulty target, with the number of
// goroutines set by WithThreads. The search starts at a random nonce so that
// members do not repeat each other's work. The header must have been prepared
// by this engine (its Coinbase is this engine's address). Seal returns
// ctx.Err() if ctx ends before a solution is found; it checks ctx every few
// thousand hashes and does not return before its goroutines have stopped.
func (e *Engine) Seal(ctx context.Context, chain consensus.ChainHeaderReader, block *types.Block) (*types.Block, error) {
	if e.key == nil {
		return nil, errNoKey
	}
	header := types.CopyHeader(block.Header())
	if header.Coinbase != e.address {
		return nil, fmt.Errorf("pow: seal: %w: coinbase %v, engine address %v", errCoinbaseMismatch, header.Coinbase, e.address)
	}
	if header.Difficulty == nil || header.Difficulty.Sign() <= 0 {
		return nil, fmt.Errorf("pow: seal: %w: %v", consensus.ErrInvalidDifficulty, header.Difficulty)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	sealHash := SealHash(header)
	sig, err := crypto.Sign(sealHash[:], e.key)
	if err != nil {
		return nil, fmt.Errorf("pow: seal: sign: %w", err)
	}
	header.Extra = sig

	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("pow: seal: random start nonce: %w", err)
	}
	nonce, err := e.search(ctx, sealHash, newTarget(header.Difficulty), binary.BigEndian.Uint64(seed[:]))
	if err != nil {
		return nil, err
	}
	header.Nonce = types.EncodeNonce(nonce)
	header.MixDigest = mixDigest(sealHash, header.Nonce)
	return block.WithSeal(header), nil
}

// search runs e.threads goroutines, goroutine i starting at
// start + i*2^64/threads, and returns the first nonce that meets tgt.
func (e *Engine) search(ctx context.Context, sealHash common.Hash, tgt target, start uint64) (uint64, error) {
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()

	found := make(chan uint64, e.threads)
	stride := math.MaxUint64/uint64(e.threads) + 1
	var wg sync.WaitGroup
	for i := range e.threads {
		wg.Add(1)
		go func(from uint64) {
			defer wg.Done()
			if n, ok := e.mine(stopCtx, sealHash, tgt, from); ok {
				found <- n
			}
		}(start + uint64(i)*stride)
	}

	var (
		nonce uint64
		ok    bool
	)
	select {
	case nonce = <-found:
		ok = true
	case <-ctx.Done():
	}
	stop()
	wg.Wait()
	if !ok {
		// Cancellation and a solution may race; take the solution if any.
		select {
		case nonce = <-found:
		default:
			return 0, ctx.Err()
		}
	}
	return nonce, nil
}

// mine tries nonces from nonce upwards until one meets tgt or ctx ends.
func (e *Engine) mine(ctx context.Context, sealHash common.Hash, tgt target, nonce uint64) (uint64, bool) {
	hasher := crypto.NewKeccakState()
	var (
		buf [common.HashLength + 8]byte
		mix common.Hash
	)
	copy(buf[:], sealHash[:])
	for {
		for i := range checkInterval {
			binary.BigEndian.PutUint64(buf[common.HashLength:], nonce)
			hasher.Reset()
			hasher.Write(buf[:])
			hasher.Read(mix[:])
			if tgt.met(&mix) {
				e.hashes.Add(uint64(i + 1))
				return nonce, true
			}
			nonce++
		}
		e.hashes.Add(checkInterval)
		if ctx.Err() != nil {
			return 0, false
		}
	}
}
