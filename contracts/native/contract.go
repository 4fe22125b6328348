package native

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
)

// Contract describes a native contract. Implementations are stateless
// values: all state lives in the contract's storage.
type Contract interface {
	// Name is the contract's name in genesis.json ("membership", "chess").
	Name() string
	// Address is where the contract lives.
	Address() common.Address
	// ABI is the contract's ABI JSON.
	ABI() []byte
	// Handlers returns one handler per ABI method, by method name.
	Handlers() map[string]Handler
}

// Handler runs one ABI method. It returns the method's outputs in ABI order,
// or an error that reverts the call with the error's text as reason.
type Handler func(ctx *Context, args Args) ([]any, error)

// Args are the decoded arguments of a call.
type Args struct {
	method *abi.Method
	values []any
}

// Values returns the arguments in ABI order, as go-ethereum's abi package
// decodes them.
func (a Args) Values() []any { return a.values }

// Decode copies the arguments into the struct v points to, whose exported
// fields are named after the ABI arguments in CamelCase (gameId -> GameId).
// Tuple arguments go into struct fields named after the tuple's components
// the same way.
func (a Args) Decode(v any) error {
	if err := a.method.Inputs.Copy(v, a.values); err != nil {
		return fmt.Errorf("%w: %v", ErrBadArguments, err)
	}
	return nil
}

// Compiled is a contract ready to execute: its ABI parsed and its methods
// indexed by selector. It is immutable and safe for concurrent use.
type Compiled struct {
	contract  Contract
	abi       abi.ABI
	selectors map[[4]byte]*entry
}

type entry struct {
	method  abi.Method
	handler Handler
}

// Compile parses c's ABI and checks that every method has a handler and
// every handler a method.
func Compile(c Contract) (*Compiled, error) {
	parsed, err := abi.JSON(bytes.NewReader(c.ABI()))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadABI, c.Name(), err)
	}
	handlers := c.Handlers()
	out := &Compiled{contract: c, abi: parsed, selectors: make(map[[4]byte]*entry, len(parsed.Methods))}
	// Sorted names keep the error for a broken contract the same on every run.
	names := make([]string, 0, len(parsed.Methods))
	for name := range parsed.Methods {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		h, ok := handlers[name]
		if !ok || h == nil {
			return nil, fmt.Errorf("%w: %s: no handler for %s", ErrHandlers, c.Name(), name)
		}
		m := parsed.Methods[name]
		out.selectors[[4]byte(m.ID)] = &entry{method: m, handler: h}
	}
	if len(handlers) != len(parsed.Methods) {
		extra := make([]string, 0, len(handlers))
		for name := range handlers {
			if _, ok := parsed.Methods[name]; !ok {
				extra = append(extra, name)
			}
		}
		slices.Sort(extra)
		return nil, fmt.Errorf("%w: %s: handlers without a method: %v", ErrHandlers, c.Name(), extra)
	}
	return out, nil
}

// Contract returns the compiled contract.
func (c *Compiled) Contract() Contract { return c.contract }

// ABI returns the parsed ABI.
func (c *Compiled) ABI() abi.ABI { return c.abi }
