package bridge_test

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
)

// TestArbiterABI checks the embedded ABI against the contract's fixed
// signatures.
func TestArbiterABI(t *testing.T) {
	a, err := channel.ArbiterABI()
	if err != nil {
		t.Fatalf("ArbiterABI: have %v, want nil", err)
	}
	const state = "(bytes32,uint32,string,string,bytes32)"
	methods := []struct {
		name, sig, mutability string
		outputs               int
	}{
		{"open", "open(address,uint64)", "payable", 1},
		{"join", "join(bytes32)", "payable", 0},
		{"cancel", "cancel(bytes32)", "nonpayable", 0},
		{"resign", "resign(bytes32)", "nonpayable", 0},
		{"conclude", "conclude(bytes32,uint8,bytes,bytes)", "nonpayable", 0},
		{"claim", "claim(bytes32,uint8," + state + ",bytes," + state + ",bytes)", "nonpayable", 0},
		{"answer", "answer(bytes32," + state + ",bytes)", "nonpayable", 0},
		{"refute", "refute(bytes32," + state + ",bytes)", "nonpayable", 0},
		{"proveCheat", "proveCheat(bytes32," + state + ",bytes," + state + ",bytes)", "nonpayable", 0},
		{"finalize", "finalize(bytes32)", "nonpayable", 0},
		{"game", "game(bytes32)", "view", 8},
	}
	if len(a.Methods) != len(methods) {
		t.Errorf("methods: have %d, want %d", len(a.Methods), len(methods))
	}
	for _, m := range methods {
		got, ok := a.Methods[m.name]
		if !ok {
			t.Errorf("method %s missing", m.name)
			continue
		}
		if got.Sig != m.sig || got.StateMutability != m.mutability || len(got.Outputs) != m.outputs {
			t.Errorf("method %s: have %s %s %d outputs, want %s %s %d", m.name, got.Sig, got.StateMutability, len(got.Outputs), m.sig, m.mutability, m.outputs)
		}
	}
	eventsWant := []struct {
		name, sig string
		indexed   []bool
	}{
		{"GameOpened", "GameOpened(bytes32,address,address,uint256,uint64)", []bool{true, true, true, false, false}},
		{"GameJoined", "GameJoined(bytes32)", []bool{true}},
		{"GameClaimed", "GameClaimed(bytes32,address,uint8,uint32,uint64)", []bool{true, true, false, false, false}},
		{"ClaimAnswered", "ClaimAnswered(bytes32,uint32)", []bool{true, false}},
		{"GameEnded", "GameEnded(bytes32,uint8,string)", []bool{true, false, false}},
	}
	if len(a.Events) != len(eventsWant) {
		t.Errorf("events: have %d, want %d", len(a.Events), len(eventsWant))
	}
	for _, ev := range eventsWant {
		got, ok := a.Events[ev.name]
		if !ok || got.Sig != ev.sig || len(got.Inputs) != len(ev.indexed) {
			t.Errorf("event %s: have %+v, want %s", ev.name, got.Sig, ev.sig)
			continue
		}
		for i, in := range got.Inputs {
			if in.Indexed != ev.indexed[i] {
				t.Errorf("event %s input %d indexed: have %v, want %v", ev.name, i, in.Indexed, ev.indexed[i])
			}
		}
	}
}

// fakeCaller answers eth_call of game(gameId) from a map, packing the
// outputs with the ABI, as a node would.
type fakeCaller struct {
	t     *testing.T
	to    common.Address
	games map[common.Hash]bridge.GameInfo
	err   error
}

func (f *fakeCaller) ChainID(context.Context) (*big.Int, error) { return big.NewInt(7), nil }

func (f *fakeCaller) CallContract(_ context.Context, msg ethereum.CallMsg, block *big.Int) ([]byte, error) {
	if f.err != nil {
		return nil, f.err
	}
	a, _ := channel.ArbiterABI()
	if msg.To == nil || *msg.To != f.to || block != nil {
		f.t.Errorf("call to %v at block %v, want %s at latest", msg.To, block, f.to)
	}
	m, err := a.MethodById(msg.Data)
	if err != nil || m.Name != "game" {
		f.t.Fatalf("call of %v (%v), want game", m, err)
	}
	args, err := m.Inputs.Unpack(msg.Data[4:])
	if err != nil {
		f.t.Fatalf("unpack: %v", err)
	}
	g := f.games[common.Hash(args[0].([32]byte))]
	if g.Stake == nil {
		g.Stake = new(big.Int)
	}
	return m.Outputs.Pack(g.White, g.Black, g.Stake, g.MoveTimeout, g.Status, g.Result, g.ClaimPly, g.Deadline)
}

// revertError is what an eth_call of a reverting function returns.
type revertError struct{}

func (revertError) Error() string  { return "execution reverted" }
func (revertError) ErrorCode() int { return 3 }

func TestChainArbiter(t *testing.T) {
	ctx := context.Background()
	to := common.HexToAddress("0x1003")
	known := gameID("on chain")
	info := bridge.GameInfo{
		White: common.HexToAddress("0xaa"), Black: common.HexToAddress("0xbb"),
		Stake: big.NewInt(12345), MoveTimeout: 40, Status: channel.StatusClaimed,
		Result: 0, ClaimPly: 17, Deadline: 999,
	}
	tests := []struct {
		name    string
		id      common.Hash
		err     error
		want    bridge.GameInfo
		wantErr bool
	}{
		{name: "known game", id: known, want: info},
		{name: "unknown game", id: gameID("nope"), want: bridge.GameInfo{Stake: new(big.Int)}},
		{name: "reverted call", id: known, err: revertError{}, want: bridge.GameInfo{}},
		{name: "node down", id: known, err: errors.New("connection refused"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeCaller{t: t, to: to, games: map[common.Hash]bridge.GameInfo{known: info}, err: tt.err}
			a := bridge.NewChainArbiter(c, to)
			got, err := a.Game(ctx, tt.id)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Game: have %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got.White != tt.want.White || got.Black != tt.want.Black || got.Status != tt.want.Status ||
				got.MoveTimeout != tt.want.MoveTimeout || got.ClaimPly != tt.want.ClaimPly || got.Deadline != tt.want.Deadline ||
				(tt.want.Stake != nil && got.Stake.Cmp(tt.want.Stake) != 0) {
				t.Fatalf("Game: have %+v, want %+v", got, tt.want)
			}
		})
	}
	id, err := bridge.NewChainArbiter(&fakeCaller{t: t, to: to}, to).ChainID(ctx)
	if err != nil || id.Int64() != 7 {
		t.Fatalf("ChainID: have %v, %v; want 7", id, err)
	}
}

// TestChainIDFromArbiter checks that a Bridge without a configured chain
// id signs in the domain of the arbiter's chain.
func TestChainIDFromArbiter(t *testing.T) {
	e := newEnv(t, bridge.NewMemStore())
	b := e.newBridge(bridge.Config{}) // chain id from e.arb: 31337
	id := gameID("chain id")
	e.openGame(b, id)
	e.submitAll(b, e.line(id, "e2e4"))

	wrong := e.newBridge(bridge.Config{ChainID: big.NewInt(1)})
	id2 := gameID("chain id 2")
	e.openGame(wrong, id2)
	_, err := wrong.SubmitMove(context.Background(), bridge.SubmitMoveRequest{State: e.line(id2, "e2e4")[0]})
	if !errors.Is(err, bridge.ErrBadSignature) {
		t.Fatalf("bridge on chain 1, state for 31337: have %v, want ErrBadSignature", err)
	}
}
