package contracts

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"

	"github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/contracts/native"
	"github.com/arbiter-chain/arbiter/contracts/staking"
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

// Registry runs the enabled native contracts. It is immutable after New
// and safe for concurrent use; all state is in the StateDB of each call.
type Registry struct {
	chainID     *big.Int
	list        []*native.Compiled // in the order enabled
	byAddr      map[common.Address]*native.Compiled
	permissions seededContract // the membership contract, enabled or not
}

// seededContract is a contract that seeds its storage at genesis.
type seededContract interface {
	native.Contract
	native.Seeder
}

// New compiles the enabled contracts into a registry for chain chainID.
func New(chainID *big.Int, enabled ...native.Contract) (*Registry, error) {
	if chainID == nil {
		return nil, ErrNoChainID
	}
	r := &Registry{chainID: new(big.Int).Set(chainID), byAddr: make(map[common.Address]*native.Compiled, len(enabled)), permissions: membership.New()}
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
		if m, ok := c.(membership.Contract); ok {
			r.permissions = m
		}
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

// NewByNameWith is NewByName where a contract of custom replaces the
// built-in contract of the same name (the staking contract with genesis
// parameters, say). A custom contract not named is not enabled.
func NewByNameWith(chainID *big.Int, names []string, custom ...native.Contract) (*Registry, error) {
	enabled := make([]native.Contract, 0, len(names))
	for _, name := range names {
		c, err := ByName(name)
		if err != nil {
			return nil, err
		}
		for _, cc := range custom {
			if cc.Name() == name {
				c = cc
			}
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

// Run executes call to the contract at to; the call's value has already
// moved from the caller to to. A failed call returns a *native.Revert (the
// chain turns it into revert data) and leaves the state as it found it
// (value included, which the chain moves back).
func (r *Registry) Run(st *state.StateDB, to common.Address, call native.Call) ([]byte, uint64, error) {
	c, ok := r.byAddr[to]
	if !ok {
		return nil, 0, &native.Revert{Reason: errNoContract.Error(), Err: errNoContract}
	}
	call.ChainID = r.chainID
	return c.Execute(st, call)
}

// IsMember reports whether addr is a consortium member in st: the
// membership contract's storage, which the chain reads for block producers
// and peers whether or not the contract is callable.
func (r *Registry) IsMember(st *state.StateDB, addr common.Address) bool {
	return membership.IsMember(st, addr)
}

// SeedGenesis seeds the genesis state: the membership contract's storage
// (the chain's permission system, seeded even when the contract is not
// callable), then every enabled contract that implements native.Seeder.
// Every contract account seeded or enabled gets nonce 1, so that EIP-158
// never deletes it and its storage as empty; this is the one place that
// rule lives.
func (r *Registry) SeedGenesis(g *native.Genesis, st *state.StateDB) error {
	keep := func(addr common.Address) {
		if st.GetNonce(addr) == 0 {
			st.SetNonce(addr, 1, tracing.NonceChangeGenesis)
		}
	}
	perm := r.permissions
	if err := perm.SeedGenesis(g, st); err != nil {
		return fmt.Errorf("seed membership: %w", err)
	}
	keep(perm.Address())
	for _, c := range r.list {
		keep(c.Contract().Address())
		if c.Contract().Address() == perm.Address() {
			continue // seeded above
		}
		if s, ok := c.Contract().(native.Seeder); ok {
			if err := s.SeedGenesis(g, st); err != nil {
				return fmt.Errorf("seed %s: %w", c.Contract().Name(), err)
			}
		}
	}
	return nil
}
