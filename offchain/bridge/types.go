package bridge

import (
	"math/big"

	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
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

// Game is the response of chess_openGame and chess_getGame: the players
// and stake recorded when the game was opened on the bridge, status and
// result as the arbiter reports them now, and the newest accepted state.
type Game struct {
	GameID      common.Hash    `json:"gameId"`
	White       common.Address `json:"white"`
	Black       common.Address `json:"black"`
	Stake       *hexutil.Big   `json:"stake"`
	MoveTimeout uint64         `json:"moveTimeout"`
	Status      uint8          `json:"status"`
	Result      uint8          `json:"result"`
	Ply         uint32         `json:"ply"`
	FEN         string         `json:"fen"`
	ToMove      string         `json:"toMove"` // "white" or "black"
}

// MoveReceipt is the response of chess_submitMove.
type MoveReceipt struct {
	Accepted bool   `json:"accepted"`
	Ply      uint32 `json:"ply"`
	FEN      string `json:"fen"`
}

// ClaimTx is the response of chess_buildClaim: a call of the arbiter's
// claim() for the claimant to sign and send.
type ClaimTx struct {
	To   common.Address `json:"to"`
	Data hexutil.Bytes  `json:"data"`
}

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
