package native

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
)

// Host is the state a call runs against; *state.StateDB satisfies it.
type Host interface {
	GetState(addr common.Address, key common.Hash) common.Hash
	SetState(addr common.Address, key, value common.Hash) common.Hash
	GetBalance(addr common.Address) *uint256.Int
	SubBalance(addr common.Address, amount *uint256.Int, reason tracing.BalanceChangeReason) uint256.Int
	AddBalance(addr common.Address, amount *uint256.Int, reason tracing.BalanceChangeReason) uint256.Int
	GetNonce(addr common.Address) uint64
	AddLog(log *types.Log)
	Snapshot() int
	RevertToSnapshot(id int)
}

// Call is one message to a contract. The value has already moved from
// Caller to the contract when Execute runs.
type Call struct {
	ChainID *big.Int
	Number  uint64 // block number
	Time    uint64 // block time, seconds
	Caller  common.Address
	Value   *uint256.Int
	Input   []byte
	Gas     uint64
}

// Context is what a handler sees of the world during one call. It is not
// safe for concurrent use and must not be kept after the handler returns.
type Context struct {
	host   Host
	self   common.Address
	call   Call
	events map[string]abi.Event
	gas    meter
	err    error // sticky: the first failure of a Context operation
}

// Caller returns the address that sent the call.
func (c *Context) Caller() common.Address { return c.call.Caller }

// Value returns a copy of the value sent with the call, already in the
// contract's balance.
func (c *Context) Value() *uint256.Int {
	if c.call.Value == nil {
		return new(uint256.Int)
	}
	return new(uint256.Int).Set(c.call.Value)
}

// Self returns the contract's own address.
func (c *Context) Self() common.Address { return c.self }

// ChainID returns a copy of the chain id.
func (c *Context) ChainID() *big.Int { return new(big.Int).Set(c.call.ChainID) }

// Number returns the number of the block the call executes in.
func (c *Context) Number() uint64 { return c.call.Number }

// Time returns the timestamp of the block the call executes in.
func (c *Context) Time() uint64 { return c.call.Time }

// TxNonce returns the nonce of the transaction that made the call. The
// chain increments the sender's nonce before it runs the contract, so this
// is the caller's account nonce minus one. Under eth_call, which does not
// increment it, the result is one less than the nonce the next transaction
// will use (and 0 for an account that never sent one).
func (c *Context) TxNonce() uint64 {
	n := c.host.GetNonce(c.call.Caller)
	if n == 0 {
		return 0
	}
	return n - 1
}

// Err returns the first failure of a Context operation: ErrOutOfGas, or
// ErrInternal for an event that does not match the ABI. Once set, Get
// returns zero and Set, Transfer and Emit do nothing.
func (c *Context) Err() error { return c.err }

// UseGas charges gas for work the handler does itself, such as verifying a
// signature, before it does it. It returns Err.
func (c *Context) UseGas(gas uint64) error {
	if c.err == nil && !c.gas.charge(gas) {
		c.err = ErrOutOfGas
	}
	return c.err
}

// Get reads a slot of the contract's own storage.
func (c *Context) Get(key common.Hash) common.Hash {
	if c.UseGas(GasSload) != nil {
		return common.Hash{}
	}
	return c.host.GetState(c.self, key)
}

// ReadState reads a slot of another contract's storage, read-only: the one
// way a contract learns what another decided (the staking contract asks the
// membership contract who is a member). Writing stays limited to Set.
func (c *Context) ReadState(contract common.Address, key common.Hash) common.Hash {
	if c.UseGas(GasSload) != nil {
		return common.Hash{}
	}
	return c.host.GetState(contract, key)
}

// Set writes a slot of the contract's own storage.
func (c *Context) Set(key, value common.Hash) {
	if c.err != nil {
		return
	}
	old := c.host.GetState(c.self, key)
	gas := GasSstoreReset
	switch {
	case old == value:
		gas = GasSload
	case old == (common.Hash{}):
		gas = GasSstoreSet
	}
	if c.UseGas(gas) == nil {
		c.host.SetState(c.self, key, value)
	}
}

// Balance returns the contract's own balance.
func (c *Context) Balance() *uint256.Int {
	if c.UseGas(GasSload) != nil {
		return new(uint256.Int)
	}
	return new(uint256.Int).Set(c.host.GetBalance(c.self))
}

// Transfer moves amount from the contract's own balance to to. It fails
// with ErrInsufficientBalance if the contract holds less, or with Err.
func (c *Context) Transfer(to common.Address, amount *uint256.Int) error {
	if err := c.UseGas(GasTransfer); err != nil {
		return err
	}
	if c.host.GetBalance(c.self).Cmp(amount) < 0 {
		return fmt.Errorf("%w: transfer of %v", ErrInsufficientBalance, amount)
	}
	if amount.IsZero() {
		return nil
	}
	c.host.SubBalance(c.self, amount, tracing.BalanceChangeTransfer)
	c.host.AddBalance(to, amount, tracing.BalanceChangeTransfer)
	return nil
}

// Emit logs the ABI event name with args given in the event's input order,
// indexed ones included. Indexed arguments become topics after the event
// id; the others are ABI-encoded as the log's data.
func (c *Context) Emit(name string, args ...any) {
	if c.err != nil {
		return
	}
	log, err := c.buildLog(name, args)
	if err != nil {
		c.err = fmt.Errorf("%w: event %s: %v", ErrInternal, name, err)
		return
	}
	if c.UseGas(GasLog+GasLogTopic*uint64(len(log.Topics))+GasLogByte*uint64(len(log.Data))) == nil {
		c.host.AddLog(log)
	}
}

func (c *Context) buildLog(name string, args []any) (*types.Log, error) {
	ev, ok := c.events[name]
	if !ok {
		return nil, errors.New("not in the ABI")
	}
	if len(args) != len(ev.Inputs) {
		return nil, fmt.Errorf("%d arguments, want %d", len(args), len(ev.Inputs))
	}
	topics := []common.Hash{ev.ID}
	var data []any
	for i, in := range ev.Inputs {
		if !in.Indexed {
			data = append(data, args[i])
			continue
		}
		t, err := abi.MakeTopics([]any{args[i]})
		if err != nil {
			return nil, err
		}
		topics = append(topics, t[0][0])
	}
	packed, err := ev.Inputs.NonIndexed().Pack(data...)
	if err != nil {
		return nil, err
	}
	return &types.Log{Address: c.self, Topics: topics, Data: packed, BlockNumber: c.call.Number}, nil
}
