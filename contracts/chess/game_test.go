package chess_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// Games and positions of the tests, in UCI.
var (
	foolsMate    = []string{"f2f3", "e7e5", "g2g4", "d8h4"}
	scholarsMate = []string{"e2e4", "e7e5", "f1c4", "b8c6", "d1h5", "g8f6", "h5f7"}
	// Sam Loyd's ten-move stalemate: 10.Qe6 leaves black without a move.
	loydStalemate = []string{"e2e3", "a7a5", "d1h5", "a8a6", "h5a5", "h7h5", "h2h4", "a6h6", "a5c7", "f7f6",
		"c7d7", "e8f7", "d7b7", "d8d3", "b7b8", "d3h7", "b8c8", "f7g6", "c8e6"}
	// White castles king-side at ply 7, black queen-side at ply 12.
	castling = []string{"e2e4", "e7e5", "g1f3", "b8c6", "f1c4", "d7d6", "e1g1", "c8e6", "d2d3", "d8d7", "b1c3", "e8c8", "c1g5"}
	// White captures en passant at ply 5.
	enPassant = []string{"e2e4", "a7a6", "e4e5", "d7d5", "e5d6", "c7d6"}

	// Bishop takes the last knight: king and bishop against king.
	insufficientFEN = "8/8/4k3/8/8/2n5/8/B3K3 w - - 0 40"
	// A quiet rook move brings the halfmove clock to 100.
	fiftyFEN     = "8/8/4k3/8/8/8/R7/4K3 w - - 99 80"
	fortyNineFEN = "8/8/4k3/8/8/8/R7/4K3 w - - 98 80"
	promotionFEN = "4k3/1P6/8/8/8/8/8/4K3 w - - 0 60"
)

// TestGames plays real games through signed transactions and checks every
// ruling, event and balance.
func TestGames(t *testing.T) {
	tests := []struct {
		name           string
		run            func(f *fixture)
		status, result uint8
	}{
		{"fool's mate: black claims checkmate, finalized after the window", func(f *fixture) {
			s := f.line(foolsMate...)
			f.claim(black, channel.ClaimTimeout, s[3], s[4], "no legal move: claim checkmate or draw instead")
			f.claim(black, channel.ClaimDraw, s[3], s[4], "no draw by rule after ply 4")
			f.claim(white, channel.ClaimCheckmate, s[3], s[4], "checkmate and timeout claims rest on the claimant's own last state")
			r := f.claim(black, channel.ClaimCheckmate, s[3], s[4], "")
			g := f.info()
			if g.Status != channel.StatusClaimed || g.ClaimPly != 4 || g.Deadline != r.Receipt.BlockNumber.Uint64()+testTimeout {
				t.Fatalf("claimed game: have %+v", g)
			}
			f.answer(white, channel.State{GameID: f.id, Ply: 5, FEN: s[4].FEN, Move: "e1f2", PrevHash: s[4].StructHash()}, "only a timeout claim can be answered")
			f.expect(watcher, "finalize", nil, "claim window is still open", f.id)
			f.waitWindow()
			r = f.expect(watcher, "finalize", nil, "", f.id)
			if res, reason := ended(t, r); res != channel.ResultBlackWins || reason != "checkmate" {
				t.Fatalf("GameEnded: have %d %q, want %d checkmate", res, reason, channel.ResultBlackWins)
			}
		}, channel.StatusEnded, channel.ResultBlackWins},

		{"scholar's mate: false then true checkmate, no second payout", func(f *fixture) {
			s := f.line(scholarsMate...)
			f.claim(white, channel.ClaimCheckmate, s[4], s[5], "not checkmate after ply 5")
			f.claim(white, channel.ClaimCheckmate, s[6], s[7], "")
			f.claim(white, channel.ClaimCheckmate, s[6], s[7], "not allowed in this game status: game is claimed")
			f.waitWindow()
			f.expect(black, "finalize", nil, "", f.id)
			f.expect(watcher, "finalize", nil, "not allowed in this game status: game is ended", f.id)
			f.claim(white, channel.ClaimCheckmate, s[6], s[7], "not allowed in this game status: game is ended")
			d := domain()
			f.expect(watcher, "conclude", nil, "not allowed in this game status: game is ended", f.id, channel.ResultWhiteWins,
				f.outcome(channel.ResultWhiteWins, white, d), f.outcome(channel.ResultWhiteWins, black, d))
			f.expect(black, "resign", nil, "not allowed in this game status: game is ended", f.id)
		}, channel.StatusEnded, channel.ResultWhiteWins},

		{"stalemate: white claims the draw", func(f *fixture) {
			s := f.line(loydStalemate...)
			f.claim(white, channel.ClaimTimeout, s[18], s[19], "no legal move: claim checkmate or draw instead")
			f.claim(white, channel.ClaimCheckmate, s[18], s[19], "not checkmate after ply 19")
			f.claim(white, channel.ClaimDraw, s[18], s[19], "")
			f.waitWindow()
			r := f.expect(watcher, "finalize", nil, "", f.id)
			if res, reason := ended(t, r); res != channel.ResultDraw || reason != "draw by rule" {
				t.Fatalf("GameEnded: have %d %q", res, reason)
			}
		}, channel.StatusEnded, channel.ResultDraw},

		{"stalemate: the stalemated player claims the draw on the opponent's move", func(f *fixture) {
			s := f.line(loydStalemate...)
			f.claim(black, channel.ClaimCheckmate, s[18], s[19], "checkmate and timeout claims rest on the claimant's own last state")
			f.claim(black, channel.ClaimDraw, s[18], s[19], "")
			f.waitWindow()
			f.expect(black, "finalize", nil, "", f.id)
		}, channel.StatusEnded, channel.ResultDraw},

		{"insufficient material: bishop takes the last knight", func(f *fixture) {
			s := f.at(78, insufficientFEN, "a1c3")
			f.claim(white, channel.ClaimDraw, s[0], s[1], "")
			f.waitWindow()
			f.expect(white, "finalize", nil, "", f.id)
		}, channel.StatusEnded, channel.ResultDraw},

		{"fifty-move rule: claimable at 100 half-moves, not 99", func(f *fixture) {
			early := f.at(80, fortyNineFEN, "a2b2")
			f.claim(white, channel.ClaimDraw, early[0], early[1], "no draw by rule after ply 81")
			s := f.at(80, fiftyFEN, "a2b2")
			f.claim(white, channel.ClaimDraw, s[0], s[1], "")
			f.waitWindow()
			f.expect(black, "finalize", nil, "", f.id)
		}, channel.StatusEnded, channel.ResultDraw},

		{"promotion to queen: timeout claim answered, agreed draw", func(f *fixture) {
			s := f.at(60, promotionFEN, "b7b8q", "e8d7")
			f.claim(white, channel.ClaimTimeout, s[0], s[1], "")
			r := f.answer(black, s[2], "")
			ev := r.Receipt.Logs[0]
			if ev.Topics[0] != crypto.Keccak256Hash([]byte("ClaimAnswered(bytes32,uint32)")) || ev.Topics[1] != f.id {
				t.Fatalf("log: have topics %v, want ClaimAnswered", ev.Topics)
			}
			if g := f.info(); g.Status != channel.StatusActive || g.ClaimPly != 0 || g.Deadline != 0 {
				t.Fatalf("answered game: have %+v", g)
			}
			d := domain()
			f.expect(watcher, "conclude", nil, "", f.id, channel.ResultDraw, f.outcome(channel.ResultDraw, white, d), f.outcome(channel.ResultDraw, black, d))
		}, channel.StatusEnded, channel.ResultDraw},

		{"under-promotion to knight: unanswered timeout claim wins", func(f *fixture) {
			s := f.at(60, promotionFEN, "b7b8n", "e8e7")
			f.claim(white, channel.ClaimTimeout, s[0], s[1], "")
			f.waitWindow()
			f.answer(black, s[2], "claim window has closed")
			f.refute(black, s[2], "claim window has closed")
			r := f.expect(watcher, "finalize", nil, "", f.id)
			if res, reason := ended(t, r); res != channel.ResultWhiteWins || reason != "timeout" {
				t.Fatalf("GameEnded: have %d %q", res, reason)
			}
		}, channel.StatusEnded, channel.ResultWhiteWins},

		{"promotion with a FEN of another piece is cheating", func(f *fixture) {
			s := f.at(60, promotionFEN, "b7b8q")
			bad := s[1]
			bad.Move = "b7b8n" // the FEN still shows a queen
			f.proveCheat(black, s[0], s[1], "no cheating: the move is legal and its FEN follows")
			f.proveCheat(black, s[0], bad, "")
		}, channel.StatusEnded, channel.ResultBlackWins},

		{"castling on both sides through claims and answers", func(f *fixture) {
			s := f.line(castling...)
			f.claim(white, channel.ClaimTimeout, s[6], s[7], "") // e1g1
			f.answer(black, s[8], "")
			f.claim(black, channel.ClaimTimeout, s[11], s[12], "") // e8c8
			f.answer(white, s[13], "")
			f.expect(black, "resign", nil, "", f.id)
		}, channel.StatusEnded, channel.ResultWhiteWins},

		{"en passant: timeout claim answered, then black resigns", func(f *fixture) {
			s := f.line(enPassant...)
			f.claim(white, channel.ClaimTimeout, s[4], s[5], "")
			f.answer(black, s[6], "")
			r := f.expect(black, "resign", nil, "", f.id)
			if res, reason := ended(t, r); res != channel.ResultWhiteWins || reason != "resigned" {
				t.Fatalf("GameEnded: have %d %q", res, reason)
			}
		}, channel.StatusEnded, channel.ResultWhiteWins},

		{"en passant: a FEN keeping the captured pawn is cheating", func(f *fixture) {
			s := f.line(enPassant...)
			bad := s[5]
			bad.FEN = "rnbqkbnr/1pp1pppp/p2P4/3p4/8/8/PPPP1PPP/RNBQKBNR b KQkq - 0 3"
			f.claim(white, channel.ClaimTimeout, s[4], bad, "invalid transition: channel: FEN does not match move")
			r := f.proveCheat(watcher, s[4], bad, "")
			if res, reason := ended(t, r); res != channel.ResultBlackWins || reason != "cheating proven" {
				t.Fatalf("GameEnded: have %d %q", res, reason)
			}
		}, channel.StatusEnded, channel.ResultBlackWins},

		{"illegal move signed by black is cheating", func(f *fixture) {
			s := f.line("e2e4")
			bad := channel.State{GameID: f.id, Ply: 2, FEN: s[1].FEN, Move: "e7e4", PrevHash: s[1].StructHash()}
			f.proveCheat(white, f.line("e2e4", "e7e5")[1], f.line("e2e4", "e7e5")[2], "no cheating")
			other := bad
			other.PrevHash = common.Hash{1}
			f.proveCheat(white, s[1], other, "not a cheating proof: channel: prevHash does not match previous state")
			f.proveCheat(white, s[1], bad, "")
		}, channel.StatusEnded, channel.ResultWhiteWins},

		{"agreed result: wrong signatures refused", func(f *fixture) {
			d := domain()
			win := channel.ResultWhiteWins
			f.expect(watcher, "conclude", nil, "wrong signer: black's outcome", f.id, win, f.outcome(win, white, d), f.outcome(win, white, d))
			f.expect(watcher, "conclude", nil, "wrong signer: white's outcome", f.id, win, f.outcome(channel.ResultBlackWins, white, d), f.outcome(win, black, d))
			f.expect(watcher, "conclude", nil, "wrong signer: black's outcome", f.id, win, f.outcome(win, white, d),
				f.outcome(win, black, channel.DefaultDomain(big.NewInt(1))))
			f.expect(watcher, "conclude", nil, "result must be 1, 2 or 3", f.id, uint8(4), f.outcome(win, white, d), f.outcome(win, black, d))
			f.expect(watcher, "conclude", nil, "bad signature", f.id, win, f.outcome(win, white, d), []byte{1, 2, 3})
			r := f.expect(watcher, "conclude", nil, "", f.id, win, f.outcome(win, white, d), f.outcome(win, black, d))
			if res, reason := ended(t, r); res != win || reason != "agreed" {
				t.Fatalf("GameEnded: have %d %q", res, reason)
			}
		}, channel.StatusEnded, channel.ResultWhiteWins},

		{"resign while a claim is pending", func(f *fixture) {
			s := f.line("e2e4")
			f.claim(white, channel.ClaimTimeout, s[0], s[1], "")
			f.expect(watcher, "resign", nil, "caller is not a player", f.id)
			f.expect(black, "resign", big.NewInt(1), "method is not payable: resign", f.id)
			f.expect(black, "resign", nil, "", f.id)
		}, channel.StatusEnded, channel.ResultWhiteWins},

		{"stale timeout claim refuted by the claimant's later state", func(f *fixture) {
			s := f.line("e2e4", "e7e5", "g1f3", "b8c6", "f1c4")
			f.claim(white, channel.ClaimTimeout, s[2], s[3], "")
			f.refute(black, s[4], "wrong signer: ply 4 signed by "+addr(black).Hex())
			f.refute(black, s[1], "state does not refute the claim: claim rests on ply 3")
			f.refute(black, s[3], "state does not refute the claim: claim rests on ply 3")
			r := f.refute(black, s[5], "")
			if res, reason := ended(t, r); res != channel.ResultBlackWins || reason != "stale claim refuted" {
				t.Fatalf("GameEnded: have %d %q", res, reason)
			}
		}, channel.StatusEnded, channel.ResultBlackWins},

		{"double-signed ply refutes the claim", func(f *fixture) {
			s := f.line("e2e4", "e7e5", "g1f3")
			alt := f.from(s[2], "b1c3")[1]
			f.claim(white, channel.ClaimTimeout, s[2], s[3], "")
			f.refute(watcher, alt, "")
		}, channel.StatusEnded, channel.ResultBlackWins},

		{"stale draw claim of the stalemated player refuted", func(f *fixture) {
			// Black claims the draw resting on its ply 18 but had signed another ply 18.
			s := f.line(loydStalemate...)
			alt := f.from(s[17], "e7e6")[1]
			f.claim(black, channel.ClaimDraw, s[18], s[19], "")
			f.refute(white, s[19], "wrong signer")
			f.refute(white, alt, "")
		}, channel.StatusEnded, channel.ResultWhiteWins},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newGame(t)
			tt.run(f)
			f.check(tt.status, tt.result, true)
		})
	}
}
