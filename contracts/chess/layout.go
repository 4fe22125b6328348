package chess

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/native"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// Storage layout of the arbiter. Every slot of a game is
//
//	keccak256("game" || gameId || field)
//
// with field one byte, so no two games and no two fields share a slot:
//
//	0  white      address, right-aligned; zero means no such game
//	1  black      address, right-aligned
//	2  stake      uint256, the stake of each player
//	3  meta       packed, big-endian from byte 0:
//	              moveTimeout u64 | deadline u64 | claimPly u32 | status u8 |
//	              result u8 | kind u8 | claimant u8 (1 white, 2 black) |
//	              restOnBase u8 (1 if the claimant's latest signed state is
//	              the claim's base, ply claimPly-1, rather than its last) |
//	              answeredPly u32 (the ply the last answered timeout claim
//	              rested on, 0 if none: every later claim must rest on a
//	              later ply)
//	4  claimed state's prevHash
//	5  claimed state's move and FEN length: move bytes from byte 0,
//	   move length at byte 30, FEN length at byte 31
//	8+i  claimed state's FEN, 32-byte word i (at most 4 words)
//
// The claimed state is the "last" state of a pending claim. Its game id and
// ply are the game's, so storing the rest lets answer and refute rebuild it
// exactly (and its struct hash) without trusting the caller.
const (
	fieldWhite    = 0
	fieldBlack    = 1
	fieldStake    = 2
	fieldMeta     = 3
	fieldPrevHash = 4
	fieldStrings  = 5
	fieldFEN      = 8
)

func slot(id common.Hash, field byte) common.Hash { return native.Slot("game", id[:], []byte{field}) }

// game is the stored record of one game.
type game struct {
	id           common.Hash
	white, black common.Address
	stake        *uint256.Int
	moveTimeout  uint64
	deadline     uint64
	claimPly     uint32
	status       uint8
	result       uint8
	kind         uint8
	claimant     uint8 // sideWhite or sideBlack while a claim is pending
	restOnBase   bool
	answeredPly  uint32 // ply of the last answered claim, 0 if none
}

// Sides, as stored in meta.
const (
	sideWhite uint8 = 1
	sideBlack uint8 = 2
)

// load reads game id; a game that was never opened has a zero white.
func load(ctx *native.Context, id common.Hash) *game {
	g := &game{id: id}
	g.white = native.WordAddress(ctx.Get(slot(id, fieldWhite)))
	if g.white == (common.Address{}) {
		return g
	}
	g.black = native.WordAddress(ctx.Get(slot(id, fieldBlack)))
	g.stake = new(uint256.Int).SetBytes32(ctx.Get(slot(id, fieldStake)).Bytes())
	m := ctx.Get(slot(id, fieldMeta))
	g.moveTimeout = native.GetU64(m, 0)
	g.deadline = native.GetU64(m, 8)
	g.claimPly = native.GetU32(m, 16)
	g.status, g.result, g.kind, g.claimant = m[20], m[21], m[22], m[23]
	g.restOnBase = m[24] == 1
	g.answeredPly = native.GetU32(m, 25)
	return g
}

func (g *game) exists() bool { return g.white != (common.Address{}) }

// saveMeta writes the packed small fields.
func (g *game) saveMeta(ctx *native.Context) {
	var m common.Hash
	native.PutU64(&m, 0, g.moveTimeout)
	native.PutU64(&m, 8, g.deadline)
	native.PutU32(&m, 16, g.claimPly)
	m[20], m[21], m[22], m[23] = g.status, g.result, g.kind, g.claimant
	if g.restOnBase {
		m[24] = 1
	}
	native.PutU32(&m, 25, g.answeredPly)
	ctx.Set(slot(g.id, fieldMeta), m)
}

// create writes a new game.
func (g *game) create(ctx *native.Context) {
	ctx.Set(slot(g.id, fieldWhite), native.AddressWord(g.white))
	ctx.Set(slot(g.id, fieldBlack), native.AddressWord(g.black))
	ctx.Set(slot(g.id, fieldStake), g.stake.Bytes32())
	g.saveMeta(ctx)
}

// saveClaimed stores the claimed state s (whose id and ply are the game's).
func (g *game) saveClaimed(ctx *native.Context, s channel.State) {
	ctx.Set(slot(g.id, fieldPrevHash), s.PrevHash)
	var h common.Hash
	copy(h[:], s.Move) // at most channel.MaxMoveLength bytes, checked by CheckTransition
	h[30], h[31] = byte(len(s.Move)), byte(len(s.FEN))
	ctx.Set(slot(g.id, fieldStrings), h)
	fen := []byte(s.FEN) // at most channel.MaxFENLength (100) bytes: 4 words
	for i := 0; i*32 < len(fen); i++ {
		var w common.Hash
		copy(w[:], fen[i*32:])
		ctx.Set(slot(g.id, fieldFEN+byte(i)), w)
	}
}

// loadClaimed rebuilds the claimed state of the pending claim.
func (g *game) loadClaimed(ctx *native.Context) channel.State {
	s := channel.State{GameID: g.id, Ply: g.claimPly}
	s.PrevHash = ctx.Get(slot(g.id, fieldPrevHash))
	h := ctx.Get(slot(g.id, fieldStrings))
	moveLen, fenLen := int(min(h[30], channel.MaxMoveLength)), int(min(h[31], channel.MaxFENLength))
	s.Move = string(h[:moveLen])
	fen := make([]byte, 0, fenLen)
	for i := 0; len(fen) < fenLen; i++ {
		w := ctx.Get(slot(g.id, fieldFEN+byte(i)))
		fen = append(fen, w[:min(32, fenLen-len(fen))]...)
	}
	s.FEN = string(fen)
	return s
}
