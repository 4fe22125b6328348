package bridge

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// TestHeadCacheUpdate: a group's successful appends become their games'
// heads in commit order, a game with a failed append is dropped (read from
// badger next), and a returned head is the caller's own copy.
func TestHeadCacheUpdate(t *testing.T) {
	game := func(label string) common.Hash { return crypto.Keccak256Hash([]byte(label)) }
	req := func(id common.Hash, ply uint32, err error) *appendReq {
		rec := Record{State: channel.SignedState{State: channel.State{GameID: id, Ply: ply}, Signature: []byte{byte(ply)}}}
		return &appendReq{id: id, ply: ply, rec: rec, err: err}
	}
	a, b := game("a"), game("b")
	c := newHeadCache(2)
	c.update([]*appendReq{req(a, 1, nil), req(b, 1, nil)})
	c.update([]*appendReq{req(a, 2, nil), req(b, 2, ErrConflict)})
	if rec, ok := c.get(a); !ok || rec.Ply() != 2 {
		t.Fatalf("head of a: have %d, %v; want 2", rec.Ply(), ok)
	}
	if _, ok := c.get(b); ok {
		t.Fatalf("b kept a head after a failed append")
	}
	rec, _ := c.get(a)
	rec.State.Signature[0] = 0xff
	if again, _ := c.get(a); again.State.Signature[0] != 2 {
		t.Fatalf("a caller's change reached the cache")
	}
	failed := errors.New("write failed")
	c.update([]*appendReq{req(a, 3, failed)})
	if _, ok := c.get(a); ok {
		t.Fatalf("a kept a head after its group failed")
	}
	var none *headCache
	none.update([]*appendReq{req(a, 1, nil)})
	if _, ok := none.get(a); ok {
		t.Fatalf("a nil cache answered")
	}
}
