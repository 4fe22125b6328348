package chain

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/consensus"
)

// check says what an entry point asks of validate beyond the shared checks.
type check struct {
	// cert is the block's certificate, verified under a certifying engine
	// (import); nil skips the check (a proposal, or the PoW engine).
	cert []byte
	// proposal marks a block that is judged before it is decided
	// (ValidateBlock): no certificate is expected.
	proposal bool
	// stored marks a block already stored (VerifyHead after a restart):
	// it is not refused for being at the final height, and it is executed
	// afresh, never from a cached result.
	stored bool
	// parent is the block's parent when it is not stored yet: the block
	// before it in an InsertChain run, validated and pending in the run's
	// batch. The run has checked that block's descent from the final
	// block, so this one is not checked again.
	parent *types.Block
	// covered leaves out the header's signatures and the certificate: an
	// InsertChain run proves the block later by the certificate of a
	// descendant with the same certifiers (consensus.Coverer), and writes
	// it only then.
	covered bool
}

// validated is a block that passed validate, with what its execution made.
type validated struct {
	parent   *types.Block
	receipts types.Receipts
	state    *state.StateDB // the state after the block, not yet committed
}

// validate is the one sequence of checks every way into the chain shares
// (InsertBlock, InsertCertified, InsertChain, ValidateBlock, VerifyHead),
// cheapest first: the number, the parent stored, descent from the final
// block, the chain's header rules and the engine's proof, the certificate
// (under a certifying engine, when given), then execution on the parent's
// state with every execution-derived header field, and the state root.
// Each entry point adds only what it needs around it.
func (c *Chain) validate(block *types.Block, ck check) (*validated, error) {
	num := block.NumberU64()
	if num == 0 {
		return nil, fmt.Errorf("%w: a second genesis", consensus.ErrInvalidNumber)
	}
	parent := ck.parent
	if parent == nil {
		parent = c.GetBlockByHash(block.ParentHash())
	}
	if parent == nil || parent.Hash() != block.ParentHash() {
		return nil, fmt.Errorf("%w: parent %x of block %d", consensus.ErrUnknownAncestor, block.ParentHash(), num)
	}
	if !ck.stored && ck.parent == nil {
		if err := c.checkFinalized(block); err != nil {
			return nil, err
		}
	}
	// The engine reads the parent's state (membership, stake), and so does
	// execution. A parent's state that is neither held in memory nor on
	// disk (a side block's parent under proof-of-work, or VerifyHead's
	// after a restart) is re-executed from its stored ancestors, at most
	// maxRecover blocks, but only for a block whose header passed every
	// check but membership: a forged seal costs no re-execution. A
	// proposal's parent is the head, always held.
	// A body this node built or validated is not hashed again (knownBody).
	var known, remembered bool
	if !ck.stored {
		known, remembered = c.knownBody(block)
	}
	err := c.verifyHeader(block, parent.Header(), ck.covered, known)
	if errors.Is(err, consensus.ErrNotMember) && !c.hasState(parent.Root()) {
		if rerr := c.recoverState(parent, maxRecover); rerr != nil {
			return nil, rerr
		}
		err = c.verifyHeader(block, parent.Header(), ck.covered, known)
	}
	if err != nil {
		return nil, err
	}
	if c.certifier != nil && !ck.proposal && !ck.covered {
		if err := c.certifier.VerifyCertificate(c, block.Header(), ck.cert); err != nil {
			return nil, err
		}
	}
	receipts, st, err := c.execute(block, parent, ck.stored)
	if err != nil {
		return nil, err
	}
	if root := st.IntermediateRoot(c.config.Rules(block.Number(), false, block.Time())); root != block.Root() {
		return nil, fmt.Errorf("%w: have %x, want %x", ErrStateRoot, root, block.Root())
	}
	if !remembered {
		c.rememberSenders(block.Transactions())
	}
	return &validated{parent: parent, receipts: receipts, state: st}, nil
}
