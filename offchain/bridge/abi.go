package bridge

import (
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum/common"
)

// packClaim encodes claim(gameId, kind, base, baseSig, last, lastSig).
func packClaim(gameID common.Hash, kind uint8, base channel.State, baseSig []byte, last channel.State, lastSig []byte) ([]byte, error) {
	a, err := channel.ArbiterABI()
	if err != nil {
		return nil, err
	}
	if baseSig == nil {
		baseSig = []byte{}
	}
	return a.Pack("claim", [32]byte(gameID), kind, channel.NewABIState(base), baseSig, channel.NewABIState(last), lastSig)
}
