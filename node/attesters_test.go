package node

import (
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/node/posval"
)

// TestAttestersAreTheValidators: the sender quorum (decision 46) counts the
// validators deciding the next block with their voting power, as the
// engine has them, and none while the head is old (the node may be
// catching up).
func TestAttestersAreTheValidators(t *testing.T) {
	net := newPosNet(t, 4)
	c := net.open(t, net.keys[0])
	eng := c.Engine().(*pos.Engine)
	headTime := time.Unix(int64(c.CurrentHeader().Time), 0)
	if _, _, ok := posval.Attesters(eng, c, func() time.Time { return headTime.Add(2 * time.Minute) }).Powers(); ok {
		t.Fatal("attesters counted at a head two minutes old")
	}
	vals, total, ok := posval.Attesters(eng, c, func() time.Time { return headTime.Add(time.Second) }).Powers()
	if !ok || total != net.vals.TotalPower() || len(vals) != net.vals.Len() {
		t.Fatalf("powers: %d validators, total %d (%v); want %d, %d", len(vals), total, ok, net.vals.Len(), net.vals.TotalPower())
	}
	for i, k := range net.keys {
		a := crypto.PubkeyToAddress(k.PublicKey)
		p, _ := net.vals.Power(a)
		found := false
		for _, v := range vals {
			if v.Address == a {
				found = v.Power == p
			}
		}
		if !found {
			t.Fatalf("member %d (%s) missing or with another power than %d", i, a, p)
		}
	}
	n := &Node{chain: c, cfg: Config{Clock: time.Now}}
	if n.attesters() == nil {
		t.Fatal("a proof-of-stake node has no attesters")
	}
}
