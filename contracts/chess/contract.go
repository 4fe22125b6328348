package chess

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/contracts/native"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
)

// Address is where the arbiter lives; signed states name it as the EIP-712
// verifying contract.
var Address = common.HexToAddress(channel.ArbiterContract)

// MaxMoveTimeout caps a game's window, in blocks.
const MaxMoveTimeout = 100000

// Gas of the chess work, priced like native's schedule at 66 gas per
// microsecond of measured worst-case CPU time over the test positions
// (BenchmarkChessWork; the rate makes signature recovery's ~45 µs cost
// Ethereum's 3000 gas).
const (
	// GasChessMove is charged per replay of one move: parsing both FENs,
	// generating the legal moves, applying the move and comparing
	// positions (channel.CheckTransition). Worst case about 150 µs, from
	// the start position and for an en-passant capture.
	GasChessMove uint64 = 10000
	// GasChessStatus is charged per evaluation of a position: check,
	// legal moves, material and the halfmove clock (chess.Status). Worst
	// case about 40 µs.
	GasChessStatus uint64 = 3000
)

// Reasons a call reverts with.
var (
	errUnknownGame      = errors.New("unknown game")
	errGameExists       = errors.New("game already exists")
	errZeroBlack        = errors.New("black is the zero address")
	errSelfPlay         = errors.New("black is white")
	errBadTimeout       = fmt.Errorf("moveTimeout must be 1 to %d blocks", MaxMoveTimeout)
	errStatus           = errors.New("not allowed in this game status")
	errNotBlack         = errors.New("only black may join")
	errNotWhite         = errors.New("only white may cancel")
	errNotPlayer        = errors.New("caller is not a player")
	errWrongStake       = errors.New("value must equal the stake")
	errBadResult        = errors.New("result must be 1, 2 or 3")
	errBadKind          = errors.New("claim kind must be 1, 2 or 3")
	errBadSignature     = errors.New("bad signature")
	errWrongSigner      = errors.New("wrong signer")
	errWrongGame        = errors.New("state belongs to another game")
	errTransition       = errors.New("invalid transition")
	errNotOwnState      = errors.New("checkmate and timeout claims rest on the claimant's own last state")
	errClaimNotLater    = errors.New("claim must rest on a later ply than the answered claim")
	errNotTimeout       = errors.New("only a timeout claim can be answered")
	errWindowClosed     = errors.New("claim window has closed")
	errWindowOpen       = errors.New("claim window is still open")
	errNotNewer         = errors.New("state does not refute the claim")
	errBadBase          = errors.New("base state FEN is invalid")
	errNoCheat          = errors.New("no cheating: the move is legal and its FEN follows")
	errNotProof         = errors.New("not a cheating proof")
	errInternalTransfer = errors.New("payout failed")
)

// Contract is the chess arbiter.
type Contract struct{}

// New returns the chess arbiter.
func New() Contract { return Contract{} }

// Name returns "chess".
func (Contract) Name() string { return "chess" }

// Address returns Address.
func (Contract) Address() common.Address { return Address }

// ABI returns channel.ArbiterABIJSON, the one copy of the arbiter's ABI.
func (Contract) ABI() []byte { return channel.ArbiterABIJSON }

// Handlers returns the arbiter's methods.
func (Contract) Handlers() map[string]native.Handler {
	return map[string]native.Handler{
		"open":       open,
		"join":       join,
		"cancel":     cancel,
		"resign":     resign,
		"conclude":   conclude,
		"claim":      claim,
		"answer":     answer,
		"refute":     refute,
		"proveCheat": proveCheat,
		"finalize":   finalize,
		"game":       gameView,
	}
}

// Argument structs here name their fields after the ABI names in
// CamelCase (gameId -> GameId), which is how native.Args.Decode matches
// them; a State tuple is a channel.ABIState.

// domain is the EIP-712 domain of this chain and contract.
func domain(ctx *native.Context) channel.Domain {
	return channel.Domain{ChainID: ctx.ChainID(), Contract: ctx.Self()}
}

// recoverState charges for and recovers the signer of s.
func recoverState(ctx *native.Context, s channel.State, sig []byte) (common.Address, error) {
	if err := ctx.UseGas(native.GasTypedHash + native.GasEcrecover); err != nil {
		return common.Address{}, err
	}
	a, err := channel.RecoverState(domain(ctx), s, sig)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: ply %d: %v", errBadSignature, s.Ply, err)
	}
	return a, nil
}

// recoverOutcome charges for and recovers the signer of o.
func recoverOutcome(ctx *native.Context, o channel.Outcome, sig []byte) (common.Address, error) {
	if err := ctx.UseGas(native.GasTypedHash + native.GasEcrecover); err != nil {
		return common.Address{}, err
	}
	a, err := channel.RecoverOutcome(domain(ctx), o, sig)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: outcome: %v", errBadSignature, err)
	}
	return a, nil
}

// checkTransition charges for and checks one move (channel.CheckTransition).
func checkTransition(ctx *native.Context, g *game, prev, next channel.State, signer common.Address) error {
	if err := ctx.UseGas(GasChessMove); err != nil {
		return err
	}
	return channel.CheckTransition(prev, next, signer, g.white, g.black)
}

// status charges for and evaluates the position of a state whose FEN a
// transition check has accepted.
func status(ctx *native.Context, s channel.State) (chessrules.Result, error) {
	if err := ctx.UseGas(GasChessStatus); err != nil {
		return chessrules.Result{}, err
	}
	pos, err := chessrules.ParseFEN(s.FEN)
	if err != nil {
		return chessrules.Result{}, fmt.Errorf("%w: %v", errTransition, err)
	}
	return chessrules.Status(pos)
}

// side returns the side addr plays in g, or 0.
func (g *game) side(addr common.Address) uint8 {
	switch addr {
	case g.white:
		return sideWhite
	case g.black:
		return sideBlack
	}
	return 0
}

// player returns the address playing side.
func (g *game) player(side uint8) common.Address {
	if side == sideWhite {
		return g.white
	}
	return g.black
}

// sideOf returns the side that signs the state at ply (0 for ply 0).
func sideOf(ply uint32) uint8 {
	switch channel.Signer(ply) {
	case chessrules.White:
		return sideWhite
	case chessrules.Black:
		return sideBlack
	}
	return 0
}

// other returns the opposing side.
func other(side uint8) uint8 { return 3 - side }

// winResult is the result of side winning.
func winResult(side uint8) uint8 {
	if side == sideWhite {
		return channel.ResultWhiteWins
	}
	return channel.ResultBlackWins
}

func statusName(s uint8) string {
	switch s {
	case channel.StatusOpen:
		return "open"
	case channel.StatusActive:
		return "active"
	case channel.StatusClaimed:
		return "claimed"
	case channel.StatusEnded:
		return "ended"
	case channel.StatusCancelled:
		return "cancelled"
	}
	return "none"
}

// require loads game id and checks that it exists and is in one of want.
func require(ctx *native.Context, id common.Hash, want ...uint8) (*game, error) {
	g := load(ctx, id)
	if !g.exists() {
		return nil, fmt.Errorf("%w: %s", errUnknownGame, id)
	}
	for _, s := range want {
		if g.status == s {
			return g, nil
		}
	}
	return nil, fmt.Errorf("%w: game is %s", errStatus, statusName(g.status))
}
