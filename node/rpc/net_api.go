package rpc

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// netAPI serves the net namespace.
type netAPI struct {
	chainID *big.Int
	peers   PeerCounter
}

// Version is net_version: the chain id in decimal.
func (api *netAPI) Version() string { return api.chainID.String() }

// Listening is net_listening.
func (api *netAPI) Listening() bool { return true }

// PeerCount is net_peerCount.
func (api *netAPI) PeerCount() hexutil.Uint {
	if api.peers == nil {
		return 0
	}
	return hexutil.Uint(max(api.peers.PeerCount(), 0))
}

// web3API serves the web3 namespace.
type web3API struct {
	version string
}

// ClientVersion is web3_clientVersion.
func (api *web3API) ClientVersion() string { return api.version }

// Sha3 is web3_sha3: the Keccak-256 of the input.
func (api *web3API) Sha3(input hexutil.Bytes) hexutil.Bytes { return crypto.Keccak256(input) }
