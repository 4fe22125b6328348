// Package chess is the chess arbiter contract at
// 0x0000000000000000000000000000000000001003: it escrows two stakes, lets
// the players play off-chain by exchanging signed states (package
// offchain/channel: EIP-712, domain "Arbiter Chess" version "1", this
// chain's id and this address), and rules on the game from as little as
// one signed move, which it replays with package offchain/chessrules.
//
// The protocol facts live in package offchain/channel, shared with the
// bridge, the watcher and the client: the ABI is channel.ArbiterABIJSON
// (docs/abi/chess.json is a copy checked by a test), the codes are
// channel.Status*, channel.Claim* and channel.Result*, and a claim's
// position is judged by channel.JudgeClaim. The methods:
//
//	open(black, moveTimeout) payable -> gameId    white escrows the stake
//	join(gameId) payable                           black escrows the same stake
//	cancel(gameId)                                 white, before black joins: refund
//	resign(gameId)                                 a player loses at once
//	conclude(gameId, result, whiteSig, blackSig)   both signed Outcome: pay at once
//	claim(gameId, kind, base, baseSig, last, lastSig)
//	answer(gameId, next, nextSig)                  meets a timeout claim
//	refute(gameId, newer, newerSig)                the claim is stale: claimant forfeits
//	proveCheat(gameId, base, baseSig, bad, badSig) bad's signer forfeits
//	finalize(gameId)                               after the window: rule on the claim
//	game(gameId) view
//
// A game moves through Open -> Active <-> Claimed -> Ended, or Open ->
// Cancelled; Ended and Cancelled are terminal and every payout happens on
// the move into one of them, so no game pays twice. The id of a game is
// keccak256(abi.encode(white, nonce of the open transaction)) (GameID).
//
// A claim rests on ply n: last, signed by the claimant, built on base, the
// opponent's ply n-1 (or the unsigned start state for n = 1). A checkmate
// claim needs the opponent mated after last; a draw claim stalemate,
// insufficient material or a halfmove clock of 100; a timeout claim needs
// the opponent to have a legal move. The stalemated player may also claim
// the draw on the opponent's stalemating move: last is then the
// opponent's and the claim rests on base, the claimant's own ply n-1. A
// true claim waits moveTimeout blocks; within them a timeout claim is
// answered by the opponent's signed move, and any claim is refuted by a
// state the claimant signed after the one it rests on, or a different one
// at that ply. After the window finalize pays the claimant (checkmate,
// timeout) or both (draw). An answered timeout claim is remembered: every
// later claim, of either player and any kind, must rest on a later ply
// than it did, so a claim cannot be repeated after it has been answered.
//
// Storage layout: see layout.go. Gas: the engine's schedule (package
// native) plus GasChessMove per replayed move and GasChessStatus per
// evaluated position.
//
// It owns the arbiter's ABI, storage layout (layout.go) and rulings; it may
// import contracts/native and the off-chain protocol types of offchain/
// (channel, chess) and must not import node/, cmd/ or examples/.
package chess
