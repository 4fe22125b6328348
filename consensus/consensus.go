package consensus

import (
	"context"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
)

// ChainHeaderReader is the part of the chain an engine may read while it
// verifies or prepares a header.
type ChainHeaderReader interface {
	// ChainID returns the chain id from genesis.
	ChainID() *big.Int
	// CurrentHeader returns the head of the canonical chain.
	CurrentHeader() *types.Header
	// GetHeader returns the header with the given hash and number, or nil.
	GetHeader(hash common.Hash, number uint64) *types.Header
	// GetHeaderByNumber returns the canonical header at number, or nil.
	GetHeaderByNumber(number uint64) *types.Header
	// GetHeaderByHash returns the header with the given hash, or nil.
	GetHeaderByHash(hash common.Hash) *types.Header
	// IsMember reports whether addr is a consortium member in the state
	// committed by header (genesis seeds the set, the membership contract
	// changes it).
	IsMember(header *types.Header, addr common.Address) bool
}

// Engine is a consensus engine: it decides who may produce a block, proves it
// in the header, and checks that proof on import. The chain code calls only
// these methods, so a proof-of-work engine and a message-driven BFT engine are
// interchangeable behind it.
type Engine interface {
	// Name is the engine name used in genesis.json ("pow" or "pos").
	Name() string

	// Author returns the address of the member that produced the block.
	Author(header *types.Header) (common.Address, error)

	// VerifyHeader checks that header obeys the engine's rules given its
	// parent (already known to the chain): difficulty, seal, signer membership.
	VerifyHeader(chain ChainHeaderReader, header, parent *types.Header) error

	// Prepare fills the engine fields of a header under construction
	// (difficulty, coinbase, extra) on top of parent.
	Prepare(chain ChainHeaderReader, header, parent *types.Header) error

	// Finalize applies end-of-block state changes (rewards, slashing). It must
	// be deterministic: every node runs it on the same state.
	Finalize(chain ChainHeaderReader, header *types.Header, state *state.StateDB, txs []*types.Transaction) error

	// Seal produces the engine proof for block (solving the puzzle, or
	// signing) and returns the sealed block. It returns ctx.Err() when ctx
	// ends first.
	Seal(ctx context.Context, chain ChainHeaderReader, block *types.Block) (*types.Block, error)

	// SealHash returns the hash the seal commits to: the header without the
	// seal itself.
	SealHash(header *types.Header) common.Hash
}

// Certifier is implemented by engines under which a block is decided only
// when a certificate proves it: BFT engines, whose certificate is the commit
// (precommit signatures of more than 2/3 of the height's stake). The chain
// stores such a block only together with a certificate that verifies, so a
// well-sealed block nobody voted for is a proposal, never a head to build on
// or a block to call final. Engines without it (proof-of-work) give
// probabilistic finality and choose the head by total difficulty.
type Certifier interface {
	// VerifyCertificate checks that cert proves header decided; header's
	// parent is stored. It checks the cheapest things first (size,
	// decoding) and does at most one signature recovery per validator of
	// header's height.
	VerifyCertificate(chain ChainHeaderReader, header *types.Header, cert []byte) error

	// ParentCertificate returns the certificate header carries for its
	// parent (verified with header by VerifyHeader), or nil if it carries
	// none (the first block after genesis).
	ParentCertificate(header *types.Header) []byte
}

// Coverer is a Certifier whose headers' signatures a later certificate can
// vouch for. A certificate of block v from a quorum of a validator set
// proves v's whole ancestry back to the last block certified by an earlier
// set: each correct signer checked v's proposer seal and the commit v
// carries for its parent before voting, and voted only on top of a parent
// it had itself decided. Catch-up sync uses it to check one certificate per
// stretch of blocks with unchanged certifiers instead of one per block.
type Coverer interface {
	Certifier

	// VerifyHeaderCovered checks header as VerifyHeader does except its
	// signatures (the proposer's seal and the commit for the parent),
	// which the caller must prove by a later certificate of the same
	// certifiers.
	VerifyHeaderCovered(chain ChainHeaderReader, header, parent *types.Header) error

	// SameCertifiers reports whether the blocks a and b, both on stored
	// or pending parents, are certified by the same validators with the
	// same powers.
	SameCertifiers(a, b *types.Header) (bool, error)
}
