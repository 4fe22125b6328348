package bridge

import (
	"encoding/binary"

	"github.com/ethereum/go-ethereum/common"
)

// The key schema of the bridge's badger database. Every key starts with a
// one-byte prefix followed by the 32-byte game id; plies are 4-byte
// big-endian so that byte order is ply order and a prefix scan walks a
// game's states in order. This is the only file that knows how keys are
// laid out.
var (
	// gamePrefix + game id (32) -> JSON {white, black, stake (hex),
	// moveTimeout (hex)}: the game as registered by chess_openGame.
	gamePrefix = []byte("g")

	// headPrefix + game id (32) -> ply (4): the newest accepted ply. It is
	// read and written in the same transaction as the state it points to,
	// which makes Append a compare-and-set on it.
	headPrefix = []byte("h")

	// statePrefix + game id (32) + ply (4) -> accepted unix nanoseconds
	// (8, big-endian) + the channel.SignedState JSON. Never overwritten.
	statePrefix = []byte("s")
)

func gameKey(id common.Hash) []byte { return idKey(gamePrefix, id) }
func headKey(id common.Hash) []byte { return idKey(headPrefix, id) }

// statesPrefix is the prefix of every state key of a game.
func statesPrefix(id common.Hash) []byte { return idKey(statePrefix, id) }

func stateKey(id common.Hash, ply uint32) []byte {
	return binary.BigEndian.AppendUint32(statesPrefix(id), ply)
}

func idKey(prefix []byte, id common.Hash) []byte {
	k := make([]byte, 0, len(prefix)+common.HashLength+4)
	k = append(k, prefix...)
	return append(k, id[:]...)
}

func encodePly(ply uint32) []byte { return binary.BigEndian.AppendUint32(nil, ply) }
