package node

import (
	"bytes"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/p2p"
	"github.com/arbiter-chain/arbiter/node/rpc"
)

// maxVouchScan bounds the headers one arbiter_accounts call examines for
// new vouchers; a longer chain is indexed over several calls.
const maxVouchScan = 20_000

// accountAllowedTopic is the membership contract's AccountAllowed event.
var accountAllowedTopic = crypto.Keccak256Hash([]byte("AccountAllowed(address,address)"))

// arbiterSources gathers what the arbiter_ JSON-RPC namespace reads.
func (n *Node) arbiterSources() rpc.ArbiterSources {
	src := rpc.ArbiterSources{
		Engine:    n.chain.Genesis().Engine,
		Registry:  newRegistry(n.chain),
		Consensus: consensusReader{&n.driver},
		Network:   networkReader{&n.peers},
		Pool:      n.pool,
	}
	if g := n.chain.Genesis(); slices.Contains(g.Contracts, "staking") {
		p := g.StakingParams()
		src.Staking = &rpc.Staking{EpochLength: p.EpochLength, UnbondingDelay: p.UnbondingDelay, MinStake: (*hexutil.Big)(p.MinStake.ToBig())}
	}
	if n.cfg.Key != nil {
		src.Self = n.address()
	}
	return src
}

// registry implements rpc.Registry over the chain's state.
type registry struct {
	chain *chain.Chain
	names map[common.Address]string
	stake map[common.Address]*big.Int // genesis stakes, for pos without the staking contract

	mu      sync.Mutex
	scanned uint64                      // vouchers indexed in blocks 1..scanned
	seen    map[common.Address]struct{} // accounts ever vouched for (a superset)
	vouched []common.Address            // seen, ordered
}

func newRegistry(c *chain.Chain) *registry {
	r := &registry{chain: c, names: map[common.Address]string{}, stake: map[common.Address]*big.Int{}, seen: map[common.Address]struct{}{}}
	g := c.Genesis()
	for _, m := range g.Members {
		r.names[m.Address] = m.Name
		if m.Stake != nil {
			r.stake[m.Address] = (*big.Int)(m.Stake)
		}
	}
	for _, a := range g.Allowed {
		r.add(a.Account)
	}
	return r
}

// Name implements rpc.Registry.
func (r *registry) Name(a common.Address) string { return r.names[a] }

// Author implements rpc.Registry.
func (r *registry) Author(h *types.Header) (common.Address, error) { return r.chain.Engine().Author(h) }

// Validators implements rpc.Registry: the union of the accounts with a
// bonded stake and the set deciding the block after h, ordered by address.
// Under proof-of-work there are none.
func (r *registry) Validators(h *types.Header) ([]rpc.Validator, error) {
	eng, ok := r.chain.Engine().(*pos.Engine)
	if !ok {
		return nil, nil
	}
	// The state first: StateAt only opens a state held or written, so an
	// RPC client never makes the node re-execute blocks for an old height
	// (the validator source would, decision 35).
	st, err := r.chain.StateAt(h.Root)
	if err != nil {
		return nil, err
	}
	set, err := eng.Validators().ValidatorSet(h.Number.Uint64()+1, h.Hash())
	if err != nil {
		return nil, err
	}
	stakes := map[common.Address]*big.Int{}
	if slices.Contains(r.chain.Genesis().Contracts, "staking") {
		for _, s := range staking.Bonded(st) {
			stakes[s.Account] = s.Bonded
		}
	} else {
		for a, s := range r.stake {
			stakes[a] = s
		}
	}
	var out []rpc.Validator
	for a, s := range stakes {
		v := rpc.Validator{Address: a, Name: r.names[a], Stake: (*hexutil.Big)(new(big.Int).Set(s))}
		v.Power, v.Active = set.Power(a)
		out = append(out, v)
	}
	for _, v := range set.Validators() {
		if _, ok := stakes[v.Address]; !ok {
			out = append(out, rpc.Validator{Address: v.Address, Name: r.names[v.Address], Stake: (*hexutil.Big)(new(big.Int)), Power: v.Power, Active: true})
		}
	}
	if err := st.Error(); err != nil {
		return nil, fmt.Errorf("state unavailable: %w", err)
	}
	slices.SortFunc(out, func(a, b rpc.Validator) int { return bytes.Compare(a.Address[:], b.Address[:]) })
	return out, nil
}

// Members implements rpc.Registry: the members at h in order of admission,
// with the block each was admitted at.
func (r *registry) Members(h *types.Header) ([]rpc.Member, error) {
	st, err := r.chain.StateAt(h.Root)
	if err != nil {
		return nil, err
	}
	addrs := membership.Members(st)
	out := make([]rpc.Member, 0, len(addrs))
	for _, a := range addrs {
		_, since := membership.MemberAt(st, a, h.Number.Uint64())
		out = append(out, rpc.Member{Address: a, Name: r.names[a], Since: since})
	}
	if err := st.Error(); err != nil {
		return nil, fmt.Errorf("state unavailable: %w", err)
	}
	return out, nil
}

// Accounts implements rpc.Registry: every account vouched for at h. The
// candidates are genesis's allowed accounts and the subjects of
// AccountAllowed events, indexed incrementally (at most maxVouchScan
// headers a call); the state at h decides which still hold a voucher.
func (r *registry) Accounts(h *types.Header) ([]rpc.Account, error) {
	r.index(h.Number.Uint64())
	st, err := r.chain.StateAt(h.Root)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	cands := slices.Clone(r.vouched)
	r.mu.Unlock()
	var out []rpc.Account
	for _, a := range cands {
		by, ok := membership.VoucherOf(st, a)
		if !ok || membership.IsMember(st, a) {
			continue
		}
		out = append(out, rpc.Account{Account: a, By: by, ByName: r.names[by], Allowed: membership.IsMember(st, by)})
	}
	if err := st.Error(); err != nil {
		return nil, fmt.Errorf("state unavailable: %w", err)
	}
	return out, nil
}

// index scans blocks after the last scanned up to upTo (at most
// maxVouchScan of them) for AccountAllowed events. A header's bloom rules
// out most blocks without reading receipts. Canonical blocks a reorg later
// replaces may leave extra candidates, which the state check drops.
func (r *registry) index(upTo uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := min(upTo, r.scanned+maxVouchScan)
	for n := r.scanned + 1; n <= last; n++ {
		h := r.chain.GetHeaderByNumber(n)
		if h == nil {
			break
		}
		if types.BloomLookup(h.Bloom, membership.Address) && types.BloomLookup(h.Bloom, accountAllowedTopic) {
			receipts, err := r.chain.GetReceipts(h.Hash())
			if err != nil {
				break
			}
			for _, rc := range receipts {
				for _, l := range rc.Logs {
					if l.Address == membership.Address && len(l.Topics) == 3 && l.Topics[0] == accountAllowedTopic {
						r.addLocked(common.BytesToAddress(l.Topics[1][12:]))
					}
				}
			}
		}
		r.scanned = n
	}
}

func (r *registry) add(a common.Address) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(a)
}

func (r *registry) addLocked(a common.Address) {
	if _, ok := r.seen[a]; ok {
		return
	}
	r.seen[a] = struct{}{}
	i, _ := slices.BinarySearchFunc(r.vouched, a, func(x, y common.Address) int { return bytes.Compare(x[:], y[:]) })
	r.vouched = slices.Insert(r.vouched, i, a)
}

// consensusReader reports the pos driver's status once it runs.
type consensusReader struct{ d *atomic.Pointer[pos.Driver] }

func (c consensusReader) Consensus() (rpc.Consensus, bool) {
	d := c.d.Load()
	if d == nil {
		return rpc.Consensus{}, false
	}
	s := d.Status()
	out := rpc.Consensus{Height: s.Height, Round: s.Round, Step: s.Step, Since: s.Since.UnixMilli(), Rounds: make([]rpc.RoundTiming, len(s.Rounds))}
	for i, r := range s.Rounds {
		out.Rounds[i] = rpc.RoundTiming{
			Height: r.Height, Round: r.Round, Start: r.Start.UnixMilli(),
			Propose: r.Propose.Milliseconds(), Prevote: r.Prevote.Milliseconds(), Precommit: r.Precommit.Milliseconds(),
			Decided: r.Decided,
		}
	}
	return out, true
}

// networkReader reports peers once the p2p layer runs.
type networkReader struct{ p *atomic.Pointer[p2p.Node] }

func (r networkReader) Peers() []rpc.Peer {
	n := r.p.Load()
	if n == nil {
		return nil
	}
	infos := n.PeerInfos()
	out := make([]rpc.Peer, len(infos))
	for i, p := range infos {
		out[i] = rpc.Peer{ID: p.ID, Addrs: p.Addrs, Member: p.Member, Connected: p.Since.UnixMilli()}
	}
	return out
}

func (r networkReader) SyncTarget() uint64 {
	if n := r.p.Load(); n != nil {
		return n.SyncTarget()
	}
	return 0
}
