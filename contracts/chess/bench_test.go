package chess_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts"
	"github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/contracts/native"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
	"github.com/arbiter-chain/arbiter/node/rules"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
)

// harness runs the arbiter the way the chain does (nonce bump, value
// transfer, Run, revert on error) on a bare in-memory StateDB, so that
// benchmarks time the contract and not block building.
type harness struct {
	tb  testing.TB
	reg *contracts.Registry
	st  *state.StateDB
	num uint64
	f   *fixture // builds and signs states of the game
}

func newHarness(tb testing.TB) *harness {
	tb.Helper()
	reg, err := contracts.NewByName(big.NewInt(chaintest.ChainID), "chess")
	if err != nil {
		tb.Fatalf("registry: %v", err)
	}
	st, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	if err != nil {
		tb.Fatalf("state: %v", err)
	}
	for _, n := range []string{white, black, watcher} {
		st.AddBalance(addr(n), uint256.MustFromBig(chaintest.Ether(1000)), tracing.BalanceIncreaseGenesisBalance)
	}
	return &harness{tb: tb, reg: reg, st: st, num: 1, f: &fixture{t: tb, stake: chaintest.Ether(3)}}
}

// exec runs one call in block h.num and moves to the next block.
func (h *harness) exec(from string, value *big.Int, data []byte) (uint64, error) {
	a := addr(from)
	snap := h.st.Snapshot()
	h.st.SetNonce(a, h.st.GetNonce(a)+1, tracing.NonceChangeEoACall)
	v := new(uint256.Int)
	if value != nil {
		v = uint256.MustFromBig(value)
	}
	h.st.SubBalance(a, v, tracing.BalanceChangeTransfer)
	h.st.AddBalance(chess.Address, v, tracing.BalanceChangeTransfer)
	_, used, err := h.reg.Run(h.st, chess.Address, native.Call{Number: h.num, Time: h.num, Caller: a, Value: v, Input: data, Gas: 10_000_000})
	if err != nil {
		h.st.RevertToSnapshot(snap)
	}
	h.num++
	return used, err
}

func (h *harness) must(from, method string, value *big.Int, args ...any) {
	h.tb.Helper()
	if _, err := h.exec(from, value, chaintest.Pack(h.tb, chaintest.ChessABI, method, args...)); err != nil {
		h.tb.Fatalf("%s: %v", method, err)
	}
}

// openJoin opens and joins a game with a window of 10 blocks.
func (h *harness) openJoin() {
	h.tb.Helper()
	h.open()
	h.must(black, "join", h.f.stake, h.f.id)
}

func (h *harness) open() {
	h.tb.Helper()
	h.f.id = chess.GameID(addr(white), h.st.GetNonce(addr(white)))
	h.must(white, "open", h.f.stake, addr(black), uint64(10))
}

// call is one benchmarked transaction: who sends what.
type call struct {
	from   string
	value  *big.Int
	method string
	args   []any
}

func (h *harness) claimArgs(kind uint8, base, last channel.State) []any {
	return []any{h.f.id, kind, tuple(base), h.f.baseSig(base), tuple(last), h.f.sign(last)}
}

// benchCases are the arbiter's methods on the positions of the tests; each
// setup brings a fresh game to the point of the call.
func benchCases() []struct {
	name  string
	setup func(h *harness) call
} {
	type c = struct {
		name  string
		setup func(h *harness) call
	}
	claimOn := func(name string, claimant string, kind uint8, line func(f *fixture) []channel.State, b, l int) c {
		return c{"claim/" + name, func(h *harness) call {
			h.openJoin()
			s := line(h.f)
			return call{claimant, nil, "claim", h.claimArgs(kind, s[b], s[l])}
		}}
	}
	answerOn := func(name string, claimant, answerer string, line func(f *fixture) []channel.State, b, l int) c {
		return c{"answer/" + name, func(h *harness) call {
			h.openJoin()
			s := line(h.f)
			h.must(claimant, "claim", nil, h.claimArgs(channel.ClaimTimeout, s[b], s[l])...)
			return call{answerer, nil, "answer", []any{h.f.id, tuple(s[l+1]), h.f.sign(s[l+1])}}
		}}
	}
	moves := func(m ...string) func(f *fixture) []channel.State {
		return func(f *fixture) []channel.State { return f.line(m...) }
	}
	at := func(ply uint32, fen string, m ...string) func(f *fixture) []channel.State {
		return func(f *fixture) []channel.State { return f.at(ply, fen, m...) }
	}
	return []c{
		{"open", func(h *harness) call { return call{white, h.f.stake, "open", []any{addr(black), uint64(10)}} }},
		{"join", func(h *harness) call { h.open(); return call{black, h.f.stake, "join", []any{h.f.id}} }},
		{"cancel", func(h *harness) call { h.open(); return call{white, nil, "cancel", []any{h.f.id}} }},
		{"resign", func(h *harness) call { h.openJoin(); return call{black, nil, "resign", []any{h.f.id}} }},
		{"conclude", func(h *harness) call {
			h.openJoin()
			w := channel.ResultWhiteWins
			return call{watcher, nil, "conclude", []any{h.f.id, w, h.f.outcome(w, white, domain()), h.f.outcome(w, black, domain())}}
		}},
		claimOn("timeout-start", white, channel.ClaimTimeout, moves("e2e4"), 0, 1),
		claimOn("checkmate-fools", black, channel.ClaimCheckmate, moves(foolsMate...), 3, 4),
		claimOn("checkmate-scholars", white, channel.ClaimCheckmate, moves(scholarsMate...), 6, 7),
		claimOn("draw-stalemate", white, channel.ClaimDraw, moves(loydStalemate...), 18, 19),
		claimOn("draw-stalemated-claimant", black, channel.ClaimDraw, moves(loydStalemate...), 18, 19),
		claimOn("draw-insufficient", white, channel.ClaimDraw, at(78, insufficientFEN, "a1c3"), 0, 1),
		claimOn("draw-fifty", white, channel.ClaimDraw, at(80, fiftyFEN, "a2b2"), 0, 1),
		claimOn("timeout-promotion", white, channel.ClaimTimeout, at(60, promotionFEN, "b7b8q"), 0, 1),
		claimOn("timeout-castle-short", white, channel.ClaimTimeout, moves(castling...), 6, 7),
		claimOn("timeout-castle-long", black, channel.ClaimTimeout, moves(castling...), 11, 12),
		claimOn("timeout-en-passant", white, channel.ClaimTimeout, moves(enPassant...), 4, 5),
		answerOn("start", white, black, moves("e2e4", "e7e5"), 0, 1),
		answerOn("promotion", white, black, at(60, promotionFEN, "b7b8q", "e8d7"), 0, 1),
		answerOn("castle-short", white, black, moves(castling...), 6, 7),
		answerOn("castle-long", black, white, moves(castling...), 11, 12),
		answerOn("en-passant", white, black, moves(enPassant...), 4, 5),
		{"refute/later-state", func(h *harness) call {
			h.openJoin()
			s := h.f.line("e2e4", "e7e5", "g1f3", "b8c6", "f1c4")
			h.must(white, "claim", nil, h.claimArgs(channel.ClaimTimeout, s[2], s[3])...)
			return call{black, nil, "refute", []any{h.f.id, tuple(s[5]), h.f.sign(s[5])}}
		}},
		{"refute/double-signed", func(h *harness) call {
			h.openJoin()
			s := h.f.line("e2e4", "e7e5", "g1f3")
			alt := h.f.from(s[2], "b1c3")[1]
			h.must(white, "claim", nil, h.claimArgs(channel.ClaimTimeout, s[2], s[3])...)
			return call{black, nil, "refute", []any{h.f.id, tuple(alt), h.f.sign(alt)}}
		}},
		{"proveCheat/illegal-move", func(h *harness) call {
			h.openJoin()
			s := h.f.line("e2e4")
			bad := channel.State{GameID: h.f.id, Ply: 2, FEN: s[1].FEN, Move: "e7e4", PrevHash: s[1].StructHash()}
			return call{white, nil, "proveCheat", []any{h.f.id, tuple(s[1]), h.f.sign(s[1]), tuple(bad), h.f.sign(bad)}}
		}},
		{"proveCheat/fen-mismatch-en-passant", func(h *harness) call {
			h.openJoin()
			s := h.f.line(enPassant...)
			bad := s[5]
			bad.FEN = "rnbqkbnr/1pp1pppp/p2P4/3p4/8/8/PPPP1PPP/RNBQKBNR b KQkq - 0 3"
			return call{black, nil, "proveCheat", []any{h.f.id, tuple(s[4]), h.f.sign(s[4]), tuple(bad), h.f.sign(bad)}}
		}},
		{"proveCheat/wrong-promotion", func(h *harness) call {
			h.openJoin()
			s := h.f.at(60, promotionFEN, "b7b8q")
			bad := s[1]
			bad.Move = "b7b8n"
			return call{black, nil, "proveCheat", []any{h.f.id, tuple(s[0]), h.f.sign(s[0]), tuple(bad), h.f.sign(bad)}}
		}},
		{"finalize/checkmate", func(h *harness) call {
			h.openJoin()
			s := h.f.line(scholarsMate...)
			h.must(white, "claim", nil, h.claimArgs(channel.ClaimCheckmate, s[6], s[7])...)
			h.num += 20
			return call{watcher, nil, "finalize", []any{h.f.id}}
		}},
		{"finalize/draw", func(h *harness) call {
			h.openJoin()
			s := h.f.line(loydStalemate...)
			h.must(white, "claim", nil, h.claimArgs(channel.ClaimDraw, s[18], s[19])...)
			h.num += 20
			return call{watcher, nil, "finalize", []any{h.f.id}}
		}},
		{"game", func(h *harness) call { h.openJoin(); return call{watcher, nil, "game", []any{h.f.id}} }},
	}
}

// BenchmarkMethods times every arbiter method on the test positions and
// reports its gas: "gas" is what the contract charges, "txgas" adds the
// transaction's intrinsic and calldata gas (what the receipt shows). Each
// iteration also reverts the call's state changes.
func BenchmarkMethods(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			h := newHarness(b)
			c := bc.setup(h)
			data := chaintest.Pack(b, chaintest.ChessABI, c.method, c.args...)
			to := chess.Address
			intrinsic := rules.IntrinsicGas(types.NewTx(&types.LegacyTx{To: &to, Data: data}))
			num := h.num
			var gas uint64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				snap := h.st.Snapshot()
				h.num = num
				used, err := h.exec(c.from, c.value, data)
				if err != nil {
					b.Fatalf("%s: %v", c.method, err)
				}
				gas = used
				h.st.RevertToSnapshot(snap)
			}
			b.ReportMetric(float64(gas), "gas")
			b.ReportMetric(float64(gas+intrinsic), "txgas")
		})
	}
}

// BenchmarkChessWork times the CPU-bound steps the gas schedule prices:
// one move replay (channel.CheckTransition), one position evaluation
// (chess.Status), one signature recovery and one struct hash, over the
// test positions. The "gas" metric is the time at 66 gas per microsecond.
func BenchmarkChessWork(b *testing.B) {
	f := &fixture{t: b, stake: chaintest.Ether(3)}
	f.id = chess.GameID(addr(white), 0)
	type step struct {
		name       string
		prev, next channel.State
	}
	var steps []step
	add := func(name string, s []channel.State, i int) { steps = append(steps, step{name, s[i-1], s[i]}) }
	add("start", f.line("e2e4"), 1)
	add("checkmate-fools", f.line(foolsMate...), 4)
	add("checkmate-scholars", f.line(scholarsMate...), 7)
	add("stalemate", f.line(loydStalemate...), 19)
	add("insufficient", f.at(78, insufficientFEN, "a1c3"), 1)
	add("fifty", f.at(80, fiftyFEN, "a2b2"), 1)
	add("promotion", f.at(60, promotionFEN, "b7b8q"), 1)
	add("castle-short", f.line(castling...), 7)
	add("castle-long", f.line(castling...), 12)
	add("en-passant", f.line(enPassant...), 5)
	perMicro := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)*66/1000, "gas")
	}
	for _, s := range steps {
		b.Run("move/"+s.name, func(b *testing.B) {
			signer := addr(white)
			if channel.Signer(s.next.Ply) == chessrules.Black {
				signer = addr(black)
			}
			for i := 0; i < b.N; i++ {
				if err := channel.CheckTransition(s.prev, s.next, signer, addr(white), addr(black)); err != nil {
					b.Fatalf("transition: %v", err)
				}
			}
			perMicro(b)
		})
	}
	for _, s := range steps {
		b.Run("status/"+s.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				pos, err := chessrules.ParseFEN(s.next.FEN)
				if err != nil {
					b.Fatalf("parse: %v", err)
				}
				if _, err := chessrules.Status(pos); err != nil {
					b.Fatalf("status: %v", err)
				}
			}
			perMicro(b)
		})
	}
	s := steps[len(steps)-1].next
	sig := f.sign(s)
	b.Run("recoverState", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := channel.RecoverState(domain(), s, sig); err != nil {
				b.Fatalf("recover: %v", err)
			}
		}
		perMicro(b)
	})
	b.Run("structHash", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			s.StructHash()
		}
		perMicro(b)
	})
}
