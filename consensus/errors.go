package consensus

import "errors"

// Errors shared by every engine. Engine-specific errors stay private to the
// engine's package and wrap one of these where a caller needs to tell them
// apart.
var (
	// ErrUnknownAncestor is returned when a header's parent is not known.
	ErrUnknownAncestor = errors.New("unknown ancestor")

	// ErrInvalidNumber is returned when a header's number is not its parent's plus one.
	ErrInvalidNumber = errors.New("invalid block number")

	// ErrInvalidTimestamp is returned when a header's time is before its parent's.
	ErrInvalidTimestamp = errors.New("invalid timestamp")

	// ErrFutureBlock is returned when a header's time is too far ahead of the local clock.
	ErrFutureBlock = errors.New("block in the future")

	// ErrInvalidSeal is returned when the engine proof in a header does not verify.
	ErrInvalidSeal = errors.New("invalid seal")

	// ErrInvalidDifficulty is returned when a header's difficulty is not the one the engine computes.
	ErrInvalidDifficulty = errors.New("invalid difficulty")

	// ErrNotMember is returned when a block's producer is not a consortium member.
	ErrNotMember = errors.New("block producer is not a member")

	// ErrUnauthorized is returned when a producer is a member but may not seal this block.
	ErrUnauthorized = errors.New("unauthorized producer")

	// ErrNoCertificate is returned when a block of a certifying engine
	// comes without a certificate, or with one that does not prove it
	// decided.
	ErrNoCertificate = errors.New("block not certified")
)
