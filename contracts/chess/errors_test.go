package chess_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
	"github.com/arbiter-chain/arbiter/node/rules"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// TestClaimRefused sends claims that must fail, each with its reason, and
// checks that the game stays active and nobody but the gas is paid.
func TestClaimRefused(t *testing.T) {
	f := newGame(t)
	s := f.line("e2e4", "e7e5", "g1f3")
	otherID := crypto.Keccak256Hash([]byte("another game"))
	other := f.from(channel.StartState(otherID), "e2e4", "e7e5", "g1f3")
	edit := func(st channel.State, fn func(*channel.State)) channel.State {
		fn(&st)
		return st
	}
	gap := edit(s[3], func(st *channel.State) { st.PrevHash = s[1].StructHash() })
	ok := func(st channel.State) []byte { return f.sign(st) }
	tests := []struct {
		name       string
		from       string
		kind       uint8
		base, last channel.State
		baseSig    []byte
		lastSig    []byte
		want       string
	}{
		{"last signed by the wrong player", white, channel.ClaimTimeout, s[2], s[3], ok(s[2]), f.signAs(s[3], black, domain()),
			"invalid transition: channel: wrong signer"},
		{"signed for another chain id", white, channel.ClaimTimeout, s[2], s[3], ok(s[2]), f.signAs(s[3], white, channel.DefaultDomain(big.NewInt(1))),
			"invalid transition: channel: wrong signer"},
		{"signed for another verifying contract", white, channel.ClaimTimeout, s[2], s[3], ok(s[2]),
			f.signAs(s[3], white, channel.Domain{ChainID: big.NewInt(chaintest.ChainID), Contract: common.HexToAddress("0x1004")}),
			"invalid transition: channel: wrong signer"},
		{"states of another game", white, channel.ClaimTimeout, other[2], other[3], ok(other[2]), ok(other[3]),
			"state belongs to another game"},
		{"base of another game", white, channel.ClaimTimeout, other[2], edit(s[3], func(st *channel.State) { st.PrevHash = other[2].StructHash() }),
			ok(other[2]), ok(edit(s[3], func(st *channel.State) { st.PrevHash = other[2].StructHash() })),
			"invalid transition: channel: state belongs to another game"},
		{"ply gap", white, channel.ClaimTimeout, s[1], gap, ok(s[1]), ok(gap), "invalid transition: channel: ply does not follow"},
		{"prevHash mismatch", white, channel.ClaimTimeout, s[2], gap, ok(s[2]), ok(gap), "invalid transition: channel: prevHash does not match previous state"},
		{"base signed by the claimant", white, channel.ClaimTimeout, s[2], s[3], f.signAs(s[2], white, domain()), ok(s[3]),
			"wrong signer: base ply 2 signed by " + addr(white).Hex()},
		{"start state altered", white, channel.ClaimTimeout, edit(s[0], func(st *channel.State) { st.FEN = s[1].FEN }), s[1], nil, ok(s[1]),
			"invalid transition: channel: ply 0 is not the start state"},
		{"truncated signature", white, channel.ClaimTimeout, s[2], s[3], ok(s[2]), ok(s[3])[:64], "bad signature: ply 3"},
		{"not a player", watcher, channel.ClaimTimeout, s[2], s[3], ok(s[2]), ok(s[3]), "caller is not a player"},
		{"kind 0", white, 0, s[2], s[3], ok(s[2]), ok(s[3]), "claim kind must be 1, 2 or 3"},
		{"kind 4", white, 4, s[2], s[3], ok(s[2]), ok(s[3]), "claim kind must be 1, 2 or 3"},
		{"false checkmate", white, channel.ClaimCheckmate, s[2], s[3], ok(s[2]), ok(s[3]), "not checkmate after ply 3"},
		{"false draw", white, channel.ClaimDraw, s[2], s[3], ok(s[2]), ok(s[3]), "no draw by rule after ply 3"},
		{"timeout on the opponent's own last move", black, channel.ClaimTimeout, s[2], s[3], ok(s[2]), ok(s[3]),
			"checkmate and timeout claims rest on the claimant's own last state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.t = t
			f.expect(tt.from, "claim", nil, tt.want, f.id, tt.kind, tuple(tt.base), tt.baseSig, tuple(tt.last), tt.lastSig)
		})
	}
	f.t = t
	f.check(channel.StatusActive, 0, true)
}

// TestOutOfGas runs a valid claim with too little gas: it reverts with
// "out of gas", consumes all its gas and changes nothing; with enough gas
// the same claim succeeds.
func TestOutOfGas(t *testing.T) {
	f := newGame(t)
	s := f.line("e2e4", "e7e5", "g1f3")
	args := []any{f.id, channel.ClaimTimeout, tuple(s[2]), f.sign(s[2]), tuple(s[3]), f.sign(s[3])}
	data := chaintest.Pack(t, chaintest.ChessABI, "claim", args...)
	intrinsic := rules.IntrinsicGas(types.NewTx(&types.LegacyTx{To: &chess.Address, Data: data}))
	for _, gas := range []uint64{intrinsic + 100, intrinsic + 10_000, intrinsic + 40_000} {
		r := f.sendGas(white, "claim", nil, gas, args...)
		if r.Reason != "out of gas" || r.Receipt.GasUsed != gas {
			t.Fatalf("gas %d: have reason %q used %d, want %q used %d", gas, r.Reason, r.Receipt.GasUsed, "out of gas", gas)
		}
		f.check(channel.StatusActive, 0, true)
	}
	r := f.send(white, "claim", nil, args...)
	if r.Reason != "" {
		t.Fatalf("claim with enough gas: %q", r.Reason)
	}
	f.check(channel.StatusClaimed, 0, true)
}

// TestOpenJoinCancel covers the escrow before play: argument checks, the
// stake black must match, and cancellation.
func TestOpenJoinCancel(t *testing.T) {
	f := newFixture(t)
	f.expect(white, "join", f.stake, "unknown game: "+crypto.Keccak256Hash([]byte("none")).Hex(), crypto.Keccak256Hash([]byte("none")))
	tests := []struct {
		name    string
		black   common.Address
		timeout uint64
		want    string
	}{
		{"zero black", common.Address{}, 5, "black is the zero address"},
		{"self play", addr(white), 5, "black is white"},
		{"zero timeout", addr(black), 0, "moveTimeout must be 1 to 100000 blocks"},
		{"timeout too long", addr(black), chess.MaxMoveTimeout + 1, "moveTimeout must be 1 to 100000 blocks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.t = t
			f.expect(white, "open", f.stake, tt.want, tt.black, tt.timeout)
		})
	}
	f.t = t
	f.open()
	if g := f.info(); g.White != addr(white) || g.Black != addr(black) || g.Stake.Cmp(f.stake) != 0 || g.MoveTimeout != testTimeout || g.Status != channel.StatusOpen {
		t.Fatalf("opened game: have %+v", g)
	}
	f.expect(black, "resign", nil, "not allowed in this game status: game is open", f.id)
	f.expect(watcher, "join", f.stake, "only black may join", f.id)
	two := chaintest.Ether(2)
	f.expect(black, "join", two, "value must equal the stake: have "+two.String()+", want "+f.stake.String(), f.id)
	f.expect(black, "join", new(big.Int).Add(f.stake, big.NewInt(1)), "value must equal the stake", f.id)
	f.expect(black, "cancel", nil, "only white may cancel", f.id)
	f.expect(white, "cancel", big.NewInt(1), "method is not payable: cancel", f.id)
	f.check(channel.StatusOpen, 0, false)
	r := f.expect(white, "cancel", nil, "", f.id)
	if res, reason := ended(t, r); res != 0 || reason != "cancelled" {
		t.Fatalf("GameEnded: have %d %q, want 0 cancelled", res, reason)
	}
	f.expect(white, "cancel", nil, "not allowed in this game status: game is cancelled", f.id)
	f.expect(black, "join", f.stake, "not allowed in this game status: game is cancelled", f.id)
	f.check(channel.StatusCancelled, 0, false)

	// The next game of the same white has another id.
	first := f.id
	f.open()
	if f.id == first {
		t.Fatalf("second game reuses id %s", first)
	}
}

// TestGameView checks the view of an unknown game and that eth_call of a
// state-changing method changes nothing.
func TestGameView(t *testing.T) {
	f := newGame(t)
	out := f.e.View(chaintest.ChessABI, chess.Address, "game", common.Hash{7})
	if out[0].(common.Address) != (common.Address{}) || out[2].(*big.Int).Sign() != 0 || out[4].(uint8) != 0 {
		t.Fatalf("unknown game: have %v, want zeros", out)
	}
	if _, _, err := f.e.CallNext(black, chess.Address, nil, chaintest.Pack(t, chaintest.ChessABI, "resign", f.id), 0); err != nil {
		t.Fatalf("eth_call resign: %v", err)
	}
	f.check(channel.StatusActive, 0, true)
}

// TestClaimAfterAnswer checks that once a timeout claim on ply 3 has been
// answered, no claim may rest on ply 3 or earlier again: otherwise the
// claimant could repeat it until the opponent misses one window. A claim
// on a later ply, by either player, is allowed.
func TestClaimAfterAnswer(t *testing.T) {
	const refused = "claim must rest on a later ply than the answered claim"
	tests := []struct {
		name       string
		from       string
		kind       uint8
		base, last int // indexes into the game's states
		want       string
	}{
		{"same timeout claim again", white, channel.ClaimTimeout, 2, 3, refused + ": rests on ply 3, answered claim on ply 3"},
		{"earlier ply of the claimant", white, channel.ClaimTimeout, 0, 1, refused + ": rests on ply 1, answered claim on ply 3"},
		{"earlier ply of the opponent", black, channel.ClaimTimeout, 1, 2, refused + ": rests on ply 2, answered claim on ply 3"},
		{"checkmate claim on the answered ply", white, channel.ClaimCheckmate, 2, 3, refused + ": rests on ply 3, answered claim on ply 3"},
		{"the answer's own ply", black, channel.ClaimTimeout, 3, 4, ""},
		{"a later ply of the claimant", white, channel.ClaimTimeout, 4, 5, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newGame(t)
			s := f.line("e2e4", "e7e5", "g1f3", "b8c6", "f1c4")
			f.claim(white, channel.ClaimTimeout, s[2], s[3], "")
			f.answer(black, s[4], "")
			f.claim(tt.from, tt.kind, s[tt.base], s[tt.last], tt.want)
			want := channel.StatusActive
			if tt.want == "" {
				want = channel.StatusClaimed
			}
			f.check(want, 0, true)
		})
	}
}
