package channel

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

func TestRecoverStateSignatureForms(t *testing.T) {
	f := newFixture(t)
	s := line(t, f.game, "e2e4")[1]
	sig := f.sign(t, f.d, s, f.white)
	if v := sig[64]; v != 27 && v != 28 {
		t.Fatalf("SignState v: have %d, want 27 or 28", v)
	}
	withV := func(v byte) []byte {
		out := append([]byte(nil), sig...)
		out[64] = v
		return out
	}
	n := crypto.S256().Params().N
	highS := func() []byte {
		out := append([]byte(nil), sig...)
		s := new(big.Int).Sub(n, new(big.Int).SetBytes(sig[32:64]))
		copy(out[32:64], common.LeftPadBytes(s.Bytes(), 32))
		out[64] = 27 + (28 - sig[64]) // the flipped recovery id
		return out
	}
	zeroR := func() []byte {
		out := append([]byte(nil), sig...)
		copy(out[:32], make([]byte, 32))
		return out
	}
	tests := []struct {
		name string
		sig  []byte
		want error
	}{
		{"v as 27/28", sig, nil},
		{"v as 0/1", withV(sig[64] - 27), nil},
		{"v = 29", withV(29), ErrBadSignature},
		{"v = 2", withV(2), ErrBadSignature},
		{"v = 26", withV(26), ErrBadSignature},
		{"truncated", sig[:64], ErrBadSignature},
		{"one byte short of r", sig[1:], ErrBadSignature},
		{"too long", append(append([]byte(nil), sig...), 0), ErrBadSignature},
		{"empty", nil, ErrBadSignature},
		{"high s", highS(), ErrBadSignature},
		{"zero r", zeroR(), ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := append([]byte(nil), tt.sig...)
			have, err := RecoverState(f.d, s, tt.sig)
			if !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
			if tt.want == nil && have != f.wa {
				t.Errorf("have %s, want %s", have, f.wa)
			}
			if string(before) != string(tt.sig) {
				t.Errorf("signature modified: have %x, want %x", tt.sig, before)
			}
		})
	}
}

func TestHighSIsOtherwiseValid(t *testing.T) {
	// Guards the "high s" case above: the flipped signature must be one that
	// a frontier (non-homestead) check would accept, or that case proves
	// nothing.
	f := newFixture(t)
	s := line(t, f.game, "e2e4")[1]
	sig := f.sign(t, f.d, s, f.white)
	n := crypto.S256().Params().N
	hs := new(big.Int).Sub(n, new(big.Int).SetBytes(sig[32:64]))
	v := 1 - (sig[64] - 27)
	if !crypto.ValidateSignatureValues(v, new(big.Int).SetBytes(sig[:32]), hs, false) {
		t.Fatalf("have invalid, want valid under frontier rules")
	}
	digest, err := f.d.Digest(s.StructHash())
	if err != nil {
		t.Fatalf("Digest: have %v, want nil", err)
	}
	raw := append(append(append([]byte(nil), sig[:32]...), common.LeftPadBytes(hs.Bytes(), 32)...), v)
	pub, err := crypto.SigToPub(digest[:], raw)
	if err != nil || crypto.PubkeyToAddress(*pub) != f.wa {
		t.Errorf("have err %v, want recovery of %s", err, f.wa)
	}
}

func TestSignAndRecoverErrors(t *testing.T) {
	f := newFixture(t)
	long := StartState(f.game)
	long.FEN = string(make([]byte, MaxFENLength+1))
	longMove := StartState(f.game)
	longMove.Move = "e7e8qq"
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"sign oversized fen", func() error { _, err := SignState(f.d, long, f.white); return err }, ErrMalformed},
		{"sign oversized move", func() error { _, err := SignState(f.d, longMove, f.white); return err }, ErrMalformed},
		{"recover oversized fen", func() error { _, err := RecoverState(f.d, long, make([]byte, 65)); return err }, ErrMalformed},
		{"sign nil key", func() error { _, err := SignState(f.d, StartState(f.game), nil); return err }, ErrBadSignature},
		{"sign result 0", func() error { _, err := SignOutcome(f.d, Outcome{GameID: f.game}, f.white); return err }, ErrMalformed},
		{"sign result 4", func() error { _, err := SignOutcome(f.d, Outcome{GameID: f.game, Result: 4}, f.white); return err }, ErrMalformed},
		{"recover result 0", func() error { _, err := RecoverOutcome(f.d, Outcome{GameID: f.game}, make([]byte, 65)); return err }, ErrMalformed},
		{"recover truncated outcome signature", func() error {
			_, err := RecoverOutcome(f.d, Outcome{GameID: f.game, Result: ResultDraw}, make([]byte, 64))
			return err
		}, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, tt.want) {
				t.Errorf("have %v, want %v", err, tt.want)
			}
		})
	}
}

func TestOutcomeReplay(t *testing.T) {
	f := newFixture(t)
	o := Outcome{GameID: f.game, Result: ResultWhiteWins}
	sig, err := SignOutcome(f.d, o, f.black)
	if err != nil {
		t.Fatalf("SignOutcome: have %v, want nil", err)
	}
	other := Domain{ChainID: f.d.ChainID, Contract: common.HexToAddress("0x1004")}
	tests := []struct {
		name string
		d    Domain
		o    Outcome
		want bool
	}{
		{"same outcome", f.d, o, true},
		{"other result", f.d, Outcome{GameID: f.game, Result: ResultBlackWins}, false},
		{"other game", f.d, Outcome{GameID: common.Hash{1}, Result: ResultWhiteWins}, false},
		{"other chain", DefaultDomain(big.NewInt(1)), o, false},
		{"other contract", other, o, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signer, err := RecoverOutcome(tt.d, tt.o, sig)
			if have := err == nil && signer == f.ba; have != tt.want {
				t.Errorf("have %v (signer %s, err %v), want %v", have, signer, err, tt.want)
			}
		})
	}
}

func TestSigner(t *testing.T) {
	tests := []struct {
		name string
		ply  uint32
		want string
	}{
		{"ply 0 is unsigned", 0, "none"},
		{"ply 1 is white", 1, "white"},
		{"ply 2 is black", 2, "black"},
		{"ply 3 is white", 3, "white"},
		{"last ply", 1<<32 - 1, "white"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if have := Signer(tt.ply).String(); have != tt.want {
				t.Errorf("have %v, want %v", have, tt.want)
			}
		})
	}
}
