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

// DecodeExtra decodes Header.Extra strictly: canonical RLP, nothing
// trailing, a seal that is empty or exactly one signature.
func DecodeExtra(b []byte) (*Extra, error) {
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
	return e, nil
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
