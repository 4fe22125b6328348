package channel

import (
	"errors"
	"fmt"
	"math"

	"github.com/arbiter-chain/arbiter/offchain/chessrules"
	"github.com/ethereum/go-ethereum/common"
)

// CheckTransition reports whether next may follow prev in a game between
// white and black, given the address nextSigner recovered from next's
// signature (see RecoverState). It checks, in this order and returning the
// first failure:
//
//   - both states carry the same game id (ErrWrongGame);
//   - next.Ply is prev.Ply + 1 (ErrPlyGap);
//   - a prev at ply 0 is exactly StartState (ErrBadStart);
//   - next.PrevHash is prev.StructHash() (ErrPrevHash);
//   - nextSigner is white for an odd ply, black for an even one (ErrWrongSigner);
//   - both FENs and the move fit the size caps (ErrMalformed);
//   - prev.FEN parses (ErrBadFEN);
//   - the side to move in prev has a legal move (ErrGameOver);
//   - next.Move is a legal UCI move there (ErrIllegalMove);
//   - next.FEN parses (ErrBadFEN) and is, as a position, the result of the
//     move (ErrFENMismatch). FENs compare as positions, so castling order
//     and an en-passant target on which no capture is legal do not matter.
//
// Errors from the chess package stay wrapped too, so errors.Is also matches
// chessrules.ErrMalformedMove and the like. CheckTransition is pure and
// deterministic.
func CheckTransition(prev, next State, nextSigner, white, black common.Address) error {
	if next.GameID != prev.GameID {
		return fmt.Errorf("%w: have %s, want %s", ErrWrongGame, next.GameID, prev.GameID)
	}
	if prev.Ply == math.MaxUint32 || next.Ply != prev.Ply+1 {
		return fmt.Errorf("%w: have %d after %d", ErrPlyGap, next.Ply, prev.Ply)
	}
	if prev.Ply == 0 && prev != StartState(prev.GameID) {
		return ErrBadStart
	}
	if want := prev.StructHash(); next.PrevHash != want {
		return fmt.Errorf("%w: have %s, want %s", ErrPrevHash, next.PrevHash, want)
	}
	want := black
	if Signer(next.Ply) == chessrules.White {
		want = white
	}
	if nextSigner != want || want == (common.Address{}) {
		return fmt.Errorf("%w: ply %d is %s's, signed by %s", ErrWrongSigner, next.Ply, Signer(next.Ply), nextSigner)
	}
	if err := prev.checkSize(); err != nil {
		return err
	}
	if err := next.checkSize(); err != nil {
		return err
	}
	from, err := chessrules.ParseFEN(prev.FEN)
	if err != nil {
		return fmt.Errorf("%w: ply %d: %w", ErrBadFEN, prev.Ply, err)
	}
	after, err := chessrules.ApplyUCI(from, next.Move)
	switch {
	case errors.Is(err, chessrules.ErrGameOver):
		return fmt.Errorf("%w: %w", ErrGameOver, err)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrIllegalMove, err)
	}
	claimed, err := chessrules.ParseFEN(next.FEN)
	if err != nil {
		return fmt.Errorf("%w: ply %d: %w", ErrBadFEN, next.Ply, err)
	}
	if !claimed.Equal(after) {
		return fmt.Errorf("%w: have %q, want %q", ErrFENMismatch, claimed.FEN(), after.FEN())
	}
	return nil
}
