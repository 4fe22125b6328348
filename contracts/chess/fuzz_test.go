package chess_test

import (
	"math/big"
	"testing"

	"github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// FuzzChessCalls executes fuzzed call data in the chess arbiter (see
// chaintest.FuzzCalls for the invariants) on a chain where a game between
// white and black is active; callers are the players, a bystander and a
// member. Seeds are real calls of every method on that game, with states
// and outcomes signed by the players.
func FuzzChessCalls(f *testing.F) {
	e := chaintest.New(f, chaintest.Config{Members: []string{"A", "B", "C"}, Allowed: []string{white, black, watcher}})
	fx := &fixture{t: f, e: e, stake: chaintest.Ether(3), fees: map[string]*big.Int{}, init: chaintest.Ether(1000)}
	fx.open()
	fx.expect(black, "join", fx.stake, "", fx.id)

	pack := func(method string, args ...any) []byte { return chaintest.Pack(f, chaintest.ChessABI, method, args...) }
	id := [32]byte(fx.id)
	s := fx.line("e2e4", "e7e5", "f1c4", "b8c6", "d1h5", "g8f6", "h5f7")
	sig := func(i int) []byte { return fx.sign(s[i]) }
	bad := s[4]
	bad.Move = "a1a8"
	chaintest.FuzzCalls(f, e, chess.New(), []string{white, black, watcher, "A"},
		pack("claim", id, uint8(1), tuple(s[5]), sig(5), tuple(s[6]), sig(6)),
		pack("claim", id, uint8(3), tuple(s[4]), sig(4), tuple(s[5]), sig(5)),
		pack("claim", id, uint8(2), tuple(s[0]), sig(0), tuple(s[1]), sig(1)),
		pack("conclude", id, channel.ResultWhiteWins, fx.outcome(channel.ResultWhiteWins, white, domain()), fx.outcome(channel.ResultWhiteWins, black, domain())),
		pack("answer", id, tuple(s[3]), sig(3)),
		pack("refute", id, tuple(s[6]), sig(6)),
		pack("proveCheat", id, tuple(s[3]), sig(3), tuple(bad), fx.sign(bad)),
		pack("resign", id),
		pack("cancel", id),
		pack("finalize", id),
		pack("game", id),
		pack("open", addr(black), uint64(5)),
		pack("join", id),
	)
}
