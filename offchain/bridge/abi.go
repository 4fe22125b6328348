package bridge

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"

	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
)

// ArbiterABIJSON is the ABI of the chess arbiter contract as the bridge
// uses it, written from the contract's fixed interface.
//
//go:embed arbiter.abi.json
var ArbiterABIJSON []byte

// arbiterABI parses ArbiterABIJSON on first use, keeping cold starts cheap.
var arbiterABI = sync.OnceValues(func() (abi.ABI, error) {
	a, err := abi.JSON(bytes.NewReader(ArbiterABIJSON))
	if err != nil {
		return abi.ABI{}, fmt.Errorf("bridge: arbiter ABI: %w", err)
	}
	return a, nil
})

// ArbiterABI returns the parsed arbiter ABI.
func ArbiterABI() (abi.ABI, error) { return arbiterABI() }

// abiState is the ABI tuple State(bytes32 gameId, uint32 ply, string fen,
// string move, bytes32 prevHash); field names are the ABI's in Go case.
type abiState struct {
	GameId   [32]byte //nolint:revive // must match the ABI name gameId
	Ply      uint32
	Fen      string
	Move     string
	PrevHash [32]byte
}

func toABIState(s channel.State) abiState {
	return abiState{GameId: s.GameID, Ply: s.Ply, Fen: s.FEN, Move: s.Move, PrevHash: s.PrevHash}
}

// packClaim encodes claim(gameId, kind, base, baseSig, last, lastSig).
func packClaim(gameID common.Hash, kind uint8, base channel.State, baseSig []byte, last channel.State, lastSig []byte) ([]byte, error) {
	a, err := arbiterABI()
	if err != nil {
		return nil, err
	}
	if baseSig == nil {
		baseSig = []byte{}
	}
	return a.Pack("claim", [32]byte(gameID), kind, toABIState(base), baseSig, toABIState(last), lastSig)
}
