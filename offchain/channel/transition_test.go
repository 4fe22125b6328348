package channel

import (
	"errors"
	"math"
	"math/big"
	"testing"

	"github.com/arbiter-chain/arbiter/offchain/chessrules"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

func TestCheckTransition(t *testing.T) {
	f := newFixture(t)
	game := line(t, f.game, "e2e4", "e7e5", "g1f3")
	start, afterE4, afterE5 := game[0], game[1], game[2]
	otherChain := DefaultDomain(big.NewInt(1))
	otherContract := Domain{ChainID: f.d.ChainID, Contract: common.HexToAddress("0x0000000000000000000000000000000000001004")}
	otherGame := crypto.Keccak256Hash([]byte("game 2"))

	// edit returns a copy of s changed by fn.
	edit := func(s State, fn func(*State)) State {
		fn(&s)
		return s
	}
	// Fool's mate, then a move by white.
	mate := line(t, f.game, "f2f3", "e7e5", "g2g4", "d8h4")
	afterMate := State{GameID: f.game, Ply: 5, FEN: chessrules.StartFEN, Move: "e2e4", PrevHash: mate[4].StructHash()}
	// An en-passant line: 1.e4 a6 2.e5 d5, white may capture on d6.
	ep := line(t, f.game, "e2e4", "a7a6", "e4e5", "d7d5")
	epFEN := "rnbqkbnr/1pp1pppp/p7/3pP3/8/8/PPPP1PPP/RNBQKBNR w KQkq d6 0 3"
	if ep[4].FEN != epFEN {
		t.Fatalf("en-passant FEN: have %q, want %q", ep[4].FEN, epFEN)
	}

	tests := []struct {
		name   string
		signD  Domain // domain the state was signed in, if not f.d
		prev   State
		next   State
		signer func(ply uint32) uint32 // picks the signing ply parity
		signAs func(State) State       // what was actually signed, if not next
		want   error
	}{
		{name: "white opens", prev: start, next: afterE4},
		{name: "black replies", prev: afterE4, next: afterE5},
		{name: "white again", prev: afterE5, next: game[3]},
		{name: "en passant target listed though unusable",
			prev: start, next: edit(afterE4, func(s *State) { s.FEN = "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq e3 0 1" })},
		{name: "usable en passant target omitted", prev: ep[3],
			next: edit(ep[4], func(s *State) { s.FEN = "rnbqkbnr/1pp1pppp/p7/3pP3/8/8/PPPP1PPP/RNBQKBNR w KQkq - 0 3" }),
			want: ErrFENMismatch},
		{name: "en passant capture", prev: ep[4], next: step(t, ep[4], "e5d6")},
		{name: "castling order differs", prev: start,
			next: edit(afterE4, func(s *State) { s.FEN = "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b kqKQ - 0 1" })},
		{name: "wrong signer", prev: start, next: afterE4, signer: func(p uint32) uint32 { return p + 1 }, want: ErrWrongSigner},
		{name: "black signs own move with white's parity", prev: afterE4, next: afterE5, signer: func(p uint32) uint32 { return p + 1 }, want: ErrWrongSigner},
		{name: "signed for another game", prev: start, next: afterE4,
			signAs: func(s State) State { return edit(s, func(s *State) { s.GameID = otherGame }) }, want: ErrWrongSigner},
		{name: "signed for another chain", prev: start, next: afterE4, signD: otherChain, want: ErrWrongSigner},
		{name: "signed for another contract", prev: start, next: afterE4, signD: otherContract, want: ErrWrongSigner},
		{name: "replayed into another game", prev: StartState(otherGame), next: afterE4, want: ErrWrongGame},
		{name: "game id changed mid-game", prev: afterE4,
			next: edit(afterE5, func(s *State) { s.GameID = otherGame }), want: ErrWrongGame},
		{name: "ply gap", prev: start, next: edit(afterE4, func(s *State) { s.Ply = 2 }), want: ErrPlyGap},
		{name: "ply repeated", prev: afterE4, next: edit(afterE5, func(s *State) { s.Ply = 1 }), want: ErrPlyGap},
		{name: "ply wraps", prev: edit(afterE4, func(s *State) { s.Ply = math.MaxUint32 }),
			next: edit(afterE5, func(s *State) { s.Ply = 0 }), want: ErrPlyGap},
		{name: "prevHash mismatch", prev: afterE4,
			next: edit(afterE5, func(s *State) { s.PrevHash = start.StructHash() }), want: ErrPrevHash},
		{name: "prevHash of full digest", prev: start,
			next: edit(afterE4, func(s *State) { s.PrevHash, _ = f.d.Digest(start.StructHash()) }), want: ErrPrevHash},
		{name: "ply 0 not the start position",
			prev: edit(start, func(s *State) { s.FEN = "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w kqKQ - 0 1" }),
			next: edit(afterE4, func(s *State) {
				s.PrevHash = edit(start, func(s *State) { s.FEN = "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w kqKQ - 0 1" }).StructHash()
			}),
			want: ErrBadStart},
		{name: "illegal move", prev: start, next: edit(afterE4, func(s *State) { s.Move = "e2e5" }), want: ErrIllegalMove},
		{name: "black piece moved on white's turn", prev: start, next: edit(afterE4, func(s *State) { s.Move = "e7e5" }), want: ErrIllegalMove},
		{name: "malformed move", prev: start, next: edit(afterE4, func(s *State) { s.Move = "E2E4" }), want: chessrules.ErrMalformedMove},
		{name: "empty move", prev: start, next: edit(afterE4, func(s *State) { s.Move = "" }), want: ErrIllegalMove},
		{name: "oversized move", prev: start, next: edit(afterE4, func(s *State) { s.Move = "e2e4qq" }),
			signAs: func(State) State { return afterE4 }, want: ErrMalformed},
		{name: "move after checkmate", prev: mate[4], next: afterMate, want: ErrGameOver},
		{name: "FEN of another move", prev: start,
			next: edit(afterE4, func(s *State) { s.FEN = "rnbqkbnr/pppppppp/8/8/3P4/8/PPP1PPPP/RNBQKBNR b KQkq - 0 1" }), want: ErrFENMismatch},
		{name: "FEN with wrong halfmove clock", prev: start,
			next: edit(afterE4, func(s *State) { s.FEN = "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 1 1" }), want: ErrFENMismatch},
		{name: "FEN with wrong side to move", prev: start,
			next: edit(afterE4, func(s *State) { s.FEN = "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR w KQkq - 0 1" }), want: ErrFENMismatch},
		{name: "unparsable FEN", prev: start, next: edit(afterE4, func(s *State) { s.FEN = "not a fen" }), want: ErrBadFEN},
		{name: "unparsable previous FEN", prev: edit(afterE4, func(s *State) { s.FEN = "junk" }),
			next: edit(afterE5, func(s *State) { s.PrevHash = edit(afterE4, func(s *State) { s.FEN = "junk" }).StructHash() }),
			want: ErrBadFEN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signD := f.d
			if tt.signD.ChainID != nil {
				signD = tt.signD
			}
			ply := tt.next.Ply
			if tt.signer != nil {
				ply = tt.signer(ply)
			}
			signed := tt.next
			if tt.signAs != nil {
				signed = tt.signAs(tt.next)
			}
			sig := f.sign(t, signD, signed, f.keyFor(ply))
			if err := f.verify(f.d, tt.prev, tt.next, sig); !errors.Is(err, tt.want) {
				t.Errorf("have %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCheckTransitionPlayers(t *testing.T) {
	f := newFixture(t)
	game := line(t, f.game, "e2e4")
	tests := []struct {
		name         string
		signer       common.Address
		white, black common.Address
		want         error
	}{
		{"right player", f.wa, f.wa, f.ba, nil},
		{"players swapped", f.wa, f.ba, f.wa, ErrWrongSigner},
		{"zero signer and zero white", common.Address{}, common.Address{}, f.ba, ErrWrongSigner},
		{"black address signs white's ply", f.ba, f.wa, f.ba, ErrWrongSigner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckTransition(game[0], game[1], tt.signer, tt.white, tt.black); !errors.Is(err, tt.want) {
				t.Errorf("have %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFullGameChain(t *testing.T) {
	f := newFixture(t)
	states := line(t, f.game, "e2e4", "e7e5", "f1c4", "b8c6", "d1h5", "g8f6", "h5f7")
	for i := 1; i < len(states); i++ {
		t.Run(states[i].Move, func(t *testing.T) {
			sig := f.sign(t, f.d, states[i], f.keyFor(states[i].Ply))
			if err := f.verify(f.d, states[i-1], states[i], sig); err != nil {
				t.Fatalf("have %v, want nil", err)
			}
		})
	}
	final, err := chessrules.ParseFEN(states[len(states)-1].FEN)
	if err != nil {
		t.Fatalf("ParseFEN: have %v, want nil", err)
	}
	res, err := chessrules.Status(final)
	if err != nil || res.Winner() != chessrules.White {
		t.Errorf("winner: have %v (err %v), want %v", res.Winner(), err, chessrules.White)
	}
}
