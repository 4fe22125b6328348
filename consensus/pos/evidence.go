package pos

import (
	"bytes"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// Evidence proves equivocation: two votes signed by one validator for the
// same type, height and round but different block hashes (nil counts as a
// value). It is RLP-encodable and verifiable on its own (VerifyEvidence), so
// any node can put it on chain and the staking contract can slash for it.
// NewEvidence orders the votes by block hash so one offence has one encoding.
type Evidence struct {
	VoteA Vote
	VoteB Vote
}

// NewEvidence returns the evidence for a and b in canonical order.
func NewEvidence(a, b *Vote) *Evidence {
	if bytes.Compare(a.BlockHash[:], b.BlockHash[:]) > 0 {
		a, b = b, a
	}
	return &Evidence{VoteA: *a, VoteB: *b}
}

// Encode returns the RLP encoding of ev.
func (ev *Evidence) Encode() []byte {
	b, err := rlp.EncodeToBytes(ev)
	if err != nil {
		panic(fmt.Sprintf("pos: encode evidence: %v", err)) // fixed-size fields only
	}
	return b
}

// Hash returns keccak256 of the encoding, an identifier for deduplication.
func (ev *Evidence) Hash() common.Hash { return crypto.Keccak256Hash(ev.Encode()) }

// DecodeEvidence decodes evidence strictly.
func DecodeEvidence(b []byte) (*Evidence, error) {
	ev := new(Evidence)
	if err := rlp.DecodeBytes(b, ev); err != nil {
		return nil, fmt.Errorf("%w: evidence: %v", errMalformed, err)
	}
	return ev, nil
}

// VerifyEvidence checks ev on its own: the two votes have the same type,
// height and round and different block hashes, both signatures are
// canonical and by the same signer, and that signer is a validator of vals,
// the set in force at the votes' height. It returns the offender.
func VerifyEvidence(chainID *big.Int, ev *Evidence, vals *ValidatorSet) (common.Address, error) {
	a, b := &ev.VoteA, &ev.VoteB
	if a.Type != b.Type || a.Height != b.Height || a.Round != b.Round || a.BlockHash == b.BlockHash {
		return common.Address{}, errEvidenceMismatch
	}
	if a.Type != Prevote && a.Type != Precommit {
		return common.Address{}, fmt.Errorf("%w: vote type %d", errMalformed, a.Type)
	}
	sa, err := a.Signer(chainID)
	if err != nil {
		return common.Address{}, fmt.Errorf("vote A: %w", err)
	}
	sb, err := b.Signer(chainID)
	if err != nil {
		return common.Address{}, fmt.Errorf("vote B: %w", err)
	}
	if sa != sb {
		return common.Address{}, fmt.Errorf("%w: %v and %v", errEvidenceSigners, sa, sb)
	}
	if a.Height < vals.Start() {
		return common.Address{}, fmt.Errorf("%w: set starts at %d, votes at height %d", errNoValidatorSet, vals.Start(), a.Height)
	}
	if !vals.Has(sa) {
		return common.Address{}, fmt.Errorf("%w: %v", errNotValidator, sa)
	}
	return sa, nil
}
