package channel

import (
	"encoding/json"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/offchain/chessrules"
)

// wrapsOne reports whether err wraps one of the sentinels.
func wrapsOne(err error, sentinels ...error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// fuzzPlayers are the keys of the fuzz targets' games.
var (
	fuzzWhite = crypto.ToECDSAUnsafe(crypto.Keccak256([]byte("white")))
	fuzzBlack = crypto.ToECDSAUnsafe(crypto.Keccak256([]byte("black")))
	fuzzD     = DefaultDomain(big.NewInt(31337))
)

// fuzzLine returns the signed states of moves from the start of a game,
// as JSON, each signed by the player who made it.
func fuzzLine(t testing.TB, moves ...string) [][]byte {
	t.Helper()
	prev := StartState(crypto.Keccak256Hash([]byte("fuzz game")))
	var out [][]byte
	for _, m := range moves {
		pos, err := chessrules.ParseFEN(prev.FEN)
		if err != nil {
			t.Fatal(err)
		}
		after, err := chessrules.ApplyUCI(pos, m)
		if err != nil {
			t.Fatal(err)
		}
		next := State{GameID: prev.GameID, Ply: prev.Ply + 1, FEN: after.FEN(), Move: m, PrevHash: prev.StructHash()}
		key := fuzzBlack
		if Signer(next.Ply) == chessrules.White {
			key = fuzzWhite
		}
		sig, err := SignState(fuzzD, next, key)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(SignedState{State: next, Signature: sig})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
		prev = next
	}
	return out
}

// FuzzSignedStateJSON decodes a signed state as the bridge receives it.
// Failures wrap ErrMalformed and leave the value as it was; what decodes
// fits the size caps, encodes, and decodes again to the same state; the
// signature check fails only with its sentinels.
func FuzzSignedStateJSON(f *testing.F) {
	for _, b := range fuzzLine(f, "e2e4", "e7e5", "g1f3") {
		f.Add(b)
	}
	f.Add([]byte(`{"gameId":null}`))
	f.Add([]byte(`{"ply":1,"ply":2}`))
	f.Add([]byte(`[]`))
	sentinel := SignedState{State: State{Ply: 424242, FEN: "sentinel"}, Signature: []byte{1}}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := sentinel
		if err := s.UnmarshalJSON(data); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %q does not wrap ErrMalformed", err)
			}
			if s.State != sentinel.State || string(s.Signature) != string(sentinel.Signature) {
				t.Fatalf("a failed decode changed the value to %+v", s)
			}
			return
		}
		if len(s.State.FEN) > MaxFENLength || len(s.State.Move) > MaxMoveLength || len(s.Signature) != SignatureLength {
			t.Fatalf("decoded a state past the caps: %+v", s)
		}
		enc, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("encoding a decoded state: %v", err)
		}
		var again SignedState
		if err := json.Unmarshal(enc, &again); err != nil || again.State != s.State || string(again.Signature) != string(s.Signature) {
			t.Fatalf("round trip: have %+v (%v), want %+v", again, err, s)
		}
		if _, err := RecoverState(fuzzD, s.State, s.Signature); err != nil && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("RecoverState error %q does not wrap ErrBadSignature", err)
		}
	})
}

// transitionErrors are the sentinels of CheckTransition.
var transitionErrors = []error{
	ErrWrongGame, ErrPlyGap, ErrBadStart, ErrPrevHash, ErrWrongSigner, ErrMalformed,
	ErrBadFEN, ErrGameOver, ErrIllegalMove, ErrFENMismatch,
}

// FuzzTransition decodes two signed states and checks that the second may
// follow the first, as the bridge does before relaying a move. Every
// refusal wraps a channel sentinel; an accepted pair is consecutive, signed
// by the player to move, and its FEN is a position a legal move reaches.
func FuzzTransition(f *testing.F) {
	line := fuzzLine(f, "e2e4", "e7e5", "g1f3", "b8c6", "f1c4", "g8f6", "f3g5")
	for i := 0; i+1 < len(line); i++ {
		f.Add(line[i], line[i+1])
	}
	f.Add(line[0], line[2])
	f.Add(line[1], line[1])
	wa, ba := crypto.PubkeyToAddress(fuzzWhite.PublicKey), crypto.PubkeyToAddress(fuzzBlack.PublicKey)
	f.Fuzz(func(t *testing.T, prevJSON, nextJSON []byte) {
		var prev, next SignedState
		if json.Unmarshal(prevJSON, &prev) != nil || json.Unmarshal(nextJSON, &next) != nil {
			return
		}
		want := ba
		if Signer(next.State.Ply) == chessrules.White {
			want = wa
		}
		// The recovered signer, as the bridge checks it, and the signer
		// to move, so that mutated states that no longer match their
		// signatures still reach the chess checks.
		signer, err := RecoverState(fuzzD, next.State, next.Signature)
		if err != nil {
			signer = common.Address{}
		}
		for _, by := range []common.Address{signer, want} {
			if err := CheckTransition(prev.State, next.State, by, wa, ba); err != nil {
				if !wrapsOne(err, transitionErrors...) {
					t.Fatalf("error %q wraps no sentinel", err)
				}
				continue
			}
			if next.State.Ply != prev.State.Ply+1 || next.State.PrevHash != prev.State.StructHash() || by != want {
				t.Fatalf("accepted %+v after %+v signed by %s", next.State, prev.State, by)
			}
			if _, err := chessrules.ParseFEN(next.State.FEN); err != nil {
				t.Fatalf("accepted an unparsable FEN: %v", err)
			}
		}
	})
}

// FuzzOutcomeSignature recovers the signer of a fuzzed outcome and
// signature. Failures wrap ErrMalformed (result code) or ErrBadSignature;
// a signature made for an outcome recovers its signer, and only for the
// v values 0, 1, 27 and 28.
func FuzzOutcomeSignature(f *testing.F) {
	id := crypto.Keccak256Hash([]byte("fuzz game"))
	for _, r := range []uint8{ResultWhiteWins, ResultDraw} {
		sig, err := SignOutcome(fuzzD, Outcome{GameID: id, Result: r}, fuzzWhite)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(id[:], r, sig)
	}
	f.Add(id[:], uint8(9), make([]byte, 65))
	f.Fuzz(func(t *testing.T, gameID []byte, result uint8, sig []byte) {
		o := Outcome{GameID: common.BytesToHash(gameID), Result: result}
		signer, err := RecoverOutcome(fuzzD, o, sig)
		if err != nil {
			if !wrapsOne(err, ErrMalformed, ErrBadSignature) {
				t.Fatalf("error %q wraps no sentinel", err)
			}
			return
		}
		if v := sig[64]; v != 0 && v != 1 && v != 27 && v != 28 {
			t.Fatalf("recovered %s from a signature with v = %d", signer, v)
		}
		if o.check() != nil {
			t.Fatalf("recovered a signer for result code %d", result)
		}
	})
}
