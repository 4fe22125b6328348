package wire

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Game is the response of chess_openGame and chess_getGame: the players
// and stake recorded when the game was opened on the bridge, status and
// result as the arbiter reports them now (channel.Status* and
// channel.Result*), and the newest accepted state.
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
// claim() for the claimant to sign and send. To is the arbiter, Data the
// ABI-encoded call.
type ClaimTx struct {
	To   common.Address `json:"to"`
	Data hexutil.Bytes  `json:"data"`
}

// Offer is an element of the responses of chess_offerOutcome and
// chess_outcomes: an outcome one player signed and offers the other, a
// draw or the signer's own defeat. The other player signs the same
// outcome and sends both signatures to the arbiter's conclude.
type Offer struct {
	GameID    common.Hash    `json:"gameId"`
	Result    uint8          `json:"result"`
	Signer    common.Address `json:"signer"`
	Side      string         `json:"side"` // "white" or "black"
	Signature hexutil.Bytes  `json:"signature"`
}
