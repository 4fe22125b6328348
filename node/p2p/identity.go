package p2p

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// errKeyType is returned for a peer whose key is not secp256k1: it cannot
// be a member, whose node key is an Ethereum key.
var errKeyType = errors.New("peer key is not secp256k1")

// HostKey converts a node key into the libp2p host key of the same secret.
func HostKey(k *ecdsa.PrivateKey) (lcrypto.PrivKey, error) {
	return lcrypto.UnmarshalSecp256k1PrivateKey(crypto.FromECDSA(k))
}

// PeerIDOf returns the peer ID of the node that runs with key k.
func PeerIDOf(k *ecdsa.PrivateKey) (peer.ID, error) {
	hk, err := HostKey(k)
	if err != nil {
		return "", err
	}
	return peer.IDFromPrivateKey(hk)
}

// addressCacheSize bounds the peers whose addresses AddressOf remembers:
// far more than a consortium's members, so that peers churning through
// fresh IDs evict each other, not the members heard from every block.
const addressCacheSize = 1024

// addresses remembers AddressOf's answers: the key in a peer ID is
// compressed, and decompressing it in pure Go cost about 3% of an idle
// validator's CPU when done for every gossip message.
var addresses = lru.NewCache[peer.ID, common.Address](addressCacheSize)

// AddressOf returns the member address of a peer: the Ethereum address of
// the secp256k1 key its peer ID embeds.
func AddressOf(id peer.ID) (common.Address, error) {
	if a, ok := addresses.Get(id); ok {
		return a, nil
	}
	a, err := addressOf(id)
	if err != nil {
		return common.Address{}, err
	}
	addresses.Add(id, a)
	return a, nil
}

// addressOf computes AddressOf.
func addressOf(id peer.ID) (common.Address, error) {
	pub, err := id.ExtractPublicKey()
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", errKeyType, err)
	}
	if _, ok := pub.(*lcrypto.Secp256k1PublicKey); !ok {
		return common.Address{}, fmt.Errorf("%w: %v", errKeyType, pub.Type())
	}
	raw, err := pub.Raw()
	if err != nil {
		return common.Address{}, err
	}
	k, err := crypto.DecompressPubkey(raw)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", errKeyType, err)
	}
	return crypto.PubkeyToAddress(*k), nil
}

// memberChain is what HeadMembers reads; *chain.Chain satisfies it.
type memberChain interface {
	CurrentBlock() *types.Block
	IsMember(header *types.Header, addr common.Address) bool
}

// HeadMembers returns Members evaluated on the chain's current head state.
// Answers are cached until the head changes.
func HeadMembers(c memberChain) Members { return &headMembers{chain: c} }

type headMembers struct {
	chain memberChain

	mu    sync.Mutex
	head  common.Hash
	cache map[common.Address]bool
}

func (m *headMembers) IsMember(addr common.Address) bool {
	head := m.chain.CurrentBlock()
	hash := head.Hash() // cached in the block
	m.mu.Lock()
	if hash == m.head {
		if v, ok := m.cache[addr]; ok {
			m.mu.Unlock()
			return v
		}
	}
	m.mu.Unlock()
	v := m.chain.IsMember(head.Header(), addr)
	m.mu.Lock()
	if hash != m.head {
		m.head, m.cache = hash, make(map[common.Address]bool)
	}
	m.cache[addr] = v
	m.mu.Unlock()
	return v
}
