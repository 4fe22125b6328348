package chess_test

import (
	"testing"

	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// TestGameCost measures, from the receipts of mined transactions, the gas
// of a whole game played two ways:
//
//   - cooperative: open, join, conclude (both players sign the outcome);
//   - every move on chain: open, join, then each of white's moves as a
//     claim (timeout, or checkmate for a mating move) resting on black's
//     previous state, each of black's moves as an answer to that claim,
//     and finalize after the last claim's window.
//
// Run with -v to print the figures.
func TestGameCost(t *testing.T) {
	games := []struct {
		name   string
		moves  []string
		mate   bool // the last move mates
		result uint8
	}{
		{"scholar's mate, 7 plies, checkmate", scholarsMate, true, channel.ResultWhiteWins},
		{"castling game, 13 plies, won on time", castling, false, channel.ResultWhiteWins},
	}
	for _, g := range games {
		t.Run(g.name, func(t *testing.T) {
			coop := newFixture(t)
			base := coop.open().Receipt.GasUsed + coop.expect(black, "join", coop.stake, "", coop.id).Receipt.GasUsed
			d := domain()
			conclude := coop.expect(watcher, "conclude", nil, "", coop.id, g.result,
				coop.outcome(g.result, white, d), coop.outcome(g.result, black, d)).Receipt.GasUsed
			coop.check(channel.StatusEnded, g.result, true)

			f := newFixture(t)
			f.open()
			f.expect(black, "join", f.stake, "", f.id)
			s := f.line(g.moves...)
			var claims, answers uint64
			for i := 1; i < len(s); i++ {
				if i%2 == 1 {
					kind := channel.ClaimTimeout
					if i == len(s)-1 && g.mate {
						kind = channel.ClaimCheckmate
					}
					claims += f.claim(white, kind, s[i-1], s[i], "").Receipt.GasUsed
				} else {
					answers += f.answer(black, s[i], "").Receipt.GasUsed
				}
			}
			f.waitWindow()
			finalize := f.expect(watcher, "finalize", nil, "", f.id).Receipt.GasUsed
			f.check(channel.StatusEnded, g.result, true)

			plies := uint64(len(g.moves))
			nClaims, nAnswers := (plies+1)/2, plies/2
			cooperative := base + conclude
			onChain := base + claims + answers + finalize
			t.Logf("open+join %d, conclude %d: cooperative total %d gas", base, conclude, cooperative)
			t.Logf("%d claims %d (avg %d), %d answers %d (avg %d), finalize %d: every move on chain %d gas, %d per ply, %.1fx cooperative",
				nClaims, claims, claims/nClaims, nAnswers, answers, answers/max(nAnswers, 1), finalize, onChain,
				(claims+answers)/plies, float64(onChain)/float64(cooperative))
			if onChain <= cooperative {
				t.Fatalf("every move on chain %d gas, cooperative %d: want more", onChain, cooperative)
			}
		})
	}
}
