package bridge

import (
	"math/big"

	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum/common"
)

// GameInfo is what the arbiter's game(gameId) view returns. Status and
// Result are channel.Status* and channel.Result* codes.
type GameInfo struct {
	White       common.Address
	Black       common.Address
	Stake       *big.Int
	MoveTimeout uint64
	Status      uint8
	Result      uint8
	ClaimPly    uint32
	Deadline    uint64
}

// Responses of the operations, as they go over the wire (package wire
// defines them once for the bridge and its client).
type (
	// Game is the response of chess_openGame and chess_getGame.
	Game = wire.Game
	// MoveReceipt is the response of chess_submitMove.
	MoveReceipt = wire.MoveReceipt
	// ClaimTx is the response of chess_buildClaim.
	ClaimTx = wire.ClaimTx
)

// Requests of the operations. Each operation is a function of its request
// and the Store and Arbiter alone.
type (
	// OpenGameRequest asks to register a game that is active on chain.
	OpenGameRequest struct{ GameID common.Hash }

	// GetGameRequest asks for a game's state.
	GetGameRequest struct{ GameID common.Hash }

	// SubmitMoveRequest carries a signed state to check, store and relay.
	SubmitMoveRequest struct{ State channel.SignedState }

	// HistoryRequest asks for the accepted states from FromPly on.
	HistoryRequest struct {
		GameID  common.Hash
		FromPly uint32
	}

	// BuildClaimRequest asks for the calldata of a claim of Kind by
	// Claimant.
	BuildClaimRequest struct {
		GameID   common.Hash
		Kind     uint8
		Claimant common.Address
	}

	// WatchRequest asks for the accepted states of a game from FromPly on
	// as they arrive; a nil FromPly means those accepted after the watch
	// starts.
	WatchRequest struct {
		GameID  common.Hash
		FromPly *uint32
	}
)
