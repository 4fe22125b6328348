package channel

import (
	"crypto/ecdsa"
	"math/big"
	"testing"

	"github.com/arbiter-chain/arbiter/offchain/chessrules"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// testKey derives a fixed private key from a label.
func testKey(t *testing.T, label string) *ecdsa.PrivateKey {
	t.Helper()
	key, err := crypto.ToECDSA(crypto.Keccak256([]byte(label)))
	if err != nil {
		t.Fatalf("ToECDSA: have %v, want nil", err)
	}
	return key
}

// fixture holds the players and domain shared by the tests.
type fixture struct {
	d            Domain
	white, black *ecdsa.PrivateKey
	wa, ba       common.Address
	game         common.Hash
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	white, black := testKey(t, "white"), testKey(t, "black")
	return fixture{
		d:     DefaultDomain(big.NewInt(31337)),
		white: white,
		black: black,
		wa:    crypto.PubkeyToAddress(white.PublicKey),
		ba:    crypto.PubkeyToAddress(black.PublicKey),
		game:  crypto.Keccak256Hash([]byte("game 1")),
	}
}

// keyFor returns the key of the player who signs ply.
func (f fixture) keyFor(ply uint32) *ecdsa.PrivateKey {
	if Signer(ply) == chessrules.White {
		return f.white
	}
	return f.black
}

// sign signs s in domain d with key.
func (f fixture) sign(t *testing.T, d Domain, s State, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	sig, err := SignState(d, s, key)
	if err != nil {
		t.Fatalf("SignState: have %v, want nil", err)
	}
	return sig
}

// verify does what a bridge does with an incoming state: recover the signer
// in domain d, then check the transition.
func (f fixture) verify(d Domain, prev, next State, sig []byte) error {
	signer, err := RecoverState(d, next, sig)
	if err != nil {
		return err
	}
	return CheckTransition(prev, next, signer, f.wa, f.ba)
}

// step returns the state after prev that plays move, with the canonical FEN.
func step(t *testing.T, prev State, move string) State {
	t.Helper()
	pos, err := chessrules.ParseFEN(prev.FEN)
	if err != nil {
		t.Fatalf("ParseFEN: have %v, want nil", err)
	}
	next, err := chessrules.ApplyUCI(pos, move)
	if err != nil {
		t.Fatalf("ApplyUCI(%q): have %v, want nil", move, err)
	}
	return State{GameID: prev.GameID, Ply: prev.Ply + 1, FEN: next.FEN(), Move: move, PrevHash: prev.StructHash()}
}

// line returns the start state followed by the states of moves.
func line(t *testing.T, game common.Hash, moves ...string) []State {
	t.Helper()
	states := []State{StartState(game)}
	for _, m := range moves {
		states = append(states, step(t, states[len(states)-1], m))
	}
	return states
}
