package channel

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestSignedStateJSONRoundTrip(t *testing.T) {
	f := newFixture(t)
	s := line(t, f.game, "e2e4")[1]
	in := SignedState{State: s, Signature: f.sign(t, f.d, s, f.white)}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("Marshal: have %v, want nil", err)
	}
	wantPrefix := `{"gameId":"` + f.game.Hex() + `","ply":1,"fen":"rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1","move":"e2e4","prevHash":"` + s.PrevHash.Hex() + `","signature":"0x`
	if !strings.HasPrefix(string(data), wantPrefix) {
		t.Errorf("have %s, want prefix %s", data, wantPrefix)
	}
	var out SignedState
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("Unmarshal: have %v, want nil", err)
	}
	if out.State != in.State || string(out.Signature) != string(in.Signature) {
		t.Errorf("have %+v, want %+v", out, in)
	}
	if signer, err := RecoverState(f.d, out.State, out.Signature); err != nil || signer != f.wa {
		t.Errorf("RecoverState: have %s (err %v), want %s", signer, err, f.wa)
	}
}

func TestSignedStateJSONStrict(t *testing.T) {
	const (
		h32 = `"0x` + "1111111111111111111111111111111111111111111111111111111111111111" + `"`
		sig = `"0x` + "22222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222" + `1b"`
	)
	obj := func(fields ...string) string { return "{" + strings.Join(fields, ",") + "}" }
	var (
		gameID   = `"gameId":` + h32
		ply      = `"ply":1`
		fen      = `"fen":"rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1"`
		move     = `"move":"e2e4"`
		prevHash = `"prevHash":` + h32
		sigField = `"signature":` + sig
	)
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"valid", obj(gameID, ply, fen, move, prevHash, sigField), nil},
		{"valid, other key order", obj(sigField, move, fen, prevHash, ply, gameID), nil},
		{"valid, upper-case hex", obj(`"gameId":"0x`+strings.Repeat("AB", 32)+`"`, ply, fen, move, prevHash, sigField), nil},
		{"unknown key", obj(gameID, ply, fen, move, prevHash, sigField, `"extra":1`), ErrMalformed},
		{"key in other case", obj(`"GameId":`+h32, ply, fen, move, prevHash, sigField), ErrMalformed},
		{"duplicate key", obj(gameID, ply, fen, move, prevHash, sigField, ply), ErrMalformed},
		{"missing signature", obj(gameID, ply, fen, move, prevHash), ErrMalformed},
		{"missing move", obj(gameID, ply, fen, prevHash, sigField), ErrMalformed},
		{"null fen", obj(gameID, ply, `"fen":null`, move, prevHash, sigField), ErrMalformed},
		{"null ply", obj(gameID, `"ply":null`, fen, move, prevHash, sigField), ErrMalformed},
		{"gameId without 0x", obj(`"gameId":"`+strings.Repeat("11", 32)+`"`, ply, fen, move, prevHash, sigField), ErrMalformed},
		{"gameId with 0X", obj(`"gameId":"0X`+strings.Repeat("11", 32)+`"`, ply, fen, move, prevHash, sigField), ErrMalformed},
		{"gameId short", obj(`"gameId":"0x`+strings.Repeat("11", 31)+`"`, ply, fen, move, prevHash, sigField), ErrMalformed},
		{"gameId odd length", obj(`"gameId":"0x`+strings.Repeat("11", 32)+`1"`, ply, fen, move, prevHash, sigField), ErrMalformed},
		{"prevHash not hex", obj(gameID, ply, fen, move, `"prevHash":"0x`+strings.Repeat("zz", 32)+`"`, sigField), ErrMalformed},
		{"prevHash as number", obj(gameID, ply, fen, move, `"prevHash":1`, sigField), ErrMalformed},
		{"signature truncated", obj(gameID, ply, fen, move, prevHash, `"signature":"0x`+strings.Repeat("22", 64)+`"`), ErrMalformed},
		{"signature too long", obj(gameID, ply, fen, move, prevHash, `"signature":"0x`+strings.Repeat("22", 66)+`"`), ErrMalformed},
		{"fen over 100 bytes", obj(gameID, ply, `"fen":"`+strings.Repeat("8", 101)+`"`, move, prevHash, sigField), ErrMalformed},
		{"move over 5 bytes", obj(gameID, ply, fen, `"move":"e7e8qq"`, prevHash, sigField), ErrMalformed},
		{"negative ply", obj(gameID, `"ply":-1`, fen, move, prevHash, sigField), ErrMalformed},
		{"fractional ply", obj(gameID, `"ply":1.5`, fen, move, prevHash, sigField), ErrMalformed},
		{"ply too large", obj(gameID, `"ply":4294967296`, fen, move, prevHash, sigField), ErrMalformed},
		{"ply as string", obj(gameID, `"ply":"1"`, fen, move, prevHash, sigField), ErrMalformed},
		{"trailing data", obj(gameID, ply, fen, move, prevHash, sigField) + "{}", ErrMalformed},
		{"array", "[]", ErrMalformed},
		{"null", "null", ErrMalformed},
		{"oversized input", obj(gameID, ply, fen, move, prevHash, sigField) + strings.Repeat(" ", MaxSignedStateJSON), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s SignedState
			err := s.UnmarshalJSON([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
			if tt.want != nil && (s.Signature != nil || s.State != State{}) {
				t.Errorf("have %+v, want it left unchanged", s)
			}
			if tt.want == nil && (s.State.Ply != 1 || len(s.Signature) != SignatureLength) {
				t.Errorf("have %+v, want ply 1 and a 65-byte signature", s)
			}
		})
	}
}

func TestSignedStateMarshalErrors(t *testing.T) {
	f := newFixture(t)
	s := line(t, f.game, "e2e4")[1]
	long := s
	long.FEN = strings.Repeat("8", MaxFENLength+1)
	tests := []struct {
		name string
		in   SignedState
		want error
	}{
		{"short signature", SignedState{State: s, Signature: make([]byte, 64)}, ErrMalformed},
		{"no signature", SignedState{State: s}, ErrMalformed},
		{"oversized fen", SignedState{State: long, Signature: make([]byte, 65)}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := json.Marshal(tt.in); !errors.Is(err, tt.want) {
				t.Errorf("have %v, want %v", err, tt.want)
			}
		})
	}
}
