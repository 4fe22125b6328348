package pow

import (
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

const (
	// signatureLength is the length of Extra: a secp256k1 signature
	// [R || S || V] with V in {0, 1}.
	signatureLength = crypto.SignatureLength

	// allowedFutureBlockTime is how far a header's timestamp may be ahead of
	// the local clock.
	allowedFutureBlockTime = 15 * time.Second

	// signerCacheSize is the number of recovered signers kept by Author.
	signerCacheSize = 4096
)

var _ consensus.Engine = (*Engine)(nil)

// Engine is the permissioned proof-of-work engine. It is safe for concurrent
// use.
type Engine struct {
	cfg           Config
	targetSeconds uint64
	key           *ecdsa.PrivateKey // nil on a verify-only engine
	address       common.Address
	threads       int
	clock         func() time.Time

	signers *lru.Cache[common.Hash, common.Address] // header hash -> signer
	hashes  atomic.Uint64                           // nonces tried by Seal
}

// Option configures an Engine.
type Option func(*Engine)

// WithThreads sets the number of goroutines Seal mines with (default 1;
// values below 1 mean 1).
func WithThreads(n int) Option {
	return func(e *Engine) { e.threads = max(n, 1) }
}

// WithClock sets the clock used to reject blocks from the future (default
// time.Now).
func WithClock(now func() time.Time) Option {
	return func(e *Engine) {
		if now != nil {
			e.clock = now
		}
	}
}

// New returns an engine with the given parameters and target block time.
// blockTime is used in whole seconds (header timestamps have one-second
// resolution); anything below one second counts as one second. key signs the
// blocks this node mines; it may be nil for an engine that only verifies, in
// which case Prepare and Seal fail. New does not validate cfg: call
// Config.Validate first.
func New(cfg Config, blockTime time.Duration, key *ecdsa.PrivateKey, opts ...Option) *Engine {
	e := &Engine{
		cfg:           cfg,
		targetSeconds: uint64(max(blockTime/time.Second, 1)),
		key:           key,
		threads:       1,
		clock:         time.Now,
		signers:       lru.NewCache[common.Hash, common.Address](signerCacheSize),
	}
	if key != nil {
		e.address = crypto.PubkeyToAddress(key.PublicKey)
	}
	for _, opt := range opts {
		opt(e)
	}
	return e
}

// Name returns "pow", the engine name in genesis.json.
func (e *Engine) Name() string { return "pow" }

// Address returns the address blocks mined by this engine are credited to,
// or the zero address for a verify-only engine.
func (e *Engine) Address() common.Address { return e.address }

// Author returns the member that signed header, recovered from the signature
// in Extra. It does not check the proof of work; VerifyHeader does.
func (e *Engine) Author(header *types.Header) (common.Address, error) {
	return e.signer(header, nil)
}

// signer recovers the signer of header. sealHash may be nil, in which case it
// is computed when needed. Results are cached by header hash, which commits
// to Extra as well as to everything the signature covers.
func (e *Engine) signer(header *types.Header, sealHash *common.Hash) (common.Address, error) {
	hash := header.Hash()
	if addr, ok := e.signers.Get(hash); ok {
		return addr, nil
	}
	sig := header.Extra
	if len(sig) != signatureLength {
		return common.Address{}, fmt.Errorf("%w: got %d bytes", errExtraLength, len(sig))
	}
	// Accept only the canonical form (low S, V in {0, 1}) so that the block
	// hash, which covers Extra, cannot be changed by re-encoding the
	// signature.
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:64])
	if !crypto.ValidateSignatureValues(sig[64], r, s, true) {
		return common.Address{}, fmt.Errorf("%w: non-canonical signature values", errInvalidSignature)
	}
	if sealHash == nil {
		h := SealHash(header)
		sealHash = &h
	}
	pub, err := crypto.SigToPub(sealHash[:], sig)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", errInvalidSignature, err)
	}
	addr := crypto.PubkeyToAddress(*pub)
	e.signers.Add(hash, addr)
	return addr, nil
}

// VerifyHeader checks header against its parent: number, timestamp (not
// before the parent, at most 15s ahead of the engine clock), difficulty, the
// absence of uncles, the proof of work, the signature in Extra (which must be
// by Coinbase) and the signer's membership in the parent state. Cheap checks
// run first and the signature is recovered only after the proof of work has
// been checked.
func (e *Engine) VerifyHeader(chain consensus.ChainHeaderReader, header, parent *types.Header) error {
	if parent == nil {
		return fmt.Errorf("pow: %w: no parent given", consensus.ErrUnknownAncestor)
	}
	if parent.Number == nil {
		return fmt.Errorf("pow: %w: parent has no number", consensus.ErrInvalidNumber)
	}
	want := new(big.Int).Add(parent.Number, common.Big1)
	if header.Number == nil || header.Number.Cmp(want) != 0 {
		return fmt.Errorf("pow: %w: got %v, want %v", consensus.ErrInvalidNumber, header.Number, want)
	}
	if ph := parent.Hash(); header.ParentHash != ph {
		return fmt.Errorf("pow: block %v: %w: parent hash %x, given parent is %x", header.Number, consensus.ErrUnknownAncestor, header.ParentHash, ph)
	}
	if header.UncleHash != types.EmptyUncleHash {
		return fmt.Errorf("pow: block %v: %w: uncle hash %x", header.Number, errUnclesNotAllowed, header.UncleHash)
	}
	if header.Time < parent.Time {
		return fmt.Errorf("pow: block %v: %w: time %d before parent time %d", header.Number, consensus.ErrInvalidTimestamp, header.Time, parent.Time)
	}
	if limit := e.clock().Add(allowedFutureBlockTime).Unix(); limit < 0 || header.Time > uint64(limit) {
		return fmt.Errorf("pow: block %v: %w: time %d, local limit %d", header.Number, consensus.ErrFutureBlock, header.Time, limit)
	}
	wantDiff := e.CalcDifficulty(header.Time, parent)
	if header.Difficulty == nil || header.Difficulty.Cmp(wantDiff) != 0 {
		return fmt.Errorf("pow: block %v: %w: got %v, want %v", header.Number, consensus.ErrInvalidDifficulty, header.Difficulty, wantDiff)
	}
	if len(header.Extra) != signatureLength {
		return fmt.Errorf("pow: block %v: %w: got %d bytes", header.Number, errExtraLength, len(header.Extra))
	}
	sealHash := SealHash(header)
	mix := mixDigest(sealHash, header.Nonce)
	if mix != header.MixDigest {
		return fmt.Errorf("pow: block %v: %w: got %x, want %x", header.Number, errInvalidMixDigest, header.MixDigest, mix)
	}
	tgt := newTarget(header.Difficulty)
	if !tgt.met(&mix) {
		return fmt.Errorf("pow: block %v: %w: difficulty %v", header.Number, errInsufficientWork, header.Difficulty)
	}
	signer, err := e.signer(header, &sealHash)
	if err != nil {
		return fmt.Errorf("pow: block %v: %w", header.Number, err)
	}
	if signer != header.Coinbase {
		return fmt.Errorf("pow: block %v: %w: signer %v, coinbase %v", header.Number, errCoinbaseMismatch, signer, header.Coinbase)
	}
	if !chain.IsMember(parent, signer) {
		return fmt.Errorf("pow: block %v: %w: %v", header.Number, consensus.ErrNotMember, signer)
	}
	return nil
}

// Prepare fills the engine fields of header on top of parent: Difficulty,
// Coinbase (this engine's address), UncleHash (empty), Extra (a 65-byte zero
// placeholder for the signature) and a zero Nonce and MixDigest. header.Time
// must already be set; if it is before parent.Time (the parent's miner has a
// clock ahead of ours) it is raised to parent.Time.
func (e *Engine) Prepare(chain consensus.ChainHeaderReader, header, parent *types.Header) error {
	if e.key == nil {
		return errNoKey
	}
	if parent == nil {
		return fmt.Errorf("pow: %w: no parent given", consensus.ErrUnknownAncestor)
	}
	if header.Time < parent.Time {
		header.Time = parent.Time
	}
	header.Difficulty = e.CalcDifficulty(header.Time, parent)
	header.Coinbase = e.address
	header.UncleHash = types.EmptyUncleHash
	header.Extra = make([]byte, signatureLength)
	header.MixDigest = common.Hash{}
	header.Nonce = types.BlockNonce{}
	return nil
}

// Finalize applies no state changes and returns nil. The network is
// permissioned: members are admitted by the membership contract, not attracted
// by issuance, so there is no block reward (transaction fees are still paid to
// Coinbase by the state transition, not here). It is a real method rather
// than an omission so that the Engine contract, and the determinism it asks
// for, hold trivially.
func (e *Engine) Finalize(chain consensus.ChainHeaderReader, header *types.Header, state *state.StateDB, txs []*types.Transaction) error {
	return nil
}
