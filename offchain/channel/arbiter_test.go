package channel

import (
	"errors"
	"testing"

	"github.com/arbiter-chain/arbiter/offchain/chessrules"
	"github.com/ethereum/go-ethereum/common"
)

func TestJudgeClaim(t *testing.T) {
	const (
		live      = chessrules.StartFEN
		mate      = "rnb1kbnr/pppp1ppp/8/4p3/6Pq/5P2/PPPPP2P/RNBQKBNR w KQkq - 1 3"
		stalemate = "7k/5Q2/6K1/8/8/8/8/8 b - - 0 1"
		bare      = "8/8/4k3/8/8/3K4/8/8 w - - 0 1"
		fifty     = "8/8/4k3/8/8/3K4/3R4/8 w - - 100 60"
		fiftyLess = "8/8/4k3/8/8/3K4/3R4/8 w - - 99 60"
	)
	tests := []struct {
		name string
		kind uint8
		fen  string
		want error
	}{
		{"checkmate on mate", ClaimCheckmate, mate, nil},
		{"checkmate on stalemate", ClaimCheckmate, stalemate, ErrNotCheckmate},
		{"checkmate in a live game", ClaimCheckmate, live, ErrNotCheckmate},
		{"draw on stalemate", ClaimDraw, stalemate, nil},
		{"draw on bare kings", ClaimDraw, bare, nil},
		{"draw on halfmove 100", ClaimDraw, fifty, nil},
		{"draw on halfmove 99", ClaimDraw, fiftyLess, ErrNoDraw},
		{"draw on mate", ClaimDraw, mate, ErrNoDraw},
		{"timeout in a live game", ClaimTimeout, live, nil},
		{"timeout on bare kings", ClaimTimeout, bare, nil},
		{"timeout on mate", ClaimTimeout, mate, ErrNoLegalMove},
		{"timeout on stalemate", ClaimTimeout, stalemate, ErrNoLegalMove},
		{"kind 0", 0, live, ErrMalformed},
		{"kind 4", 4, mate, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pos, err := chessrules.ParseFEN(tt.fen)
			if err != nil {
				t.Fatalf("ParseFEN: %v", err)
			}
			res, err := chessrules.Status(pos)
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			err = JudgeClaim(tt.kind, res)
			if (tt.want == nil) != (err == nil) || !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
			if have := ValidClaimKind(tt.kind); have != (tt.kind >= 1 && tt.kind <= 3) {
				t.Fatalf("ValidClaimKind(%d): have %v", tt.kind, have)
			}
		})
	}
}

func TestArbiterABI(t *testing.T) {
	a, err := ArbiterABI()
	if err != nil {
		t.Fatalf("have %v, want nil", err)
	}
	for _, m := range []string{"open", "join", "cancel", "resign", "conclude", "claim", "answer", "refute", "proveCheat", "finalize", "game"} {
		if _, ok := a.Methods[m]; !ok {
			t.Errorf("method %s: missing", m)
		}
	}
	for _, e := range []string{"GameOpened", "GameJoined", "GameClaimed", "ClaimAnswered", "GameEnded"} {
		if _, ok := a.Events[e]; !ok {
			t.Errorf("event %s: missing", e)
		}
	}
}

// TestABIState packs a State as the answer() tuple and unpacks it again.
func TestABIState(t *testing.T) {
	a, err := ArbiterABI()
	if err != nil {
		t.Fatal(err)
	}
	s := State{GameID: common.HexToHash("0x42"), Ply: 7, FEN: chessrules.StartFEN, Move: "e2e4", PrevHash: common.HexToHash("0x99")}
	if have := NewABIState(s).State(); have != s {
		t.Fatalf("round trip: have %+v, want %+v", have, s)
	}
	data, err := a.Pack("answer", [32]byte(s.GameID), NewABIState(s), make([]byte, SignatureLength))
	if err != nil {
		t.Fatalf("pack: %v", err)
	}
	m := a.Methods["answer"]
	vals, err := m.Inputs.Unpack(data[4:])
	if err != nil {
		t.Fatalf("unpack: %v", err)
	}
	var in struct {
		GameId  [32]byte
		Next    ABIState
		NextSig []byte
	}
	if err := m.Inputs.Copy(&in, vals); err != nil {
		t.Fatalf("copy: %v", err)
	}
	if have := in.Next.State(); have != s {
		t.Fatalf("unpacked: have %+v, want %+v", have, s)
	}
}
