package chess_test

import (
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
)

var addr = chaintest.Addr

// Players and bystanders of the test games.
const (
	white   = "white"
	black   = "black"
	watcher = "watcher"
)

// testTimeout is the claim window of test games, in blocks.
const testTimeout = 10

// stateTuple is the ABI State tuple for packing.
type stateTuple struct {
	GameId   [32]byte
	Ply      uint32
	Fen      string
	Move     string
	PrevHash [32]byte
}

func tuple(s channel.State) stateTuple {
	return stateTuple{GameId: s.GameID, Ply: s.Ply, Fen: s.FEN, Move: s.Move, PrevHash: s.PrevHash}
}

// fixture is one game on its own chain, with a ledger of what each player
// paid in fees so that balances can be checked to the wei.
type fixture struct {
	t     testing.TB
	e     *chaintest.Env
	id    common.Hash
	stake *big.Int
	fees  map[string]*big.Int
	init  *big.Int
}

// newFixture opens a chain; the game is not opened yet.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	e := chaintest.New(t, chaintest.Config{Members: []string{"A", "B", "C"}, Allowed: []string{white, black, watcher}})
	return &fixture{t: t, e: e, stake: chaintest.Ether(3), fees: map[string]*big.Int{}, init: chaintest.Ether(1000)}
}

// newGame opens and joins a game with testTimeout.
func newGame(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.open()
	f.expect(black, "join", f.stake, "", f.id)
	return f
}

// send executes method from name and books the fee.
func (f *fixture) send(from, method string, value *big.Int, args ...any) chaintest.Result {
	f.t.Helper()
	return f.sendGas(from, method, value, chaintest.DefaultGas, args...)
}

func (f *fixture) sendGas(from, method string, value *big.Int, gas uint64, args ...any) chaintest.Result {
	f.t.Helper()
	r := f.e.ExecGas(from, chess.Address, value, chaintest.Pack(f.t, chaintest.ChessABI, method, args...), gas)
	if f.fees[from] == nil {
		f.fees[from] = new(big.Int)
	}
	f.fees[from].Add(f.fees[from], f.e.Fee(r))
	return r
}

// expect sends method and checks that the revert reason starts with want
// ("" for success).
func (f *fixture) expect(from, method string, value *big.Int, want string, args ...any) chaintest.Result {
	f.t.Helper()
	r := f.send(from, method, value, args...)
	if (want == "") != (r.Reason == "") || !strings.HasPrefix(r.Reason, want) {
		f.t.Fatalf("%s by %s: have reason %q, want %q", method, from, r.Reason, want)
	}
	return r
}

// open opens the fixture's game as white against black.
func (f *fixture) open() chaintest.Result {
	f.t.Helper()
	nonce := f.e.NextNonce(white)
	r := f.expect(white, "open", f.stake, "", addr(black), uint64(testTimeout))
	ev := chaintest.ChessABI.Events["GameOpened"]
	l := r.Receipt.Logs[0]
	if l.Topics[0] != ev.ID || l.Address != chess.Address {
		f.t.Fatalf("first log is not GameOpened from the arbiter")
	}
	f.id = l.Topics[1]
	if want := chess.GameID(addr(white), nonce); f.id != want {
		f.t.Fatalf("game id: have %s, want %s", f.id, want)
	}
	return r
}

// info is the game() view.
type info struct {
	White, Black common.Address
	Stake        *big.Int
	MoveTimeout  uint64
	Status       uint8
	Result       uint8
	ClaimPly     uint32
	Deadline     uint64
}

func (f *fixture) info() info {
	f.t.Helper()
	out := f.e.View(chaintest.ChessABI, chess.Address, "game", f.id)
	return info{out[0].(common.Address), out[1].(common.Address), out[2].(*big.Int), out[3].(uint64), out[4].(uint8), out[5].(uint8), out[6].(uint32), out[7].(uint64)}
}

// check verifies the game's status and result and every balance to the
// wei: each player started with 1000 ether, paid fees and a stake (black
// only once joined), and got paid according to result.
func (f *fixture) check(status, result uint8, joined bool) {
	f.t.Helper()
	g := f.info()
	if g.Status != status || g.Result != result {
		f.t.Fatalf("game: have status %d result %d, want status %d result %d", g.Status, g.Result, status, result)
	}
	stake, two := f.stake, new(big.Int).Mul(f.stake, big.NewInt(2))
	paid := map[string]*big.Int{white: new(big.Int).Set(stake), black: new(big.Int)}
	if joined {
		paid[black].Set(stake)
	}
	got := map[string]*big.Int{white: new(big.Int), black: new(big.Int)}
	switch {
	case status == channel.StatusCancelled:
		got[white].Set(stake)
	case status != channel.StatusEnded:
	case result == channel.ResultWhiteWins:
		got[white].Set(two)
	case result == channel.ResultBlackWins:
		got[black].Set(two)
	case result == channel.ResultDraw:
		got[white].Set(stake)
		got[black].Set(stake)
	}
	escrow := new(big.Int)
	for _, p := range []string{white, black} {
		want := new(big.Int).Sub(f.init, paid[p])
		want.Add(want, got[p])
		if fee := f.fees[p]; fee != nil {
			want.Sub(want, fee)
		}
		if have := f.e.Balance(addr(p)); have.Cmp(want) != 0 {
			f.t.Fatalf("balance of %s: have %v, want %v", p, have, want)
		}
		escrow.Add(escrow, paid[p]).Sub(escrow, got[p])
	}
	if have := f.e.Balance(chess.Address); have.Cmp(escrow) != 0 {
		f.t.Fatalf("arbiter balance: have %v, want %v", have, escrow)
	}
}

// domain is the arbiter's EIP-712 domain on the test chain.
func domain() channel.Domain { return channel.DefaultDomain(big.NewInt(chaintest.ChainID)) }

// sign signs s as the player whose ply it is.
func (f *fixture) sign(s channel.State) []byte {
	f.t.Helper()
	name := black
	if channel.Signer(s.Ply) == chessrules.White {
		name = white
	}
	return f.signAs(s, name, domain())
}

// signAs signs s as name in domain d.
func (f *fixture) signAs(s channel.State, name string, d channel.Domain) []byte {
	f.t.Helper()
	sig, err := channel.SignState(d, s, chaintest.Key(name))
	if err != nil {
		f.t.Fatalf("sign: %v", err)
	}
	return sig
}

// outcome signs the fixture game's result as name.
func (f *fixture) outcome(result uint8, name string, d channel.Domain) []byte {
	f.t.Helper()
	sig, err := channel.SignOutcome(d, channel.Outcome{GameID: f.id, Result: result}, chaintest.Key(name))
	if err != nil {
		f.t.Fatalf("sign outcome: %v", err)
	}
	return sig
}

// line returns the start state of the fixture's game and the states of moves.
func (f *fixture) line(moves ...string) []channel.State {
	f.t.Helper()
	return f.from(channel.StartState(f.id), moves...)
}

// at returns an arbitrary state of the fixture's game at ply with fen,
// followed by the states of moves. Its prevHash stands for a history the
// contract never sees: it validates one move at a time.
func (f *fixture) at(ply uint32, fen string, moves ...string) []channel.State {
	f.t.Helper()
	base := channel.State{GameID: f.id, Ply: ply, FEN: fen, Move: "a1a1", PrevHash: crypto.Keccak256Hash([]byte("history"))}
	return f.from(base, moves...)
}

func (f *fixture) from(base channel.State, moves ...string) []channel.State {
	f.t.Helper()
	states := []channel.State{base}
	for _, m := range moves {
		prev := states[len(states)-1]
		pos, err := chessrules.ParseFEN(prev.FEN)
		if err != nil {
			f.t.Fatalf("parse %q: %v", prev.FEN, err)
		}
		next, err := chessrules.ApplyUCI(pos, m)
		if err != nil {
			f.t.Fatalf("ply %d %s: %v", prev.Ply+1, m, err)
		}
		states = append(states, channel.State{GameID: prev.GameID, Ply: prev.Ply + 1, FEN: next.FEN(), Move: m, PrevHash: prev.StructHash()})
	}
	return states
}

// baseSig signs base unless it is the unsigned start state.
func (f *fixture) baseSig(base channel.State) []byte {
	if base.Ply == 0 {
		return nil
	}
	return f.sign(base)
}

// claim sends a claim of kind by from on base and last, both signed by
// their players.
func (f *fixture) claim(from string, kind uint8, base, last channel.State, want string) chaintest.Result {
	f.t.Helper()
	return f.expect(from, "claim", nil, want, f.id, kind, tuple(base), f.baseSig(base), tuple(last), f.sign(last))
}

func (f *fixture) answer(from string, next channel.State, want string) chaintest.Result {
	f.t.Helper()
	return f.expect(from, "answer", nil, want, f.id, tuple(next), f.sign(next))
}

func (f *fixture) refute(from string, newer channel.State, want string) chaintest.Result {
	f.t.Helper()
	return f.expect(from, "refute", nil, want, f.id, tuple(newer), f.sign(newer))
}

func (f *fixture) proveCheat(from string, base, bad channel.State, want string) chaintest.Result {
	f.t.Helper()
	return f.expect(from, "proveCheat", nil, want, f.id, tuple(base), f.baseSig(base), tuple(bad), f.sign(bad))
}

// waitWindow mines past the pending claim's deadline.
func (f *fixture) waitWindow() {
	f.t.Helper()
	if d := f.info().Deadline; f.e.Number() < d {
		f.e.MineEmpty(int(d - f.e.Number()))
	}
}

// ended returns the result and reason of the GameEnded log in r.
func ended(t *testing.T, r chaintest.Result) (uint8, string) {
	t.Helper()
	ev := chaintest.ChessABI.Events["GameEnded"]
	for _, l := range r.Receipt.Logs {
		if l.Topics[0] == ev.ID {
			out, err := ev.Inputs.NonIndexed().Unpack(l.Data)
			if err != nil {
				t.Fatalf("unpack GameEnded: %v", err)
			}
			return out[0].(uint8), out[1].(string)
		}
	}
	t.Fatalf("no GameEnded log")
	return 0, ""
}
