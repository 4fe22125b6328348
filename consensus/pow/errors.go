package pow

import (
	"errors"
	"fmt"

	"github.com/arbiter-chain/arbiter/consensus"
)

// Engine-specific errors. Those about the seal wrap consensus.ErrInvalidSeal
// so callers can classify them without knowing this package.
var (
	// errNoKey is returned by Prepare and Seal on a verify-only engine.
	errNoKey = errors.New("pow: engine has no signing key")

	// errUnclesNotAllowed is returned for a header whose UncleHash is not
	// the hash of an empty uncle list.
	errUnclesNotAllowed = fmt.Errorf("%w: uncles are not allowed", consensus.ErrInvalidSeal)

	// errExtraLength is returned when Extra is not exactly one signature.
	errExtraLength = fmt.Errorf("%w: extra-data must be a %d-byte signature", consensus.ErrInvalidSeal, signatureLength)

	// errInvalidSignature is returned when the signature in Extra is
	// malformed, non-canonical or unrecoverable.
	errInvalidSignature = fmt.Errorf("%w: bad signature", consensus.ErrInvalidSeal)

	// errCoinbaseMismatch is returned when the signer is not the coinbase.
	errCoinbaseMismatch = fmt.Errorf("%w: coinbase is not the signer", consensus.ErrInvalidSeal)

	// errInvalidMixDigest is returned when MixDigest is not
	// keccak256(SealHash || Nonce).
	errInvalidMixDigest = fmt.Errorf("%w: mix digest does not match nonce", consensus.ErrInvalidSeal)

	// errInsufficientWork is returned when MixDigest is above the target
	// implied by the difficulty.
	errInsufficientWork = fmt.Errorf("%w: mix digest does not meet difficulty target", consensus.ErrInvalidSeal)
)
