package pos

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// Extra is the content of Header.Extra in a pos block: the RLP list
//
//	[Round, [LastCommit.Round, [sig, ...]], Seal]
//
// Round is the round in which the block was first proposed (its proposer is
// the proposer of that round), LastCommit proves the parent decided (empty
// for block 1, whose parent is genesis) and Seal is the proposer's signature
// over the seal digest of SealHash(header), or empty before sealing.
//
// The commit for a block cannot live in that block: the block hash covers
// Extra, so it would depend on which 2/3+ of precommits a node collected.
// Block h+1 carries h's commit instead (Tendermint's LastCommit).
type Extra struct {
	Round      uint32
	LastCommit Commit
	Seal       []byte
}

// MaxExtraSize is the largest Extra a pos header can carry: a round, a
// commit with a signature from each of MaxValidators validators and the
// proposer seal. Each signature is an RLP string of 2+65 bytes; rounds and
// list headers take at most a few bytes each. The chain's limit on
// Header.Extra must be at least this (node tests check it).
const MaxExtraSize = (MaxValidators+1)*(2+crypto.SignatureLength) + 32

// MaxCommitSize is the largest encoded Commit: MaxValidators signatures.
const MaxCommitSize = MaxValidators*(2+crypto.SignatureLength) + 16

// DecodeExtra decodes Header.Extra strictly: at most MaxExtraSize bytes,
// canonical RLP, nothing trailing, a seal that is empty or exactly one
// signature, rounds at most MaxRound and at most MaxValidators commit
// signatures.
func DecodeExtra(b []byte) (*Extra, error) {
	if len(b) > MaxExtraSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", errInvalidExtra, len(b), MaxExtraSize)
	}
	e := new(Extra)
	if err := rlp.DecodeBytes(b, e); err != nil {
		return nil, fmt.Errorf("%w: %v", errInvalidExtra, err)
	}
	if len(e.Seal) != 0 && len(e.Seal) != crypto.SignatureLength {
		return nil, fmt.Errorf("%w: seal of %d bytes", errInvalidExtra, len(e.Seal))
	}
	if e.Round > MaxRound || e.LastCommit.Round > MaxRound {
		return nil, fmt.Errorf("%w: round out of range", errInvalidExtra)
	}
	if len(e.LastCommit.Signatures) > MaxValidators {
		return nil, fmt.Errorf("%w: %d commit signatures, limit %d", errInvalidExtra, len(e.LastCommit.Signatures), MaxValidators)
	}
	return e, nil
}

// Encode returns the RLP encoding of c, the form a certificate takes
// outside a header (consensus.Certifier).
func (c Commit) Encode() []byte {
	b, err := rlp.EncodeToBytes(&c)
	if err != nil {
		panic(fmt.Sprintf("pos: encode commit: %v", err)) // an integer and fixed-size arrays
	}
	return b
}

// DecodeCommit decodes an encoded Commit strictly: at most MaxCommitSize
// bytes (checked before decoding), canonical RLP, a round at most MaxRound
// and at least one signature.
func DecodeCommit(b []byte) (*Commit, error) {
	if len(b) > MaxCommitSize {
		return nil, fmt.Errorf("%w: commit of %d bytes, limit %d", errMalformed, len(b), MaxCommitSize)
	}
	c := new(Commit)
	if err := rlp.DecodeBytes(b, c); err != nil {
		return nil, fmt.Errorf("%w: commit: %v", errMalformed, err)
	}
	if c.Round > MaxRound || len(c.Signatures) == 0 {
		return nil, fmt.Errorf("%w: commit round %d with %d signatures", errMalformed, c.Round, len(c.Signatures))
	}
	return c, nil
}

// Encode returns the RLP encoding of e.
func (e *Extra) Encode() []byte {
	b, err := rlp.EncodeToBytes(e)
	if err != nil {
		panic(fmt.Sprintf("pos: encode extra: %v", err)) // integers and byte strings only
	}
	return b
}

// SealHash returns the hash the proposer seal commits to: the hash of header
// with the seal inside Extra emptied. Every other header field, including
// Extra's round and last commit, is covered. If Extra does not decode, the
// header hash is returned; such a header never verifies.
func SealHash(header *types.Header) common.Hash {
	e, err := DecodeExtra(header.Extra)
	if err != nil {
		return header.Hash()
	}
	h := types.CopyHeader(header)
	e.Seal = nil
	h.Extra = e.Encode()
	return h.Hash()
}
