package pos

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/consensus"
)

const (
	// allowedFutureBlockTime is how far a header's timestamp may be ahead of
	// the local clock.
	allowedFutureBlockTime = 15 * time.Second

	// signerCacheSize is the number of recovered proposers kept by Author.
	signerCacheSize = 4096
)

var (
	_ consensus.Engine    = (*Engine)(nil)
	_ consensus.Certifier = (*Engine)(nil)
	_ consensus.Coverer   = (*Engine)(nil)
)

// Engine is the proof-of-stake consensus engine: it verifies the proposer
// seal and the parent's commit carried in each header, and prepares and
// seals the blocks this node proposes. The rounds themselves run in a Core
// owned by a Driver. Engine is safe for concurrent use.
type Engine struct {
	chainID    *big.Int
	validators ValidatorSource
	key        *ecdsa.PrivateKey // nil on a verify-only engine
	address    common.Address
	clock      func() time.Time
	finalize   FinalizeHook

	signers *lru.Cache[common.Hash, common.Address] // header hash -> proposer

	mu      sync.Mutex
	pending *pendingProposal // set by SetProposal, read by Prepare
}

// pendingProposal is what Prepare needs to know beyond the header: the round
// being proposed and the parent's commit.
type pendingProposal struct {
	number     uint64
	round      uint32
	lastCommit Commit
}

// FinalizeHook applies end-of-block state changes (slashing from evidence,
// once the staking contract exists). It must be deterministic.
type FinalizeHook func(chain consensus.ChainHeaderReader, header *types.Header, state *state.StateDB, txs []*types.Transaction) error

// Option configures an Engine.
type Option func(*Engine)

// WithClock sets the clock used to reject blocks from the future (default
// time.Now).
func WithClock(now func() time.Time) Option {
	return func(e *Engine) {
		if now != nil {
			e.clock = now
		}
	}
}

// WithFinalizeHook sets the hook Finalize runs (default: none).
func WithFinalizeHook(h FinalizeHook) Option {
	return func(e *Engine) { e.finalize = h }
}

// New returns an engine for the chain chainID whose validator sets come from
// vals. key is this node's validator key; it may be nil for a node that only
// verifies, in which case Prepare and Seal fail.
func New(chainID *big.Int, vals ValidatorSource, key *ecdsa.PrivateKey, opts ...Option) *Engine {
	e := &Engine{
		chainID:    new(big.Int).Set(chainID),
		validators: vals,
		key:        key,
		clock:      time.Now,
		signers:    lru.NewCache[common.Hash, common.Address](signerCacheSize),
	}
	if key != nil {
		e.address = crypto.PubkeyToAddress(key.PublicKey)
	}
	for _, opt := range opts {
		opt(e)
	}
	return e
}

// Name returns "pos", the engine name in genesis.json.
func (e *Engine) Name() string { return "pos" }

// Address returns this node's validator address, or the zero address for a
// verify-only engine.
func (e *Engine) Address() common.Address { return e.address }

// ChainID returns the chain id signatures are bound to.
func (e *Engine) ChainID() *big.Int { return new(big.Int).Set(e.chainID) }

// Validators returns the engine's validator source.
func (e *Engine) Validators() ValidatorSource { return e.validators }

// Author returns the proposer that sealed header, recovered from the seal in
// Extra. It does not check that the signer was the round's proposer;
// VerifyHeader does.
func (e *Engine) Author(header *types.Header) (common.Address, error) {
	hash := header.Hash()
	if addr, ok := e.signers.Get(hash); ok {
		return addr, nil
	}
	ex, err := DecodeExtra(header.Extra)
	if err != nil {
		return common.Address{}, err
	}
	if len(ex.Seal) == 0 {
		return common.Address{}, fmt.Errorf("%w: not sealed", errBadProposerSeal)
	}
	addr, err := recoverSigner(sealDigest(e.chainID, SealHash(header)), ex.Seal)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", errBadProposerSeal, err)
	}
	e.signers.Add(hash, addr)
	return addr, nil
}

// VerifyHeader checks header against its parent, cheapest checks first:
// number, parent hash, timestamp (not before the parent, at most 15s ahead
// of the engine clock), difficulty 1, zero MixDigest and Nonce, no uncles
// and a well-formed Extra (round at most MaxRound, at most MaxValidators
// signatures); then one signature recovery: Coinbase sealed the header and
// is a validator of the header's height; then that Coinbase is the proposer
// of the header's height and Extra round, a lookup whose cost does not
// depend on the round; and last that LastCommit holds precommits for the
// parent's hash at the parent's height from distinct validators of that
// height with more than 2/3 of the power (block 1's must be empty: genesis
// needs no proof). Validator sets are read on the header's own branch: the
// header's from its parent, the parent's from the grandparent.
func (e *Engine) VerifyHeader(chain consensus.ChainHeaderReader, header, parent *types.Header) error {
	return e.verifyHeader(header, parent, true)
}

// VerifyHeaderCovered implements consensus.Coverer: every check of
// VerifyHeader but the two that recover signatures. Coinbase must still be
// a validator of the header's height and the proposer of its round; that
// it sealed the header, and the commit for the parent, are left to a later
// certificate of the same validators, which proves both (each correct
// signer checked them before voting).
func (e *Engine) VerifyHeaderCovered(_ consensus.ChainHeaderReader, header, parent *types.Header) error {
	return e.verifyHeader(header, parent, false)
}

// SameCertifiers implements consensus.Coverer: whether the validator sets
// deciding a and b hold the same validators with the same powers. The
// start height, which only moves the proposer rotation, does not count.
func (e *Engine) SameCertifiers(a, b *types.Header) (bool, error) {
	if a.Number == nil || b.Number == nil || !a.Number.IsUint64() || !b.Number.IsUint64() {
		return false, fmt.Errorf("pos: %w: certifiers of blocks %v and %v", consensus.ErrInvalidNumber, a.Number, b.Number)
	}
	sa, err := e.validators.ValidatorSet(a.Number.Uint64(), a.ParentHash)
	if err != nil {
		return false, fmt.Errorf("pos: block %d: %w", a.Number.Uint64(), err)
	}
	sb, err := e.validators.ValidatorSet(b.Number.Uint64(), b.ParentHash)
	if err != nil {
		return false, fmt.Errorf("pos: block %d: %w", b.Number.Uint64(), err)
	}
	return sa.SameValidators(sb), nil
}

// verifyHeader is VerifyHeader; signatures false leaves out the proposer's
// seal and the parent's commit (VerifyHeaderCovered).
func (e *Engine) verifyHeader(header, parent *types.Header, signatures bool) error {
	if parent == nil {
		return fmt.Errorf("pos: %w: no parent given", consensus.ErrUnknownAncestor)
	}
	if parent.Number == nil {
		return fmt.Errorf("pos: %w: parent has no number", consensus.ErrInvalidNumber)
	}
	want := new(big.Int).Add(parent.Number, common.Big1)
	if header.Number == nil || header.Number.Cmp(want) != 0 {
		return fmt.Errorf("pos: %w: got %v, want %v", consensus.ErrInvalidNumber, header.Number, want)
	}
	number := header.Number.Uint64()
	parentHash := parent.Hash()
	if header.ParentHash != parentHash {
		return fmt.Errorf("pos: block %d: %w: parent hash %x, given parent is %x", number, consensus.ErrUnknownAncestor, header.ParentHash, parentHash)
	}
	if header.Time < parent.Time {
		return fmt.Errorf("pos: block %d: %w: time %d before parent time %d", number, consensus.ErrInvalidTimestamp, header.Time, parent.Time)
	}
	if limit := e.clock().Add(allowedFutureBlockTime).Unix(); limit < 0 || header.Time > uint64(limit) {
		return fmt.Errorf("pos: block %d: %w: time %d, local limit %d", number, consensus.ErrFutureBlock, header.Time, limit)
	}
	if header.Difficulty == nil || header.Difficulty.Cmp(common.Big1) != 0 {
		return fmt.Errorf("pos: block %d: %w: got %v, want 1", number, consensus.ErrInvalidDifficulty, header.Difficulty)
	}
	if header.MixDigest != (common.Hash{}) || header.Nonce != (types.BlockNonce{}) || header.UncleHash != types.EmptyUncleHash {
		return fmt.Errorf("pos: block %d: %w", number, errSealFields)
	}
	ex, err := DecodeExtra(header.Extra)
	if err != nil {
		return fmt.Errorf("pos: block %d: %w", number, err)
	}
	if signatures {
		signer, err := e.Author(header)
		if err != nil {
			return fmt.Errorf("pos: block %d: %w", number, err)
		}
		if signer != header.Coinbase {
			return fmt.Errorf("pos: block %d: %w: signed by %v, coinbase %v", number, errBadProposerSeal, signer, header.Coinbase)
		}
	}
	vals, err := e.validators.ValidatorSet(number, parentHash)
	if err != nil {
		return fmt.Errorf("pos: block %d: %w", number, err)
	}
	if !vals.Has(header.Coinbase) {
		return fmt.Errorf("pos: block %d: %w: sealed by %v", number, errWrongProposer, header.Coinbase)
	}
	if proposer := vals.Proposer(number, ex.Round); header.Coinbase != proposer {
		return fmt.Errorf("pos: block %d round %d: %w: coinbase %v, proposer %v", number, ex.Round, errWrongProposer, header.Coinbase, proposer)
	}
	if !signatures {
		return nil
	}
	return e.verifyLastCommit(number, parent, &ex.LastCommit)
}

// verifyLastCommit checks the commit block number carries for parent.
func (e *Engine) verifyLastCommit(number uint64, parent *types.Header, c *Commit) error {
	if number == 1 {
		if c.Round != 0 || len(c.Signatures) != 0 {
			return fmt.Errorf("pos: block 1: %w", errUnexpectedCommit)
		}
		return nil
	}
	pvals, err := e.validators.ValidatorSet(number-1, parent.ParentHash)
	if err != nil {
		return fmt.Errorf("pos: block %d: parent validators: %w", number, err)
	}
	if _, err := VerifyCommit(e.chainID, pvals, number-1, parent.Hash(), c); err != nil {
		return fmt.Errorf("pos: block %d: last commit: %w: %w", number, consensus.ErrInvalidSeal, err)
	}
	return nil
}

// VerifyCertificate checks that cert, an encoded Commit, proves header
// decided: precommits for header's hash at its height from distinct
// validators of that height (read on header's branch) holding more than
// 2/3 of the power. The size is checked before decoding and the number of
// signatures before any is recovered.
func (e *Engine) VerifyCertificate(_ consensus.ChainHeaderReader, header *types.Header, cert []byte) error {
	if header.Number == nil || !header.Number.IsUint64() || header.Number.Sign() == 0 {
		return fmt.Errorf("pos: %w: certificate for block %v", consensus.ErrInvalidNumber, header.Number)
	}
	number := header.Number.Uint64()
	c, err := DecodeCommit(cert)
	if err != nil {
		return fmt.Errorf("pos: block %d: %w: %w", number, consensus.ErrNoCertificate, err)
	}
	vals, err := e.validators.ValidatorSet(number, header.ParentHash)
	if err != nil {
		return fmt.Errorf("pos: block %d: %w", number, err)
	}
	if _, err := VerifyCommit(e.chainID, vals, number, header.Hash(), c); err != nil {
		return fmt.Errorf("pos: block %d: %w: %w", number, consensus.ErrNoCertificate, err)
	}
	return nil
}

// ParentCertificate returns the encoded commit header carries for its
// parent, or nil for block 1 (genesis needs none) and a malformed Extra.
func (e *Engine) ParentCertificate(header *types.Header) []byte {
	ex, err := DecodeExtra(header.Extra)
	if err != nil || header.Number == nil || header.Number.Cmp(common.Big1) <= 0 || len(ex.LastCommit.Signatures) == 0 {
		return nil
	}
	return ex.LastCommit.Encode()
}

// SetProposal tells Prepare the round and the parent's commit of the block
// this node is about to build at number. The driver calls it before asking
// its Builder for a block.
func (e *Engine) SetProposal(number uint64, round uint32, lastCommit Commit) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pending = &pendingProposal{number: number, round: round, lastCommit: lastCommit}
}

// Prepare fills the engine fields of header on top of parent: Difficulty 1,
// Coinbase (this engine's address), no uncles, zero MixDigest and Nonce, and
// Extra with the round and last commit announced by SetProposal and an empty
// seal. header.Time is raised to parent.Time if it is below.
func (e *Engine) Prepare(chain consensus.ChainHeaderReader, header, parent *types.Header) error {
	if e.key == nil {
		return errNoKey
	}
	if parent == nil {
		return fmt.Errorf("pos: %w: no parent given", consensus.ErrUnknownAncestor)
	}
	e.mu.Lock()
	p := e.pending
	e.mu.Unlock()
	if p == nil || header.Number == nil || !header.Number.IsUint64() || p.number != header.Number.Uint64() {
		return fmt.Errorf("%w: %v", errNoProposal, header.Number)
	}
	if header.Time < parent.Time {
		header.Time = parent.Time
	}
	header.Difficulty = big.NewInt(1)
	header.Coinbase = e.address
	header.UncleHash = types.EmptyUncleHash
	header.MixDigest = common.Hash{}
	header.Nonce = types.BlockNonce{}
	header.Extra = (&Extra{Round: p.round, LastCommit: p.lastCommit}).Encode()
	return nil
}

// Finalize runs the finalize hook, if any, and otherwise changes nothing: no
// block reward (fees reach Coinbase through the state transition).
func (e *Engine) Finalize(chain consensus.ChainHeaderReader, header *types.Header, state *state.StateDB, txs []*types.Transaction) error {
	if e.finalize != nil {
		return e.finalize(chain, header, state, txs)
	}
	return nil
}

// Seal signs the seal digest of block's header into Extra's seal and returns
// the sealed block. The header must have been prepared by this engine.
func (e *Engine) Seal(ctx context.Context, chain consensus.ChainHeaderReader, block *types.Block) (*types.Block, error) {
	if e.key == nil {
		return nil, errNoKey
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	header := types.CopyHeader(block.Header())
	if header.Coinbase != e.address {
		return nil, fmt.Errorf("pos: seal: %w: coinbase %v, engine address %v", errBadProposerSeal, header.Coinbase, e.address)
	}
	ex, err := DecodeExtra(header.Extra)
	if err != nil {
		return nil, fmt.Errorf("pos: seal: %w", err)
	}
	sig, err := sign(sealDigest(e.chainID, SealHash(header)), e.key)
	if err != nil {
		return nil, fmt.Errorf("pos: seal: sign: %w", err)
	}
	ex.Seal = sig[:]
	header.Extra = ex.Encode()
	return block.WithSeal(header), nil
}

// SealHash returns the hash the proposer seal commits to; see SealHash.
func (e *Engine) SealHash(header *types.Header) common.Hash { return SealHash(header) }
