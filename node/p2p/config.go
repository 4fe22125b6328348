package p2p

import (
	"crypto/ecdsa"
	"errors"
	"log/slog"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/rules"
	"github.com/arbiter-chain/arbiter/node/txpool"
)

// Errors New refuses a configuration with.
var (
	// ErrNoKey is returned when Config.Key is nil.
	ErrNoKey = errors.New("p2p: a node key is required")
	// ErrNoEngine is returned when Config.Engine is nil.
	ErrNoEngine = errors.New("p2p: a header verifier (consensus engine) is required")
	// ErrNoGenesis is returned when Config.GenesisHash is zero.
	ErrNoGenesis = errors.New("p2p: the genesis hash is required")
	// ErrNoRules is returned when Config.Rules has no chain id.
	ErrNoRules = errors.New("p2p: transaction rules (chain id, signer) are required")
	// ErrBadPeerAddr is returned for a peer multiaddr without a /p2p/ peer id.
	ErrBadPeerAddr = errors.New("p2p: peer address must be a multiaddr ending in /p2p/<peer id>")
	// ErrNoConsensus is returned by PublishConsensus when no consensus
	// validator was configured.
	ErrNoConsensus = errors.New("p2p: no consensus topic (Config.Consensus is nil)")
	// ErrIgnore, wrapped in an error returned by a ConsensusValidator, drops
	// the message without counting it against the peer that relayed it.
	ErrIgnore = errors.New("p2p: ignore message")
)

// Default limits, used for the zero fields of Limits.
const (
	DefaultMaxBlocksPerResponse  = 256
	DefaultMaxHeadersPerResponse = 1024
	DefaultMaxResponseBytes      = 8 << 20
	DefaultRequestRate           = 50  // requests per second per peer
	DefaultRequestBurst          = 100 // requests per peer at once
	DefaultRequestTimeout        = 10 * time.Second
	DefaultMaxConsensusMsg       = 64 << 10
	DefaultRedialMin             = time.Second
	DefaultRedialMax             = 4 * time.Second
	DefaultSyncInterval          = 5 * time.Second
	DefaultSyncBatch             = 256
	DefaultPullInterval          = 300 * time.Millisecond
	DefaultPingInterval          = time.Second
	DefaultPingTimeout           = 5 * time.Second
)

// Limits bound what the node serves, accepts and how it retries. Zero fields
// take the defaults above.
type Limits struct {
	// MaxBlocksPerResponse bounds the blocks in one GetBlocks response.
	MaxBlocksPerResponse int
	// MaxHeadersPerResponse bounds the headers in one GetHeaders response.
	MaxHeadersPerResponse int
	// MaxResponseBytes bounds a GetBlocks response, except that one block
	// is always sent (a block is at most chain.MaxBlockSize). It is at
	// least 2 MiB, and MaxBlocksPerResponse at least 16, so that no honest
	// answer is judged short by a client.
	MaxResponseBytes int
	// RequestRate and RequestBurst shape each peer's token bucket of sync
	// requests.
	RequestRate  float64
	RequestBurst int
	// RequestTimeout bounds reading a request, and a whole request/response
	// exchange on the client side.
	RequestTimeout time.Duration
	// MaxConsensusMsg bounds a consensus gossip message.
	MaxConsensusMsg int
	// RedialMin and RedialMax bound the exponential backoff of redials. A
	// consortium has few members, so a short cap (4 s by default) costs
	// little and brings a member's link back within seconds of a heal.
	RedialMin, RedialMax time.Duration
	// SyncInterval is how often peers' status is compared with ours.
	SyncInterval time.Duration
	// SyncBatch is how many blocks the syncer asks for at once.
	SyncBatch int
	// PullInterval is how often the node compares its pool with a peer's
	// digest and pulls the transactions it lacks (TxProtocol).
	PullInterval time.Duration
	// PingInterval and PingTimeout keep connections honest. A connection
	// on which nothing has arrived for PingInterval is pinged; one whose
	// ping gets no answer within PingTimeout is closed, and the redialer
	// opens a fresh one. Without them a link whose packets were dropped (a
	// partition, a failed switch) stays silent after it heals until TCP's
	// backed-off retransmission timer fires, seconds later. yamux bounds a
	// blocked write by PingTimeout too, so a link too slow to move a 64 KiB
	// frame in half of it is closed as well (decision 39).
	PingInterval, PingTimeout time.Duration
}

func (l Limits) withDefaults() Limits {
	setInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	setInt(&l.MaxBlocksPerResponse, DefaultMaxBlocksPerResponse)
	setInt(&l.MaxHeadersPerResponse, DefaultMaxHeadersPerResponse)
	setInt(&l.MaxResponseBytes, DefaultMaxResponseBytes)
	setInt(&l.RequestBurst, DefaultRequestBurst)
	setInt(&l.MaxConsensusMsg, DefaultMaxConsensusMsg)
	setInt(&l.SyncBatch, DefaultSyncBatch)
	setDur(&l.RequestTimeout, DefaultRequestTimeout)
	setDur(&l.RedialMin, DefaultRedialMin)
	setDur(&l.RedialMax, DefaultRedialMax)
	setDur(&l.SyncInterval, DefaultSyncInterval)
	setDur(&l.PullInterval, DefaultPullInterval)
	setDur(&l.PingInterval, DefaultPingInterval)
	setDur(&l.PingTimeout, DefaultPingTimeout)
	if l.RequestRate <= 0 {
		l.RequestRate = DefaultRequestRate
	}
	// Hard caps: what a client accepts is bounded by constants, so a server
	// may not be configured past them.
	l.MaxBlocksPerResponse = min(l.MaxBlocksPerResponse, maxBlocksPerResponse)
	l.MaxHeadersPerResponse = min(l.MaxHeadersPerResponse, maxHeadersPerResponse)
	l.MaxResponseBytes = min(l.MaxResponseBytes, maxResponseBytes)
	l.SyncBatch = min(l.SyncBatch, maxBlocksPerResponse)
	// Floors: a client counts an answer as short (isShort) when it holds
	// under shortAnswerBlocks blocks and under fullAnswerBytes, so an
	// honest server configured below these would be taken for one that
	// starves its clients. At minResponseBytes, an answer stopped for bytes
	// holds either one block of at least fullAnswerBytes or blocks over
	// minResponseBytes less one smaller block.
	l.MaxBlocksPerResponse = max(l.MaxBlocksPerResponse, shortAnswerBlocks)
	l.MaxResponseBytes = max(l.MaxResponseBytes, minResponseBytes)
	l.RedialMax = max(l.RedialMax, l.RedialMin)
	return l
}

// Config configures a Node.
type Config struct {
	// Key is the node key: it gives the libp2p identity, and its address
	// must be a member for other nodes to admit this one.
	Key *ecdsa.PrivateKey
	// ListenAddrs are TCP multiaddrs to listen on; empty means
	// /ip4/127.0.0.1/tcp/0.
	ListenAddrs []string
	// Peers are member multiaddrs ending in /p2p/<peer id> (from genesis
	// and --peers): dialled at start and redialled while disconnected.
	Peers []string
	// GenesisHash names the network: topics and sync status carry it.
	GenesisHash common.Hash
	// Rules are the static transaction rules gossiped transactions must pass.
	Rules rules.Static
	// Engine verifies gossiped block headers and names their author.
	Engine HeaderVerifier
	// Consensus validates consensus messages; nil leaves the consensus
	// topic unjoined.
	Consensus ConsensusValidator
	// Attesters are the validators whose attestations of transaction
	// senders count (senders.go); nil leaves the senders topic unjoined,
	// and every peer's transaction is recovered here.
	Attesters Attesters
	// Logger receives the node's logs; nil uses slog.Default().
	Logger *slog.Logger
	// Registerer receives the node's metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Limits bound requests, responses and retries.
	Limits Limits

	// quorumWait replaces quorumWait (tests on slow machines).
	quorumWait time.Duration
	// dropTxGossip makes the transaction topic ignore every peer's batch,
	// as if gossip lost it: tests use it to show that pulling alone
	// delivers.
	dropTxGossip bool
}

func (c Config) check() (Config, error) {
	switch {
	case c.Key == nil:
		return c, ErrNoKey
	case c.Engine == nil:
		return c, ErrNoEngine
	case c.GenesisHash == (common.Hash{}):
		return c, ErrNoGenesis
	case c.Rules.ChainID == nil || c.Rules.Signer == nil:
		return c, ErrNoRules
	}
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Limits = c.Limits.withDefaults()
	return c, nil
}

// Chain is what the node needs of the ledger; *chain.Chain satisfies it.
// The engine verifies gossiped headers against it (ChainHeaderReader).
type Chain interface {
	consensus.ChainHeaderReader
	CurrentBlock() *types.Block
	GetBlockByNumber(number uint64) *types.Block
	GetTD(hash common.Hash, number uint64) *big.Int
	Certificate(hash common.Hash, number uint64) []byte
	InsertBlock(block *types.Block) error
	InsertCertified(block *types.Block, cert []byte) error
	InsertChain(blocks []*types.Block, tipCert []byte) (int, error)
	PrefetchSignatures(blocks []*types.Block, stop <-chan struct{})
	SubscribeChainHead(ch chan<- chain.HeadEvent) event.Subscription
}

// Pool is what the node needs of the transaction pool; *txpool.Pool
// satisfies it.
type Pool interface {
	Add(tx *types.Transaction) error
	Has(hash common.Hash) bool
	// Sender is the sender of a transaction by hash, if the pool's sender
	// cache knows it: gossip does not recover it again.
	Sender(hash common.Hash) (common.Address, bool)
	SubscribeNewTxs(ch chan<- []*types.Transaction) event.Subscription
	// PendingNonce, Digest and Range serve and steer pulling (TxProtocol).
	PendingNonce(addr common.Address) uint64
	Digest(k int) []txpool.SenderNonce
	Range(sender common.Address, from uint64, count int, maxBytes uint64) []*types.Transaction
	// GetMany serves fetches of compact proposals' transactions
	// (BlockTxProtocol): the pooled transactions with the hashes, nil where
	// one is not pooled.
	GetMany(hashes []common.Hash) []*types.Transaction
}

// Members tells whether an address is a member now (in the state of the
// current head), so that admission follows membership changes.
type Members interface {
	IsMember(addr common.Address) bool
}

// HeaderVerifier is the part of the consensus engine gossip validation
// uses; consensus.Engine satisfies it.
type HeaderVerifier interface {
	Author(header *types.Header) (common.Address, error)
	VerifyHeader(chain consensus.ChainHeaderReader, header, parent *types.Header) error
}

// ConsensusValidator checks a consensus message before it is delivered and
// relayed. from is the member the message arrived from (the one that
// published or relayed it: gossip messages carry no author). An error that
// wraps ErrIgnore drops the message quietly; any other error rejects it and
// scores the relaying peer down.
type ConsensusValidator interface {
	ValidateConsensus(from common.Address, data []byte) error
}

// ConsensusMessage is a validated consensus message; From is the member it
// arrived from.
type ConsensusMessage struct {
	From common.Address
	Data []byte
}
