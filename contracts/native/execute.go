package native

import (
	"errors"
	"fmt"
)

// Execute runs call against host. It charges GasCall and the input words,
// looks the method up by its selector, refuses value sent to a non-payable
// method, decodes the arguments, runs the handler and encodes its outputs.
//
// On success it returns the ABI-encoded outputs and the gas used. On
// failure it undoes the call's state changes and returns a *Revert: with
// the gas used so far, or all of call.Gas when the call ran out of gas.
// Execute does not move call.Value; the caller has already done so and
// undoes it on error.
func (c *Compiled) Execute(host Host, call Call) (ret []byte, gasUsed uint64, err error) {
	ctx := &Context{
		host:   host,
		self:   c.contract.Address(),
		call:   call,
		events: c.abi.Events,
		gas:    meter{limit: call.Gas},
	}
	snap := host.Snapshot()
	ret, err = c.execute(ctx)
	if ctx.err != nil {
		err = ctx.err // out of gas beats whatever the handler made of it
	}
	if err == nil {
		return ret, ctx.gas.used, nil
	}
	host.RevertToSnapshot(snap)
	if errors.Is(err, ErrOutOfGas) {
		ctx.gas.used = call.Gas
	}
	return nil, ctx.gas.used, &Revert{Reason: err.Error(), Err: err}
}

func (c *Compiled) execute(ctx *Context) ([]byte, error) {
	input := ctx.call.Input
	if err := ctx.UseGas(GasCall + GasCopyWord*words(len(input))); err != nil {
		return nil, err
	}
	if len(input) < 4 {
		return nil, fmt.Errorf("%w: %d bytes", ErrShortInput, len(input))
	}
	e, ok := c.selectors[[4]byte(input[:4])]
	if !ok {
		return nil, fmt.Errorf("%w: 0x%x", ErrUnknownSelector, input[:4])
	}
	if !e.method.IsPayable() && ctx.call.Value != nil && !ctx.call.Value.IsZero() {
		return nil, fmt.Errorf("%w: %s", ErrNotPayable, e.method.Name)
	}
	values, err := e.method.Inputs.Unpack(input[4:])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadArguments, e.method.Name, err)
	}
	out, err := e.handler(ctx, Args{method: &e.method, values: values})
	if err != nil {
		return nil, err
	}
	if ctx.err != nil {
		return nil, ctx.err
	}
	ret, err := e.method.Outputs.Pack(out...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s outputs: %v", ErrInternal, e.method.Name, err)
	}
	if err := ctx.UseGas(GasCopyWord * words(len(ret))); err != nil {
		return nil, err
	}
	return ret, nil
}
