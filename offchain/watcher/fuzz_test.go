package watcher

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/offchain/channel"
)

func fuzzABI(t testing.TB) abi.ABI {
	t.Helper()
	a, err := channel.ArbiterABI()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// packLog returns the topics (concatenated) and data of an arbiter event.
func packLog(t testing.TB, a abi.ABI, name string, indexed []common.Hash, vals ...any) ([]byte, []byte) {
	t.Helper()
	ev := a.Events[name]
	data, err := ev.Inputs.NonIndexed().Pack(vals...)
	if err != nil {
		t.Fatal(err)
	}
	topics := ev.ID.Bytes()
	for _, h := range indexed {
		topics = append(topics, h[:]...)
	}
	return topics, data
}

// FuzzDecodeLog decodes a log from the chain (topics as 32-byte words,
// then data) as the watcher does before quarantining or handling it.
// Failures wrap errUndecodable; a decoded log is an arbiter event whose
// data is the canonical encoding of its values and whose game id is its
// first indexed topic.
func FuzzDecodeLog(f *testing.F) {
	a := fuzzABI(f)
	game := crypto.Keccak256Hash([]byte("fuzz game"))
	player := common.BytesToHash(common.HexToAddress("0x00000000000000000000000000000000000000aa").Bytes())
	seeds := [][2][]byte{}
	add := func(topics, data []byte) { seeds = append(seeds, [2][]byte{topics, data}) }
	add(packLog(f, a, channel.EventGameOpened, []common.Hash{game, player, player}, big.NewInt(5), uint64(20)))
	add(packLog(f, a, channel.EventGameJoined, []common.Hash{game}))
	add(packLog(f, a, channel.EventGameClaimed, []common.Hash{game, player}, uint8(3), uint32(9), uint64(100)))
	add(packLog(f, a, channel.EventClaimAnswered, []common.Hash{game}, uint32(7)))
	add(packLog(f, a, channel.EventGameEnded, []common.Hash{game}, uint8(1), "checkmate"))
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, topics, data []byte) {
		l := types.Log{Data: data}
		for len(topics) >= common.HashLength {
			l.Topics = append(l.Topics, common.BytesToHash(topics[:common.HashLength]))
			topics = topics[common.HashLength:]
		}
		ev, err := decodeLog(a, l)
		if err != nil {
			if !errors.Is(err, errUndecodable) {
				t.Fatalf("error %q does not wrap errUndecodable", err)
			}
			return
		}
		def, err := a.EventByID(l.Topics[0])
		if err != nil || def.Name != ev.Name || ev.GameID != l.Topics[1] {
			t.Fatalf("decoded %+v from a log of %v", ev, l.Topics)
		}
		vals, err := def.Inputs.NonIndexed().Unpack(l.Data)
		if err != nil {
			t.Fatalf("decoded data that does not unpack: %v", err)
		}
		if again, err := def.Inputs.NonIndexed().Pack(vals...); err != nil || string(again) != string(l.Data) {
			t.Fatalf("decoded data that is not canonical")
		}
		if ev.Name == channel.EventGameClaimed && ev.Claim.Claimant != common.BytesToAddress(l.Topics[2][12:]) {
			t.Fatalf("claimant %v from topic %v", ev.Claim.Claimant, l.Topics[2])
		}
	})
}

// FuzzDecodeClaimCall decodes the calldata of a transaction that a claim
// event points to, against the event's game, kind and ply. Failures wrap
// errNotClaim; a decoded call is a claim of that game, kind and ply.
func FuzzDecodeClaimCall(f *testing.F) {
	a := fuzzABI(f)
	game := crypto.Keccak256Hash([]byte("fuzz game"))
	base := channel.State{GameID: game, Ply: 4, FEN: "rnbqkbnr/pppp1ppp/8/4p3/4P3/8/PPPP1PPP/RNBQKBNR w KQkq - 0 2", Move: "e7e5"}
	last := channel.State{GameID: game, Ply: 5, FEN: "rnbqkbnr/pppp1ppp/8/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R b KQkq - 1 2", Move: "g1f3", PrevHash: base.StructHash()}
	data, err := a.Pack("claim", [32]byte(game), uint8(3), channel.NewABIState(base), make([]byte, 65), channel.NewABIState(last), make([]byte, 65))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, uint8(3), uint32(5))
	f.Add(data, uint8(1), uint32(5))
	join, err := a.Pack("join", [32]byte(game))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(join, uint8(3), uint32(5))
	f.Fuzz(func(t *testing.T, data []byte, kind uint8, ply uint32) {
		call, err := decodeClaimCall(a, data, game, claimEvent{Kind: kind, Ply: ply})
		if err != nil {
			if !errors.Is(err, errNotClaim) {
				t.Fatalf("error %q does not wrap errNotClaim", err)
			}
			return
		}
		if call.GameId != game || call.Kind != kind || call.Last.Ply != ply || call.Last.GameId != game {
			t.Fatalf("decoded %+v for game %x kind %d ply %d", call, game, kind, ply)
		}
	})
}
