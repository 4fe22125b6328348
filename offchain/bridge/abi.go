package bridge

import (
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum/common"
)

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
	a, err := channel.ArbiterABI()
	if err != nil {
		return nil, err
	}
	if baseSig == nil {
		baseSig = []byte{}
	}
	return a.Pack("claim", [32]byte(gameID), kind, toABIState(base), baseSig, toABIState(last), lastSig)
}
