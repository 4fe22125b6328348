package chaintest

import (
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/native"
)

// FuzzGasCap bounds the gas of a fuzzed call: the test chain's default
// transaction gas, enough for every method to run to its end.
const FuzzGasCap = DefaultGas

// fuzzHangLimit is how long one fuzzed call may take before it counts as a
// hang; gas bounds every call to milliseconds.
const fuzzHangLimit = 10 * time.Second

// FuzzCalls fuzzes the ABI call data of contract c, executed through
// native.Compile(c).Execute against the state of e's head (a fresh copy
// for every input) by one of callers, with a fuzzed value (moved to the
// contract first, as the chain does) and gas limit up to FuzzGasCap. It
// seeds the corpus with a call of every method whose arguments are zero
// words, and with seeds (whole call data) under several gas limits.
//
// Whatever the input: Execute does not panic or hang; it uses at most the
// gas given; a failure is a *native.Revert that leaves the state root and
// the logs exactly as they were; a success returns output that unpacks
// under the method's ABI outputs.
func FuzzCalls(f *testing.F, e *Env, c native.Contract, callers []string, seeds ...[]byte) {
	f.Helper()
	compiled, err := native.Compile(c)
	if err != nil {
		f.Fatal(err)
	}
	head := e.Chain.CurrentBlock()
	rules := e.Chain.Config().Rules(new(big.Int).Add(head.Number(), big.NewInt(1)), false, head.Time()+1)
	parsed := compiled.ABI()
	names := make([]string, 0, len(parsed.Methods))
	for name := range parsed.Methods {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		m := parsed.Methods[name]
		input := append([]byte{}, m.ID...)
		input = append(input, make([]byte, 32*len(m.Inputs))...)
		f.Add(uint8(0), uint64(0), uint64(FuzzGasCap), input)
	}
	for i, s := range seeds {
		f.Add(uint8(i), uint64(0), uint64(FuzzGasCap), s)
		f.Add(uint8(i), uint64(1e18), uint64(FuzzGasCap/10), s)
		// Enough to start, too little to finish: a revert after writes.
		f.Add(uint8(i), uint64(0), uint64(25_000), s)
	}
	f.Fuzz(func(t *testing.T, who uint8, value, gas uint64, input []byte) {
		st, err := e.Chain.StateAt(head.Root())
		if err != nil {
			t.Fatal(err)
		}
		caller := Addr(callers[int(who)%len(callers)])
		gas %= FuzzGasCap + 1
		val := uint256.NewInt(value)
		if st.GetBalance(caller).Lt(val) {
			val.Clear()
		}
		st.SubBalance(caller, val, tracing.BalanceChangeTransfer)
		st.AddBalance(c.Address(), val, tracing.BalanceChangeTransfer)
		before := st.IntermediateRoot(rules)
		logs := len(st.Logs())
		call := native.Call{
			ChainID: big.NewInt(ChainID), Number: head.NumberU64() + 1, Time: head.Time() + 1,
			Caller: caller, Value: val, Input: input, Gas: gas,
		}

		var (
			ret  []byte
			used uint64
		)
		done := make(chan any, 1)
		go func() {
			defer func() { done <- recover() }()
			ret, used, err = compiled.Execute(st, call)
		}()
		select {
		case p := <-done:
			if p != nil {
				t.Fatalf("Execute panicked: %v", p)
			}
		case <-time.After(fuzzHangLimit):
			t.Fatalf("Execute did not return within %v", fuzzHangLimit)
		}

		if used > gas {
			t.Fatalf("used %d gas of %d", used, gas)
		}
		if err != nil {
			var rev *native.Revert
			if !errors.As(err, &rev) {
				t.Fatalf("failure %q is not a revert", err)
			}
			if ret != nil {
				t.Fatalf("a revert returned output %x", ret)
			}
			if after := st.IntermediateRoot(rules); after != before || len(st.Logs()) != logs {
				t.Fatalf("revert %q changed the state: root %s -> %s, logs %d -> %d", rev.Reason, before, after, logs, len(st.Logs()))
			}
			return
		}
		m, err := parsed.MethodById(input)
		if err != nil {
			t.Fatalf("a call without a known selector succeeded: %v", err)
		}
		if _, err := m.Outputs.Unpack(ret); err != nil {
			t.Fatalf("%s returned output that does not unpack: %v", m.Name, err)
		}
	})
}
