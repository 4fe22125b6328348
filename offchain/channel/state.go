package channel

import (
	"fmt"

	"github.com/arbiter-chain/arbiter/offchain/chessrules"
	"github.com/ethereum/go-ethereum/common"
)

// Size caps on the string fields of a State, in bytes.
const (
	MaxFENLength  = chessrules.MaxFENLength
	MaxMoveLength = 5
)

// State is one step of a game. The state at ply n >= 1 records move n in
// UCI notation, the FEN after it, and the struct hash of the state at ply
// n-1. It is a value; copies are independent.
type State struct {
	GameID   common.Hash
	Ply      uint32
	FEN      string
	Move     string
	PrevHash common.Hash
}

// StartState returns the unsigned state at ply 0 of a game: the standard
// start position, no move and a zero PrevHash.
func StartState(gameID common.Hash) State {
	return State{GameID: gameID, Ply: 0, FEN: chessrules.StartFEN}
}

// checkSize rejects states whose fields exceed the size caps.
func (s State) checkSize() error {
	if len(s.FEN) > MaxFENLength {
		return fmt.Errorf("%w: fen is %d bytes, at most %d allowed", ErrMalformed, len(s.FEN), MaxFENLength)
	}
	if len(s.Move) > MaxMoveLength {
		return fmt.Errorf("%w: move is %d bytes, at most %d allowed", ErrMalformed, len(s.Move), MaxMoveLength)
	}
	return nil
}

// Signer returns the side that signs the state at ply: White for odd plies,
// Black for even plies from 2 on, and NoColor for the unsigned ply 0.
func Signer(ply uint32) chessrules.Color {
	switch {
	case ply == 0:
		return chessrules.NoColor
	case ply%2 == 1:
		return chessrules.White
	default:
		return chessrules.Black
	}
}

// Result codes of an Outcome and of an ended game in the arbiter's game()
// view, where ResultNone stands for a game that has not ended.
const (
	ResultNone      uint8 = 0
	ResultWhiteWins uint8 = 1
	ResultBlackWins uint8 = 2
	ResultDraw      uint8 = 3
)

// Outcome is the agreed result of a game, signed by both players.
type Outcome struct {
	GameID common.Hash
	Result uint8
}

// check rejects unknown result codes.
func (o Outcome) check() error {
	switch o.Result {
	case ResultWhiteWins, ResultBlackWins, ResultDraw:
		return nil
	default:
		return fmt.Errorf("%w: result code %d", ErrMalformed, o.Result)
	}
}
