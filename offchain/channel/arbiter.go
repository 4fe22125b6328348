package channel

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/accounts/abi"

	"github.com/arbiter-chain/arbiter/offchain/chessrules"
)

// ArbiterABIJSON is the ABI of the arbiter contract at ArbiterContract. It
// is the only copy in the code: the contract serves it, the bridge and the
// watcher encode and decode calls and events with it, and
// docs/abi/chess.json is checked against it by a test.
//
//go:embed arbiter.abi.json
var ArbiterABIJSON []byte

// arbiterABI parses ArbiterABIJSON on first use, keeping cold starts cheap.
var arbiterABI = sync.OnceValues(func() (abi.ABI, error) {
	a, err := abi.JSON(bytes.NewReader(ArbiterABIJSON))
	if err != nil {
		return abi.ABI{}, fmt.Errorf("channel: arbiter ABI: %w", err)
	}
	return a, nil
})

// ArbiterABI returns the parsed ArbiterABIJSON. Callers must not modify it.
func ArbiterABI() (abi.ABI, error) { return arbiterABI() }

// Names of the arbiter's events, as in ArbiterABIJSON.
const (
	EventGameOpened    = "GameOpened"    // (gameId, white, black, stake, moveTimeout)
	EventGameJoined    = "GameJoined"    // (gameId)
	EventGameClaimed   = "GameClaimed"   // (gameId, claimant, kind, ply, deadline)
	EventClaimAnswered = "ClaimAnswered" // (gameId, ply)
	EventGameEnded     = "GameEnded"     // (gameId, result, reason)
)

// ABIState is a State as the arbiter's ABI tuple
// State(bytes32 gameId, uint32 ply, string fen, string move, bytes32 prevHash)
// is packed and unpacked by go-ethereum's abi package, which matches
// fields to the tuple's names in Go case.
type ABIState struct {
	GameId   [32]byte //nolint:revive // must match the ABI name gameId
	Ply      uint32
	Fen      string
	Move     string
	PrevHash [32]byte
}

// NewABIState returns s as an ABI tuple.
func NewABIState(s State) ABIState {
	return ABIState{GameId: s.GameID, Ply: s.Ply, Fen: s.FEN, Move: s.Move, PrevHash: s.PrevHash}
}

// State returns the tuple as a State.
func (t ABIState) State() State {
	return State{GameID: t.GameId, Ply: t.Ply, FEN: t.Fen, Move: t.Move, PrevHash: t.PrevHash}
}

// ClaimArgs are the arguments of the arbiter's claim(gameId, kind, base,
// baseSig, last, lastSig), named as go-ethereum's abi package matches
// them.
type ClaimArgs struct {
	GameId  [32]byte //nolint:revive // must match the ABI name gameId
	Kind    uint8
	Base    ABIState
	BaseSig []byte
	Last    ABIState
	LastSig []byte
}

// Game status codes of the arbiter, as its game() view returns them. A
// game moves Open -> Active <-> Claimed -> Ended, or Open -> Cancelled.
const (
	StatusNone      uint8 = 0 // the arbiter knows no such game
	StatusOpen      uint8 = 1 // opened by white, waiting for black
	StatusActive    uint8 = 2 // both stakes escrowed, play is off-chain
	StatusClaimed   uint8 = 3 // a claim waits out its window
	StatusEnded     uint8 = 4 // paid out; terminal
	StatusCancelled uint8 = 5 // white withdrew before black joined; terminal
)

// Claim kinds of the arbiter's claim(gameId, kind, ...).
const (
	ClaimCheckmate uint8 = 1 // the claimant's last move mates
	ClaimDraw      uint8 = 2 // stalemate, insufficient material or fifty-move rule
	ClaimTimeout   uint8 = 3 // the opponent does not answer the claimant's last move
)

// ValidClaimKind reports whether kind is one of the Claim* kinds.
func ValidClaimKind(kind uint8) bool {
	return kind >= ClaimCheckmate && kind <= ClaimTimeout
}

// Refusals of JudgeClaim. Their text is the arbiter's revert reason, so it
// carries no package prefix.
var (
	// ErrNotCheckmate refuses a checkmate claim on a position where the
	// side to move is not mated.
	ErrNotCheckmate = errors.New("not checkmate")

	// ErrNoDraw refuses a draw claim on a position that is neither
	// stalemate, nor insufficient material, nor at a halfmove clock of 100.
	ErrNoDraw = errors.New("no draw by rule")

	// ErrNoLegalMove refuses a timeout claim on a position where the side
	// to move has no legal move: that is mate or stalemate, to be claimed
	// as such.
	ErrNoLegalMove = errors.New("no legal move: claim checkmate or draw instead")
)

// JudgeClaim reports whether a claim of kind holds on a position whose
// evaluation is res (chessrules.Status of the claim's last state, with the
// claimant's opponent to move):
//
//   - ClaimCheckmate holds if the side to move is checkmated;
//   - ClaimDraw holds on stalemate, insufficient material or a halfmove
//     clock of 100 or more;
//   - ClaimTimeout holds if the side to move has a legal move.
//
// It returns nil, ErrNotCheckmate, ErrNoDraw or ErrNoLegalMove, unwrapped,
// or ErrMalformed for an unknown kind. The arbiter and the bridge both
// judge claims with it, so the bridge never builds a claim the arbiter
// would refuse for its position.
func JudgeClaim(kind uint8, res chessrules.Result) error {
	switch kind {
	case ClaimCheckmate:
		if !res.IsCheckmate() {
			return ErrNotCheckmate
		}
	case ClaimDraw:
		if !res.IsStalemate() && !res.IsInsufficientMaterial() && !res.IsFiftyMove() {
			return ErrNoDraw
		}
	case ClaimTimeout:
		if !res.HasLegalMove() {
			return ErrNoLegalMove
		}
	default:
		return fmt.Errorf("%w: claim kind %d", ErrMalformed, kind)
	}
	return nil
}
