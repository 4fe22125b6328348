package contracts

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/contracts/native"
	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/genesis"
)

// Errors New and NewByName refuse a configuration with.
var (
	// ErrUnknownContract is returned for a name no built-in contract has.
	ErrUnknownContract = errors.New("unknown contract")
	// ErrDuplicate is returned when two enabled contracts share a name or an address.
	ErrDuplicate = errors.New("duplicate contract")
	// ErrNoChainID is returned for a nil chain id.
	ErrNoChainID = errors.New("chain id required")
)

// errNoContract is the revert reason for a call to an address without an
// enabled contract; the chain only calls Run for addresses Has accepts.
var errNoContract = errors.New("no contract at this address")

// Builtin returns every contract this node can run, in a fixed order. The
// membership contract refuses to remove the last validator that is a
// member (staking.CheckRemoval); on a chain without staking it allows
// every removal.
func Builtin() []native.Contract {
	return []native.Contract{membership.New(membership.WithRemovalCheck(staking.CheckRemoval)), chess.New(), staking.New()}
}

// Seeder is implemented by contracts that write their own storage at
// genesis. st is the genesis state; a contract writes only its own account.
type Seeder interface {
	SeedGenesis(g *genesis.Genesis, st *state.StateDB) error
}

// Registry runs the enabled native contracts. It is immutable after New
// and safe for concurrent use; all state is in the StateDB of each call.
type Registry struct {
	chainID *big.Int
	list    []*native.Compiled // in the order enabled
	byAddr  map[common.Address]*native.Compiled
}

var _ chain.Contracts = (*Registry)(nil)

// New compiles the enabled contracts into a registry for chain chainID.
func New(chainID *big.Int, enabled ...native.Contract) (*Registry, error) {
	if chainID == nil {
		return nil, ErrNoChainID
	}
	r := &Registry{chainID: new(big.Int).Set(chainID), byAddr: make(map[common.Address]*native.Compiled, len(enabled))}
	names := make(map[string]bool, len(enabled))
	for _, c := range enabled {
		if names[c.Name()] {
			return nil, fmt.Errorf("%w: name %q", ErrDuplicate, c.Name())
		}
		if _, ok := r.byAddr[c.Address()]; ok {
			return nil, fmt.Errorf("%w: address %s", ErrDuplicate, c.Address())
		}
		compiled, err := native.Compile(c)
		if err != nil {
			return nil, err
		}
		names[c.Name()] = true
		r.byAddr[c.Address()] = compiled
		r.list = append(r.list, compiled)
	}
	return r, nil
}

// NewByName builds a registry of the built-in contracts named, as listed
// in genesis.json ("membership", "chess").
func NewByName(chainID *big.Int, names ...string) (*Registry, error) {
	enabled := make([]native.Contract, 0, len(names))
	for _, name := range names {
		c, err := ByName(name)
		if err != nil {
			return nil, err
		}
		enabled = append(enabled, c)
	}
	return New(chainID, enabled...)
}

// ByName returns the built-in contract called name.
func ByName(name string) (native.Contract, error) {
	for _, c := range Builtin() {
		if c.Name() == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownContract, name)
}

// Contracts returns the enabled contracts in the order enabled.
func (r *Registry) Contracts() []native.Contract {
	out := make([]native.Contract, len(r.list))
	for i, c := range r.list {
		out[i] = c.Contract()
	}
	return out
}

// Has reports whether a contract is enabled at addr.
func (r *Registry) Has(addr common.Address) bool {
	_, ok := r.byAddr[addr]
	return ok
}

// Run executes a call to the contract at to; value has already moved from
// from to to. A failed call returns a *chain.RevertError and leaves the
// state as it found it (value included, which the chain moved back).
func (r *Registry) Run(env chain.Env, st *state.StateDB, from, to common.Address, value *uint256.Int, input []byte, gas uint64) ([]byte, uint64, error) {
	c, ok := r.byAddr[to]
	if !ok {
		return nil, 0, chain.NewRevert(errNoContract.Error())
	}
	ret, used, err := c.Execute(st, native.Call{
		ChainID: r.chainID,
		Number:  env.Number,
		Time:    env.Time,
		Caller:  from,
		Value:   value,
		Input:   input,
		Gas:     gas,
	})
	if err != nil {
		var rev *native.Revert
		if errors.As(err, &rev) {
			return nil, used, chain.NewRevert(rev.Reason)
		}
		return nil, used, chain.NewRevert(err.Error())
	}
	return ret, used, nil
}

// SeedGenesis gives every enabled contract's account nonce 1, so that
// EIP-158 never deletes it and its storage as empty, and lets contracts
// that implement Seeder write their genesis storage. The chain calls it
// after seeding allocations and the member set.
func (r *Registry) SeedGenesis(g *genesis.Genesis, st *state.StateDB) error {
	for _, c := range r.list {
		if st.GetNonce(c.Contract().Address()) == 0 {
			st.SetNonce(c.Contract().Address(), 1, tracing.NonceChangeGenesis)
		}
		if s, ok := c.Contract().(Seeder); ok {
			if err := s.SeedGenesis(g, st); err != nil {
				return fmt.Errorf("seed %s: %w", c.Contract().Name(), err)
			}
		}
	}
	return nil
}
