// Package chessrules implements the rules of chess needed to referee a game one
// move at a time: parsing and printing FEN positions, applying a single move
// given in UCI notation, comparing two FENs as positions, and reporting
// checkmate, stalemate and draws by rule.
//
// The package is used both by the on-chain arbiter contract and by the
// off-chain bridge, so everything it computes is deterministic and bounded:
// it works from exactly one position and one move, never from a game
// history, and it never reads the clock or depends on map order. Legal move
// generation is delegated to github.com/notnil/chess behind this small API;
// FEN parsing, validation and canonical output are done here.
//
// A Position is an immutable value. The zero Position is not a valid
// position; obtain one from ParseFEN or ApplyUCI.
//
//	pos, err := chessrules.ParseFEN(chessrules.StartFEN)
//	if err != nil { ... }
//	next, err := chessrules.ApplyUCI(pos, "e2e4")
//	switch {
//	case errors.Is(err, chessrules.ErrIllegalMove): ...
//	case errors.Is(err, chessrules.ErrGameOver): ...
//	}
//	res, err := chessrules.Status(next)
//	if res.IsCheckmate() { winner := res.Winner() ... }
//	same, err := chessrules.SamePosition(next.FEN(), clientFEN)
package chessrules
