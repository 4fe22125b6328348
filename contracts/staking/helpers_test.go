package staking_test

import (
	"bytes"
	"crypto/ecdsa"
	"math/big"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/contracts"
	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/store"
)

var (
	addr       = chaintest.Addr
	ether      = chaintest.Ether
	chainID    = big.NewInt(chaintest.ChainID)
	stakingABI = func() abi.ABI {
		a, err := abi.JSON(bytes.NewReader(staking.ABIJSON))
		if err != nil {
			panic(err) // TestABI reports it
		}
		return a
	}()
)

// stake is a genesis stake of a member, in ether.
type stake struct {
	name  string
	ether int64
}

// setup describes a test chain: members A, B, C, D with the stakes given
// (the others none), the allowed account P and the funded, not allowed X.
type setup struct {
	stakes []stake
	opts   []staking.Option
}

// open starts a chain with the membership and staking contracts. chaintest
// cannot give members a stake or the contract other parameters, so it
// builds its chain and open replaces it with one whose genesis is the same
// but for the stakes: the Env's engine, keys and signer stay valid.
func open(t testing.TB, s setup) (*chaintest.Env, error) {
	t.Helper()
	e := chaintest.New(t, chaintest.Config{
		Members:   []string{"A", "B", "C", "D", "P"},
		Allowed:   []string{"Q"},
		Funded:    []string{"X"},
		Contracts: []string{"membership"},
	})
	g := *e.Chain.Genesis()
	g.Members = slices.Clone(g.Members)
	for _, st := range s.stakes {
		i := slices.IndexFunc(g.Members, func(m genesis.Member) bool { return m.Address == addr(st.name) })
		if i < 0 {
			t.Fatalf("stake of %s: not a member", st.name)
		}
		g.Members[i].Stake = (*math.HexOrDecimal256)(ether(st.ether))
	}
	reg, err := contracts.New(chainID, membership.New(membership.WithRemovalCheck(staking.CheckRemoval)), staking.New(s.opts...))
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	db, err := store.OpenInMemory()
	if err != nil {
		t.Fatalf("open db: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := chain.New(db, &g, e.Chain.Engine(), chain.WithContracts(reg))
	if err != nil {
		return nil, err
	}
	e.Chain, e.Registry = c, reg
	return e, nil
}

// newChain is open for a setup that must succeed.
func newChain(t *testing.T, s setup) *chaintest.Env {
	t.Helper()
	e, err := open(t, s)
	if err != nil {
		t.Fatalf("new chain: %v", err)
	}
	return e
}

// call sends method from name in a block of its own and checks the revert
// reason ("" for success).
func call(t *testing.T, e *chaintest.Env, from, method string, value *big.Int, want string, args ...any) chaintest.Result {
	t.Helper()
	r := e.Exec(from, staking.Address, value, chaintest.Pack(t, stakingABI, method, args...))
	if r.Reason != want {
		t.Fatalf("%s by %s at block %d: have reason %q, want %q", method, from, r.Receipt.BlockNumber, r.Reason, want)
	}
	return r
}

// mineTo mines empty blocks until the head is block n.
func mineTo(t *testing.T, e *chaintest.Env, n uint64) {
	t.Helper()
	if e.Number() > n {
		t.Fatalf("head %d is past %d", e.Number(), n)
	}
	e.MineEmpty(int(n - e.Number()))
}

// stateAt returns the state after block n of e's canonical chain.
func stateAt(t *testing.T, e *chaintest.Env, n uint64) *state.StateDB {
	t.Helper()
	b := e.Chain.GetBlockByNumber(n)
	if b == nil {
		t.Fatalf("no block %d", n)
	}
	st, err := e.Chain.StateOf(b.Header())
	if err != nil {
		t.Fatalf("state %d: %v", n, err)
	}
	return st
}

// setFor returns the validators of height read from its parent's state.
func setFor(t *testing.T, e *chaintest.Env, height uint64) []pos.Validator {
	t.Helper()
	vals, err := staking.ValidatorsAt(stateAt(t, e, height-1), height)
	if err != nil {
		t.Fatalf("ValidatorsAt(%d): %v", height, err)
	}
	return vals
}

// vals builds the expected validators, ordered by address, from names and powers.
func vals(pairs ...any) []pos.Validator {
	out := make([]pos.Validator, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, pos.Validator{Address: addr(pairs[i].(string)), Power: uint64(pairs[i+1].(int))})
	}
	slices.SortFunc(out, func(a, b pos.Validator) int { return bytes.Compare(a.Address[:], b.Address[:]) })
	return out
}

// view calls method at the head.
func view(t *testing.T, e *chaintest.Env, method string, args ...any) []any {
	t.Helper()
	return e.View(stakingABI, staking.Address, method, args...)
}

// stakeOf returns name's bonded and unbonding stake at the head.
func stakeOf(t *testing.T, e *chaintest.Env, name string) (*big.Int, *big.Int) {
	t.Helper()
	out := view(t, e, "stakeOf", addr(name))
	return out[0].(*big.Int), out[1].(*big.Int)
}

// logged is one event of a receipt: its name and unpacked arguments,
// indexed ones included, in ABI order.
type logged struct {
	name string
	args []any
}

// events decodes the staking events of r.
func events(t *testing.T, r chaintest.Result) []logged {
	t.Helper()
	var out []logged
	for _, l := range r.Receipt.Logs {
		if l.Address != staking.Address {
			t.Fatalf("log address: have %s, want %s", l.Address, staking.Address)
		}
		ev, err := stakingABI.EventByID(l.Topics[0])
		if err != nil {
			t.Fatalf("log: %v", err)
		}
		data, err := ev.Inputs.NonIndexed().Unpack(l.Data)
		if err != nil {
			t.Fatalf("unpack %s: %v", ev.Name, err)
		}
		var args []any
		topic := 1
		for _, in := range ev.Inputs {
			if !in.Indexed {
				args = append(args, data[0])
				data = data[1:]
				continue
			}
			h := l.Topics[topic]
			topic++
			switch in.Type.T {
			case abi.AddressTy:
				args = append(args, common.BytesToAddress(h[:]))
			default:
				args = append(args, new(big.Int).SetBytes(h[:]).Uint64())
			}
		}
		out = append(out, logged{ev.Name, args})
	}
	return out
}

// signVote signs a vote of name's key the way pos validators do: over the
// vote's Digest for the chain id.
func signVote(t testing.TB, key *ecdsa.PrivateKey, typ pos.VoteType, height uint64, round uint32, hash common.Hash) pos.Vote {
	t.Helper()
	v := pos.Vote{Type: typ, Height: height, Round: round, BlockHash: hash}
	d := v.Digest(chainID)
	sig, err := crypto.Sign(d[:], key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	v.Signature = pos.Signature(sig)
	return v
}

// equivocation is the encoded evidence of name prevoting for two blocks at
// height, round 0.
func equivocation(t testing.TB, name string, height uint64) []byte {
	t.Helper()
	a := signVote(t, chaintest.Key(name), pos.Prevote, height, 0, common.Hash{1})
	b := signVote(t, chaintest.Key(name), pos.Prevote, height, 0, common.Hash{2})
	return pos.NewEvidence(&a, &b).Encode()
}
