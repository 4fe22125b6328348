package p2p

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

func peerOf(t *testing.T, name string) peer.ID {
	t.Helper()
	id, err := PeerIDOf(testKey(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func ed25519Peer(t *testing.T) peer.ID {
	t.Helper()
	k, _, err := lcrypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestAddressOf(t *testing.T) {
	check := func(round string) {
		t.Helper()
		for _, name := range []string{"A", "B", "D"} {
			have, err := AddressOf(peerOf(t, name))
			if err != nil {
				t.Fatalf("%s, %s: %v", round, name, err)
			}
			if want := crypto.PubkeyToAddress(testKey(t, name).PublicKey); have != want {
				t.Fatalf("%s, %s: have %s, want %s", round, name, have, want)
			}
		}
		if _, err := AddressOf(ed25519Peer(t)); !errors.Is(err, errKeyType) {
			t.Fatalf("%s, ed25519 peer: have %v, want %v", round, err, errKeyType)
		}
		if _, err := AddressOf(peer.ID("garbage")); !errors.Is(err, errKeyType) {
			t.Fatalf("%s, garbage peer id: have %v, want %v", round, err, errKeyType)
		}
	}
	check("first")
	check("remembered") // answers from the cache, errors computed again
	// Peers churning through more fresh IDs than the cache holds evict
	// the others; the answers stay right.
	for i := range addressCacheSize + 10 {
		k, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		id, err := PeerIDOf(k)
		if err != nil {
			t.Fatal(err)
		}
		if a, err := AddressOf(id); err != nil || a != crypto.PubkeyToAddress(k.PublicKey) {
			t.Fatalf("fresh peer %d: have %s, %v", i, a, err)
		}
	}
	if addresses.Len() > addressCacheSize {
		t.Fatalf("cache holds %d addresses, bound %d", addresses.Len(), addressCacheSize)
	}
	check("after churn")
}

func TestGater(t *testing.T) {
	members := newSetMembers(addrOf(t, "A"), addrOf(t, "B"))
	tests := []struct {
		name   string
		peer   peer.ID
		admit  bool
		reason string
	}{
		{"member", peerOf(t, "B"), true, ""},
		{"non-member with a valid key", peerOf(t, "D"), false, "not a member"},
		{"ed25519 key", ed25519Peer(t), false, "not secp256k1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logBuffer{}
			g := newGater(members, newTestLogger(logs))
			checks := map[string]bool{
				"peer dial":        g.InterceptPeerDial(tt.peer),
				"addr dial":        g.InterceptAddrDial(tt.peer, nil),
				"secured inbound":  g.InterceptSecured(network.DirInbound, tt.peer, nil),
				"secured outbound": g.InterceptSecured(network.DirOutbound, tt.peer, nil),
			}
			for what, have := range checks {
				if have != tt.admit {
					t.Fatalf("%s: have %v, want %v", what, have, tt.admit)
				}
			}
			if !g.InterceptAccept(nil) {
				t.Fatalf("accept refused before the peer is known")
			}
			lines := logs.lines("p2p connection refused", tt.peer.String())
			if tt.admit {
				if len(lines) != 0 {
					t.Fatalf("member refusal logged: %q", lines)
				}
				return
			}
			// Four refusals, one log line per direction: repeats are throttled.
			if len(lines) != 2 || !strings.Contains(lines[0], tt.reason) {
				t.Fatalf("refusal log: have %q, want two lines with %q", lines, tt.reason)
			}
		})
	}
}

func TestGaterLogsAddressAndThrottles(t *testing.T) {
	logs := &logBuffer{}
	g := newGater(newSetMembers(), newTestLogger(logs))
	now := time.Unix(0, 0)
	g.now = func() time.Time { return now }
	d := peerOf(t, "D")
	g.InterceptSecured(network.DirInbound, d, nil)
	g.InterceptSecured(network.DirInbound, d, nil)
	now = now.Add(refusalLogEvery)
	g.InterceptSecured(network.DirInbound, d, nil)
	lines := logs.lines("p2p connection refused", d.String(), addrOf(t, "D").Hex(), "direction=inbound")
	if len(lines) != 2 {
		t.Fatalf("refusal logs: have %d, want 2:\n%s", len(lines), logs)
	}
}

// headChain is a chain head with a member set that can change.
type headChain struct {
	head    *types.Block
	members map[common.Address]bool
	reads   int
}

func (c *headChain) CurrentBlock() *types.Block { return c.head }
func (c *headChain) IsMember(_ *types.Header, a common.Address) bool {
	c.reads++
	return c.members[a]
}

func TestHeadMembersFollowsHead(t *testing.T) {
	b := addrOf(t, "B")
	c := &headChain{head: types.NewBlockWithHeader(&types.Header{Number: common.Big1}), members: map[common.Address]bool{b: true}}
	m := HeadMembers(c)
	for i := 0; i < 3; i++ {
		if !m.IsMember(b) {
			t.Fatalf("B not a member at head 1")
		}
	}
	if c.reads != 1 {
		t.Fatalf("state reads at one head: have %d, want 1", c.reads)
	}
	c.head, c.members = types.NewBlockWithHeader(&types.Header{Number: common.Big2}), map[common.Address]bool{}
	if m.IsMember(b) {
		t.Fatalf("B still a member after its removal at head 2")
	}
}
