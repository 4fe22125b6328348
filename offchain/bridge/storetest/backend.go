package storetest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// Backend is one database under test, reached through handles (a
// handle is what one bridge process holds: a Store value with its own
// connections).
type Backend struct {
	// Open opens a new handle on the database.
	Open func() (bridge.ClosableStore, error)
	// Single means the database admits one open handle at a time (badger
	// locks its directory; a MemStore is its own data): Handle then
	// returns the open one, and the cross-handle checks run on it.
	Single bool
	// Durable means what was written survives closing every handle.
	Durable bool

	mu   sync.Mutex
	open []bridge.ClosableStore
}

// Handle returns a new handle on the database or, with Single, the open
// one. Handles are closed by CloseAll or at the end of the test.
func (b *Backend) Handle(t testing.TB) bridge.Store {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Single && len(b.open) > 0 {
		return b.open[0]
	}
	s, err := b.Open()
	if err != nil {
		t.Fatalf("open store: have %v, want nil", err)
	}
	b.open = append(b.open, s)
	return s
}

// Handles returns n handles (one, n times over, with Single).
func (b *Backend) Handles(t testing.TB, n int) []bridge.Store {
	t.Helper()
	out := make([]bridge.Store, n)
	for i := range out {
		out[i] = b.Handle(t)
	}
	return out
}

// CloseAll closes every open handle, as the exit of every process using
// the database would.
func (b *Backend) CloseAll(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	open := b.open
	b.open = nil
	b.mu.Unlock()
	for _, s := range open {
		if err := s.Close(); err != nil {
			t.Errorf("close store: have %v, want nil", err)
		}
	}
}

// GameID derives a game id from a label.
func GameID(label string) common.Hash { return crypto.Keccak256Hash([]byte(label)) }

// Game returns a game record with a stake as wide as the arbiter allows.
func Game(id common.Hash) bridge.GameRecord {
	stake := new(big.Int).Lsh(big.NewInt(1), 255)
	stake.Add(stake, big.NewInt(12345))
	return bridge.GameRecord{
		ID:          id,
		White:       common.BytesToAddress(crypto.Keccak256(id[:], []byte("white"))),
		Black:       common.BytesToAddress(crypto.Keccak256(id[:], []byte("black"))),
		Stake:       stake,
		MoveTimeout: 40,
	}
}

// State returns a record of game id at ply; records that differ in
// variant are rival states at one ply. Stores do not check signatures or
// chess, so the fields are only shaped like real ones: what matters is
// that every byte reads back as written.
func State(id common.Hash, ply uint32, variant int) bridge.Record {
	var tag [8]byte
	binary.BigEndian.PutUint32(tag[:4], ply)
	binary.BigEndian.PutUint32(tag[4:], uint32(variant))
	sig := append(crypto.Keccak256(id[:], tag[:], []byte("r")), crypto.Keccak256(id[:], tag[:], []byte("s"))...)
	sig = append(sig, 27+byte(variant%2))
	prevTag := binary.BigEndian.AppendUint32(nil, ply-1)
	return bridge.Record{
		State: channel.SignedState{
			State: channel.State{
				GameID:   id,
				Ply:      ply,
				FEN:      fmt.Sprintf("r1bqkbnr/pppp1ppp/2n5/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQkq - %d %d", variant, ply),
				Move:     "g1f3",
				PrevHash: crypto.Keccak256Hash(id[:], prevTag),
			},
			Signature: sig,
		},
		// Nanoseconds matter: stores must keep them.
		Accepted: time.Unix(1_700_000_000+int64(ply), 123_456_789+int64(variant)),
	}
}

// SameRecord reports whether two records are equal in every field.
func SameRecord(a, b bridge.Record) bool {
	return a.State.State == b.State.State && bytes.Equal(a.State.Signature, b.State.Signature) && a.Accepted.Equal(b.Accepted)
}

// sameGame reports whether two game records are equal, a nil stake being
// zero.
func sameGame(a, b bridge.GameRecord) bool {
	stake := func(x *big.Int) *big.Int {
		if x == nil {
			return new(big.Int)
		}
		return x
	}
	return a.ID == b.ID && a.White == b.White && a.Black == b.Black &&
		stake(a.Stake).Cmp(stake(b.Stake)) == 0 && a.MoveTimeout == b.MoveTimeout
}
