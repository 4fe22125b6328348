package rpc

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// MaxRecentBlocks bounds the blocks one arbiter_blocks call returns.
const MaxRecentBlocks = 64

// errNoArbiter is returned by RegisterArbiter without a Registry.
var errNoArbiter = errors.New("rpc: arbiter namespace needs a registry")

// Registry reads the consortium's registers at a block: validators with
// their stakes, members, vouched accounts, and who produced a block. The
// node implements it over the staking and membership contracts.
type Registry interface {
	Validators(h *types.Header) ([]Validator, error)
	Members(h *types.Header) ([]Member, error)
	Accounts(h *types.Header) ([]Account, error)
	Author(h *types.Header) (common.Address, error)
	// Name is a member's name in genesis, "" if it has none.
	Name(a common.Address) string
}

// ConsensusReader reports a BFT validator's consensus position.
type ConsensusReader interface {
	// Consensus reports the position, false while no driver runs.
	Consensus() (Consensus, bool)
}

// Network reports the node's peers and sync progress.
type Network interface {
	Peers() []Peer
	// SyncTarget is the highest head a peer reported in the last status
	// exchange (0 before any).
	SyncTarget() uint64
}

// PoolStats reports the transaction pool's size.
type PoolStats interface {
	Stats() (executable, future int)
}

// ArbiterSources are what the arbiter_ namespace reads beyond the Chain.
// Registry is required; a nil Consensus, Network or Pool reports nothing
// for its part.
type ArbiterSources struct {
	Engine    string          // "pos" or "pow"
	Self      common.Address  // the node key's address; zero if none
	Registry  Registry        //
	Consensus ConsensusReader // BFT validators only
	Network   Network
	Pool      PoolStats
	Staking   *Staking // the staking contract's parameters from genesis; nil without it
}

// The results of the arbiter_ methods. Heights, counts and times (unix
// milliseconds) are JSON numbers; amounts of wei are hex quantities.
type (
	// Status is the result of arbiter_status.
	Status struct {
		Engine      string     `json:"engine"`
		ChainID     uint64     `json:"chainId"`
		Self        *Named     `json:"self"` // null without a node key
		Head        BlockRef   `json:"head"`
		Final       *BlockRef  `json:"final"` // null before anything is final
		FinalityLag uint64     `json:"finalityLag"`
		Consensus   *Consensus `json:"consensus"` // null unless a pos validator
		Peers       int        `json:"peers"`
		Pool        PoolSize   `json:"pool"`
		Sync        SyncStatus `json:"sync"`
		Staking     *Staking   `json:"staking"` // null without the staking contract
	}
	// Staking is the staking contract's parameters, fixed in genesis.json:
	// the epoch length and unbonding delay in blocks, the least stake of a
	// validator in wei.
	Staking struct {
		EpochLength    uint64       `json:"epochLength"`
		UnbondingDelay uint64       `json:"unbondingDelay"`
		MinStake       *hexutil.Big `json:"minStake"`
	}
	// Named is an address with its genesis name.
	Named struct {
		Address common.Address `json:"address"`
		Name    string         `json:"name"`
	}
	// BlockRef names a block.
	BlockRef struct {
		Number uint64      `json:"number"`
		Hash   common.Hash `json:"hash"`
		Time   uint64      `json:"time"` // header time, unix seconds
	}
	// Consensus is a pos validator's current height, round and step and
	// its last rounds.
	Consensus struct {
		Height uint64        `json:"height"`
		Round  uint32        `json:"round"`
		Step   string        `json:"step"` // commit, propose, prevote, precommit
		Since  int64         `json:"since"`
		Rounds []RoundTiming `json:"rounds"` // oldest first
	}
	// RoundTiming is one finished round: when it started and the
	// milliseconds spent in each step.
	RoundTiming struct {
		Height    uint64 `json:"height"`
		Round     uint32 `json:"round"`
		Start     int64  `json:"start"`
		Propose   int64  `json:"proposeMs"`
		Prevote   int64  `json:"prevoteMs"`
		Precommit int64  `json:"precommitMs"`
		Decided   bool   `json:"decided"`
	}
	// PoolSize is the pool's executable and future transactions.
	PoolSize struct {
		Pending int `json:"pending"`
		Queued  int `json:"queued"`
	}
	// SyncStatus compares the head with the best head peers report.
	SyncStatus struct {
		Current uint64 `json:"current"`
		Highest uint64 `json:"highest"`
		Syncing bool   `json:"syncing"`
	}
	// Validator is a staked account: its bonded stake, its voting power in
	// the set deciding the next block, and whether it is in that set.
	Validator struct {
		Address common.Address `json:"address"`
		Name    string         `json:"name"`
		Stake   *hexutil.Big   `json:"stake"`
		Power   uint64         `json:"power"`
		Active  bool           `json:"active"`
	}
	// Member is a consortium member and the block it was admitted at (0
	// for genesis members).
	Member struct {
		Address common.Address `json:"address"`
		Name    string         `json:"name"`
		Since   uint64         `json:"since"`
	}
	// Account is a non-member account a member vouched for; Allowed is
	// whether it may send transactions now (its voucher is a member).
	Account struct {
		Account common.Address `json:"account"`
		By      common.Address `json:"by"`
		ByName  string         `json:"byName"`
		Allowed bool           `json:"allowed"`
	}
	// Peer is a connected peer.
	Peer struct {
		ID        string         `json:"id"`
		Addrs     []string       `json:"addrs"`
		Member    common.Address `json:"member"`
		Name      string         `json:"name"`
		Connected int64          `json:"connectedSince"`
	}
	// RecentBlock is one block of arbiter_blocks.
	RecentBlock struct {
		Number   uint64         `json:"number"`
		Hash     common.Hash    `json:"hash"`
		Time     uint64         `json:"time"`
		Proposer common.Address `json:"proposer"`
		Name     string         `json:"name"`
		Txs      int            `json:"txs"`
		GasUsed  uint64         `json:"gasUsed"`
	}
)

// arbiterAPI serves the arbiter namespace: a read-only view of the
// consortium for operators (the console) and tools.
type arbiterAPI struct {
	chain Chain
	src   ArbiterSources
}

// RegisterArbiter publishes the arbiter_ methods over src. Call it before
// Serve.
func (s *Server) RegisterArbiter(src ArbiterSources) error {
	if src.Registry == nil {
		return errNoArbiter
	}
	if err := s.rpc.RegisterName("arbiter", &arbiterAPI{chain: s.chain, src: src}); err != nil {
		return fmt.Errorf("rpc: registering arbiter: %w", err)
	}
	return nil
}

// Status is arbiter_status: engine, head, final height and lag, the pos
// validator's height, round and step, peers, pool and sync.
func (api *arbiterAPI) Status() (*Status, error) {
	h, err := head(api.chain)
	if err != nil {
		return nil, err
	}
	st := &Status{
		Engine:  api.src.Engine,
		ChainID: api.chain.Config().ChainID.Uint64(),
		Head:    ref(h),
		Sync:    SyncStatus{Current: h.Number.Uint64(), Highest: h.Number.Uint64()},
		Staking: api.src.Staking,
	}
	if api.src.Self != (common.Address{}) {
		st.Self = &Named{Address: api.src.Self, Name: api.src.Registry.Name(api.src.Self)}
	}
	if f := api.chain.FinalizedHeader(); f != nil {
		r := ref(f)
		st.Final = &r
		st.FinalityLag = h.Number.Uint64() - min(f.Number.Uint64(), h.Number.Uint64())
	} else {
		st.FinalityLag = h.Number.Uint64()
	}
	if api.src.Consensus != nil {
		if c, ok := api.src.Consensus.Consensus(); ok {
			st.Consensus = &c
		}
	}
	if api.src.Network != nil {
		st.Peers = len(api.src.Network.Peers())
		st.Sync.Highest = max(st.Sync.Current, api.src.Network.SyncTarget())
		st.Sync.Syncing = st.Sync.Highest > st.Sync.Current+1
	}
	if api.src.Pool != nil {
		st.Pool.Pending, st.Pool.Queued = api.src.Pool.Stats()
	}
	return st, nil
}

// Validators is arbiter_validators(block): the staked accounts with their
// stakes, and each one's power and whether it is active in the set that
// decides the block after block. block defaults to latest.
func (api *arbiterAPI) Validators(block *gethrpc.BlockNumber) ([]Validator, error) {
	h, err := api.header(block)
	if err != nil {
		return nil, err
	}
	return orEmpty(api.src.Registry.Validators(h))
}

// Members is arbiter_members(block): the members in order of admission.
func (api *arbiterAPI) Members(block *gethrpc.BlockNumber) ([]Member, error) {
	h, err := api.header(block)
	if err != nil {
		return nil, err
	}
	return orEmpty(api.src.Registry.Members(h))
}

// Accounts is arbiter_accounts(block): the accounts members vouched for.
func (api *arbiterAPI) Accounts(block *gethrpc.BlockNumber) ([]Account, error) {
	h, err := api.header(block)
	if err != nil {
		return nil, err
	}
	return orEmpty(api.src.Registry.Accounts(h))
}

// Peers is arbiter_peers: the connected peers with their member addresses
// and names.
func (api *arbiterAPI) Peers() []Peer {
	if api.src.Network == nil {
		return []Peer{}
	}
	peers := api.src.Network.Peers()
	if peers == nil {
		return []Peer{}
	}
	for i := range peers {
		peers[i].Name = api.src.Registry.Name(peers[i].Member)
	}
	return peers
}

// Rounds is arbiter_rounds: the pos validator's last finished rounds,
// oldest first; empty unless the node validates.
func (api *arbiterAPI) Rounds() []RoundTiming {
	if api.src.Consensus != nil {
		if c, ok := api.src.Consensus.Consensus(); ok && c.Rounds != nil {
			return c.Rounds
		}
	}
	return []RoundTiming{}
}

// Blocks is arbiter_blocks(count): the newest count canonical blocks
// (at most MaxRecentBlocks), newest first, with proposer and transaction
// count.
func (api *arbiterAPI) Blocks(count int) ([]RecentBlock, error) {
	if count <= 0 || count > MaxRecentBlocks {
		return nil, invalidParams("count must be 1 to %d", MaxRecentBlocks)
	}
	h, err := head(api.chain)
	if err != nil {
		return nil, err
	}
	out := make([]RecentBlock, 0, count)
	for n := h.Number.Uint64(); len(out) < count; n-- {
		b := api.chain.GetBlockByNumber(n)
		if b == nil {
			break
		}
		rb := RecentBlock{Number: n, Hash: b.Hash(), Time: b.Time(), Txs: len(b.Transactions()), GasUsed: b.GasUsed()}
		if n > 0 {
			if a, err := api.src.Registry.Author(b.Header()); err == nil {
				rb.Proposer, rb.Name = a, api.src.Registry.Name(a)
			}
		}
		out = append(out, rb)
		if n == 0 {
			break
		}
	}
	return out, nil
}

// header resolves an optional block number or tag (latest when absent).
func (api *arbiterAPI) header(block *gethrpc.BlockNumber) (*types.Header, error) {
	bn := gethrpc.LatestBlockNumber
	if block != nil {
		bn = *block
	}
	var h *types.Header
	switch bn {
	case gethrpc.LatestBlockNumber, gethrpc.PendingBlockNumber:
		h = api.chain.CurrentHeader()
	case gethrpc.FinalizedBlockNumber, gethrpc.SafeBlockNumber:
		if h = api.chain.FinalizedHeader(); h == nil {
			return nil, errFinalizedNotFound
		}
	case gethrpc.EarliestBlockNumber:
		h = api.chain.GetHeaderByNumber(0)
	default:
		if bn < 0 {
			return nil, invalidParams("invalid block number %d", bn)
		}
		h = api.chain.GetHeaderByNumber(uint64(bn))
	}
	if h == nil {
		return nil, errHeaderNotFound
	}
	return h, nil
}

func ref(h *types.Header) BlockRef {
	return BlockRef{Number: h.Number.Uint64(), Hash: h.Hash(), Time: h.Time}
}

// orEmpty turns a nil slice into an empty one, so JSON shows [] not null.
func orEmpty[T any](s []T, err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	if s == nil {
		s = []T{}
	}
	return s, nil
}
