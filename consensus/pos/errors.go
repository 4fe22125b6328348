package pos

import (
	"errors"
	"fmt"

	"github.com/arbiter-chain/arbiter/consensus"
)

// Engine errors. Those about the header proof wrap consensus.ErrInvalidSeal
// or consensus.ErrUnauthorized so the chain can classify them.
var (
	// errNoKey is returned by Prepare and Seal on a verify-only engine.
	errNoKey = errors.New("pos: engine has no signing key")

	// errNoProposal is returned by Prepare when the driver did not announce
	// the round of the block being built (SetProposal).
	errNoProposal = errors.New("pos: no proposal round set for this block number")

	// errInvalidExtra is returned when Extra is not a well-formed pos extra.
	errInvalidExtra = fmt.Errorf("%w: malformed extra-data", consensus.ErrInvalidSeal)

	// errBadProposerSeal is returned when the proposer signature in Extra is
	// missing, non-canonical or not by Coinbase.
	errBadProposerSeal = fmt.Errorf("%w: bad proposer seal", consensus.ErrInvalidSeal)

	// errWrongProposer is returned when Coinbase is not the proposer of the
	// block's height and round.
	errWrongProposer = fmt.Errorf("%w: not the proposer of this height and round", consensus.ErrUnauthorized)

	// errSealFields is returned when MixDigest, Nonce or UncleHash are not
	// their fixed values.
	errSealFields = fmt.Errorf("%w: mix digest and nonce must be zero, uncles empty", consensus.ErrInvalidSeal)

	// errUnexpectedCommit is returned when block 1, whose parent is genesis,
	// carries a last commit.
	errUnexpectedCommit = fmt.Errorf("%w: block 1 must carry an empty last commit", consensus.ErrInvalidSeal)
)

// Commit errors, shared by the engine (last commit in a header) and the core
// (catch-up commits).
var (
	// errCommitSignature is returned for a malformed or non-canonical
	// signature in a commit.
	errCommitSignature = errors.New("pos: bad commit signature")

	// errDuplicateSigner is returned when a commit holds two precommits of
	// one validator.
	errDuplicateSigner = errors.New("pos: duplicate signer in commit")

	// errInsufficientPower is returned when a commit's signers do not hold
	// more than 2/3 of the voting power.
	errInsufficientPower = errors.New("pos: commit signers hold no more than 2/3 of voting power")

	// errCommitTooLarge is returned when a commit has more signatures than
	// the set has validators.
	errCommitTooLarge = errors.New("pos: commit has more signatures than validators")
)

// Gossip verdicts of CheckGossip for messages that are not wrong, only of
// no use to this node: a caller drops them without penalising the peer.
var (
	// ErrStaleMessage is returned for a message of a height already decided.
	ErrStaleMessage = errors.New("pos: message for a decided height")
	// ErrFutureMessage is returned for a message beyond the look-ahead.
	ErrFutureMessage = errors.New("pos: message beyond the next height")
)

// Message errors returned by Core.Step, one per reason a message is refused.
var (
	// errOversized is returned for a message above the configured size.
	errOversized = errors.New("pos: message too large")

	// errMalformed is returned for a message that does not decode strictly.
	errMalformed = errors.New("pos: malformed message")

	// errCompactFill is returned when transactions do not fill a compact
	// proposal's hashes.
	errCompactFill = errors.New("pos: transactions do not fill the compact proposal")
	// errListSigner is returned when a compact proposal's transaction list
	// is not signed by the proposal's signer.
	errListSigner = errors.New("pos: transaction list not signed by the proposer")
	// ErrCompactUnfilled is returned when a compact proposal reaches the
	// core, which judges only full proposals: the transport fills them.
	ErrCompactUnfilled = errors.New("pos: compact proposal not filled")
	// errUnknownType is returned for an unknown message type byte.
	errUnknownType = errors.New("pos: unknown message type")

	// errBadSignature is returned when a signature is malformed,
	// non-canonical or does not recover.
	errBadSignature = errors.New("pos: bad signature")

	// errNotValidator is returned when a signer is not a validator of the
	// message's height.
	errNotValidator = errors.New("pos: signer is not a validator")

	// errNotProposer is returned for a proposal not signed by the proposer
	// of its height and round.
	errNotProposer = errors.New("pos: proposal not from the round's proposer")

	// errStaleHeight is returned for a message of a height already decided.
	errStaleHeight = errors.New("pos: message for a past height")

	// errFutureHeight is returned for a message more than one height ahead.
	errFutureHeight = errors.New("pos: message too far in the future")

	// errFutureRound is returned for a message too many rounds ahead.
	errFutureRound = errors.New("pos: round too far ahead")

	// errBlockMismatch is returned when a proposal's or commit's block does
	// not have the message's height or does not extend the parent.
	errBlockMismatch = errors.New("pos: block does not match message height or parent")

	// errBufferFull is returned when a message for the next height is
	// dropped because the buffer for such messages is full.
	errBufferFull = errors.New("pos: next-height buffer full")

	// errDecided is returned for a message of a height this core has
	// decided and not yet left.
	errDecided = errors.New("pos: height already decided")

	// errDuplicate is returned for a copy of a message already counted (a
	// rebroadcast, or gossip delivering it twice): it changes nothing.
	errDuplicate = errors.New("pos: duplicate message")

	// errDoubleSign is returned (and the message not signed) when signing
	// would conflict with what this validator already signed.
	errDoubleSign = errors.New("pos: refusing to sign a conflicting message")
)

// Core usage errors: what a driver did out of turn.
var (
	// errNoChainID is returned by NewCore without a chain id.
	errNoChainID = errors.New("pos: core: no chain id")
	// errStartArgs is returned by StartHeight without a parent or set.
	errStartArgs = errors.New("pos: StartHeight needs a parent and a validator set")
	// errStartBehind is returned by StartHeight for a height not above
	// the current one.
	errStartBehind = errors.New("pos: StartHeight not above the current height")
	// errNotStarted is returned for an input before StartHeight.
	errNotStarted = errors.New("pos: core not started")
	// errNoProposalPending is returned by Propose when the core asked for
	// no block, or has left the round it asked in.
	errNoProposalPending = errors.New("pos: no proposal pending")
	// errNotRequested is returned by Validated for a block the core is not
	// waiting on.
	errNotRequested = errors.New("pos: validation not requested")
	// errInvalidBlock is reported (Ready.Refused) for a block validation
	// refused, and returned for a catch-up commit of such a block.
	errInvalidBlock = errors.New("pos: block is invalid")
)

// Driver errors.
var (
	// errNoHead is returned by NewDriver without a head block.
	errNoHead = errors.New("pos: driver: no head block")
	// errDriverParts is returned by NewDriver without a transport,
	// builder or committer.
	errDriverParts = errors.New("pos: driver: transport, builder and committer are required")
)

// Validator set errors.
var (
	errEmptySet           = errors.New("pos: empty validator set")
	errTooManyValidators  = fmt.Errorf("pos: more than %d validators", MaxValidators)
	errZeroPower          = errors.New("pos: validator with zero power")
	errDuplicateValidator = errors.New("pos: duplicate validator")
	errPowerOverflow      = fmt.Errorf("pos: total power above %d", MaxTotalPower)
	errNoValidatorSet     = errors.New("pos: no validator set for height")
)

// Evidence errors.
var (
	// errEvidenceMismatch is returned when two votes differ in type,
	// height or round, or vote for the same block.
	errEvidenceMismatch = errors.New("pos: votes do not conflict")

	// errEvidenceSigners is returned when two votes have different signers.
	errEvidenceSigners = errors.New("pos: votes have different signers")
)
