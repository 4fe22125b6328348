package p2p

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/rules"
)

// Per-topic size limits of gossip payloads.
const (
	maxTxGossip    = rules.MaxTxSize
	maxBlockGossip = chain.MaxBlockSize
	// maxGossipMessage bounds every pubsub message: the largest payload
	// plus the envelope (topic and framing).
	maxGossipMessage = maxBlockGossip + 64<<10
)

// Reasons a gossip message is dropped.
var (
	// errOversized: the payload exceeds its topic's limit.
	errOversized = errors.New("oversized payload")
	// errNotMember: the publisher or the block author is not a member.
	errNotMember = errors.New("not a member")
	// errKnown: the block is already stored.
	errKnown = errors.New("already known")
	// errBlockShape: the block breaks a structural rule of the chain.
	errBlockShape = errors.New("malformed block")
	// errUnknownParent: the block's parent is not stored, so it cannot be
	// judged or relayed; the node syncs from its publisher instead.
	errUnknownParent = errors.New("unknown parent")
	// errStateReleased: the parent's state is no longer held (decision
	// 35), so the author's membership cannot be read here.
	errStateReleased = errors.New("parent state released")
)

// Verdict results, named for readability.
const (
	accept = pubsub.ValidationAccept
	reject = pubsub.ValidationReject
	ignore = pubsub.ValidationIgnore
)

// blockChecker decides on gossiped blocks.
type blockChecker struct {
	chain     consensus.ChainHeaderReader
	engine    HeaderVerifier
	certifier consensus.Certifier // the engine, if it certifies blocks
	members   Members
}

func newBlockChecker(c consensus.ChainHeaderReader, engine HeaderVerifier, members Members) *blockChecker {
	cert, _ := engine.(consensus.Certifier)
	return &blockChecker{chain: c, engine: engine, certifier: cert, members: members}
}

// check decodes a gossiped block and checks what can be checked without
// executing it, cheapest first: size, decoding, shape, the author's seal
// and membership, then (with the parent known) the engine's header rules
// and, under a certifying engine, the certificate that the block was
// decided. A block whose parent is unknown is not relayed (it cannot be
// judged; the importer syncs from its publisher). Import happens after
// relay.
func (c *blockChecker) check(data []byte) (pubsub.ValidationResult, *gossipBlock, error) {
	if len(data) > maxBlockGossip {
		return reject, nil, fmt.Errorf("%w: %d bytes, limit %d", errOversized, len(data), maxBlockGossip)
	}
	// Every validator announces each block it decides, so a validator
	// receives each block up to once per peer, each copy with its own
	// certificate, and already holds it: the header alone tells, without
	// decoding the block's transactions.
	h := gossipHeader(data)
	if h != nil && c.chain.GetHeaderByHash(h.Hash()) != nil {
		return ignore, nil, errKnown
	}
	// Nor does a validator decode the block it validated as a proposal
	// and has not stored yet (its announcement often comes first): the
	// announced transactions are matched to its own by hash.
	gb := c.validatedCopy(data, h)
	if gb == nil {
		gb = new(gossipBlock)
		if err := rlp.DecodeBytes(data, gb); err != nil {
			return reject, nil, fmt.Errorf("%w: %v", errMalformed, err)
		}
		if len(gb.Cert) == 0 {
			gb.Cert = nil
		}
		if err := blockShape(gb.Block); err != nil {
			return reject, nil, err
		}
	}
	b := gb.Block
	if len(gb.Cert) > maxCertificate {
		return reject, nil, fmt.Errorf("%w: certificate of %d bytes", errBlockShape, len(gb.Cert))
	}
	if c.certifier != nil && gb.Cert == nil {
		return reject, nil, fmt.Errorf("%w: block %d", consensus.ErrNoCertificate, b.NumberU64())
	}
	if c.chain.GetHeaderByHash(b.Hash()) != nil {
		return ignore, nil, errKnown
	}
	h = b.Header()
	author, err := c.engine.Author(h)
	if err != nil {
		return reject, nil, fmt.Errorf("block author: %w", err)
	}
	// Membership counts in the parent's state, as import judges it; with
	// the parent unknown, in the head's.
	parent := c.chain.GetHeader(h.ParentHash, h.Number.Uint64()-1)
	if parent == nil {
		if !c.members.IsMember(author) {
			return reject, nil, fmt.Errorf("%w: block author %s", errNotMember, author)
		}
		return ignore, gb, fmt.Errorf("%w: parent of block %d", errUnknownParent, b.NumberU64())
	}
	if !c.chain.IsMember(parent, author) {
		// A parent whose state this node released (decision 35) cannot
		// judge membership here; import re-executes it if it must.
		if sk, ok := c.chain.(interface{ HasState(common.Hash) bool }); ok && !sk.HasState(parent.Root) {
			return ignore, nil, fmt.Errorf("%w: block %d: parent state not held", errStateReleased, b.NumberU64())
		}
		return reject, nil, fmt.Errorf("%w: block author %s", errNotMember, author)
	}
	if err := c.engine.VerifyHeader(c.chain, h, parent); err != nil {
		if errors.Is(err, consensus.ErrFutureBlock) {
			return ignore, nil, err // our clock may be behind
		}
		return reject, nil, err
	}
	if c.certifier != nil {
		if err := c.certifier.VerifyCertificate(c.chain, h, gb.Cert); err != nil {
			return reject, nil, err
		}
	}
	return accept, gb, nil
}

// validatedBlocks is the chain's view of the blocks it validated and has
// not stored yet: proposals whose execution it holds, and the block its
// import is storing.
type validatedBlocks interface {
	ValidatedBlock(hash common.Hash) *types.Block
}

// validatedCopy returns the announcement data of the block with header h
// as this node's own validated copy of that block with the announced
// certificate, if the chain holds one and the announcement carries exactly
// its transactions (each matched by the hash of its encoding) and nothing
// else; otherwise nil, and the announcement is decoded in full.
func (c *blockChecker) validatedCopy(data []byte, h *types.Header) *gossipBlock {
	vb, ok := c.chain.(validatedBlocks)
	if h == nil || !ok {
		return nil
	}
	local := vb.ValidatedBlock(h.Hash())
	if local == nil {
		return nil
	}
	cert, ok := sameTransactions(data, local.Transactions())
	if !ok {
		return nil
	}
	return &gossipBlock{Block: local, Cert: cert}
}

// sameTransactions reports whether the encoded gossipBlock data is the list
// [block, certificate] whose block is [header, transactions, no uncles]
// with exactly txs, in order, each encoded as a block body holds it (a
// legacy transaction as a list, a typed one as a string), and returns the
// certificate (nil if empty). A transaction's hash is the keccak256 of
// that encoding: a typed one's string content, a legacy one's whole list.
func sameTransactions(data []byte, txs types.Transactions) ([]byte, bool) {
	msg, rest, err := rlp.SplitList(data)
	if err != nil || len(rest) != 0 {
		return nil, false
	}
	block, certPart, err := rlp.SplitList(msg)
	if err != nil {
		return nil, false
	}
	cert, rest, err := rlp.SplitString(certPart)
	if err != nil || len(rest) != 0 {
		return nil, false
	}
	kind, _, body, err := rlp.Split(block)
	if err != nil || kind != rlp.List {
		return nil, false
	}
	list, body, err := rlp.SplitList(body)
	if err != nil {
		return nil, false
	}
	uncles, body, err := rlp.SplitList(body)
	if err != nil || len(uncles) != 0 || len(body) != 0 {
		return nil, false
	}
	n := 0
	for len(list) > 0 {
		kind, content, next, err := rlp.Split(list)
		if err != nil || n >= len(txs) {
			return nil, false
		}
		// A legacy transaction is a list, a typed one a string: the same
		// bytes in the other kind hash alike but do not decode.
		if kind == rlp.Byte || (kind == rlp.List) != (txs[n].Type() == types.LegacyTxType) {
			return nil, false
		}
		enc := content // a typed transaction: its type byte and payload
		if kind == rlp.List {
			enc = list[:len(list)-len(next)]
		}
		if crypto.Keccak256Hash(enc) != txs[n].Hash() {
			return nil, false
		}
		list, n = next, n+1
	}
	if n != len(txs) {
		return nil, false
	}
	if len(cert) == 0 {
		return nil, true
	}
	return bytes.Clone(cert), true
}

// gossipHeader decodes only the header of an encoded gossipBlock, or
// returns nil if the encoding is not one (the full decoding then says why).
func gossipHeader(data []byte) *types.Header {
	msg, _, err := rlp.SplitList(data)
	if err != nil {
		return nil
	}
	block, _, err := rlp.SplitList(msg)
	if err != nil {
		return nil
	}
	_, _, rest, err := rlp.Split(block)
	if err != nil {
		return nil
	}
	h := new(types.Header)
	if err := rlp.DecodeBytes(block[:len(block)-len(rest)], h); err != nil {
		return nil
	}
	return h
}

// blockShape checks the structural rules every block of the chain obeys.
func blockShape(b *types.Block) error {
	h := b.Header()
	switch {
	case h.Number == nil || !h.Number.IsUint64() || h.Number.Sign() == 0:
		return fmt.Errorf("%w: number %v", errBlockShape, h.Number)
	case len(h.Extra) > chain.MaxExtra:
		return fmt.Errorf("%w: %d bytes of extra", errBlockShape, len(h.Extra))
	case h.GasUsed > h.GasLimit:
		return fmt.Errorf("%w: gas used %d above limit %d", errBlockShape, h.GasUsed, h.GasLimit)
	case h.UncleHash != types.EmptyUncleHash || len(b.Uncles()) > 0:
		return fmt.Errorf("%w: uncles", errBlockShape)
	case h.WithdrawalsHash != nil || h.BlobGasUsed != nil || h.ExcessBlobGas != nil ||
		h.ParentBeaconRoot != nil || h.RequestsHash != nil || b.Withdrawals() != nil:
		return fmt.Errorf("%w: fields this chain does not use", errBlockShape)
	}
	if got := types.DeriveSha(b.Transactions(), trie.NewStackTrie(nil)); got != h.TxHash {
		return fmt.Errorf("%w: transactions root %x, header has %x", errBlockShape, got, h.TxHash)
	}
	return nil
}

// checkConsensus decides on a consensus message from a member.
func checkConsensus(data []byte, from common.Address, limit int, v ConsensusValidator) (pubsub.ValidationResult, error) {
	if len(data) > limit {
		return reject, fmt.Errorf("%w: %d bytes, limit %d", errOversized, len(data), limit)
	}
	if err := v.ValidateConsensus(from, data); err != nil {
		if errors.Is(err, ErrIgnore) {
			return ignore, err
		}
		return reject, err
	}
	return accept, nil
}
