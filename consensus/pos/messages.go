package pos

import (
	"crypto/ecdsa"
	"fmt"
	"io"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
)

// Wire format: one type byte followed by the RLP encoding of the message.
const (
	msgProposal byte = 1
	msgVote     byte = 2
	msgCommit   byte = 3
	msgCompact  byte = 4
)

// DefaultMaxMessageSize bounds an encoded message: a block of up to 8 MiB
// plus the envelope.
const DefaultMaxMessageSize = 8<<20 + 64<<10

// MaxRound is the highest round a message or header may carry. Timeouts
// grow with the round, so a network needs about MaxRound²/2 timeout deltas
// (years at any tick length) to reach it: a larger round can only come from
// a peer that is lying. It also keeps rounds inside an int32, so that
// lockedRound and validRound can be -1.
const MaxRound = 1 << 20

// domain prefixes every signed digest so that a signature for one purpose
// can never be replayed as another, on this or any other chain.
const domain = "arbiter/pos/v1/"

// VoteType distinguishes prevotes from precommits.
type VoteType uint8

// Vote types. The step of a signed message orders proposal < prevote <
// precommit within a round (see LastSigned).
const (
	Prevote   VoteType = 2
	Precommit VoteType = 3
)

// signedProposal is the step number of a proposal in LastSigned.
const signedProposal uint8 = 1

// String returns "prevote" or "precommit".
func (t VoteType) String() string {
	switch t {
	case Prevote:
		return "prevote"
	case Precommit:
		return "precommit"
	}
	return fmt.Sprintf("votetype(%d)", uint8(t))
}

// Signature is a secp256k1 signature [R || S || V] with V in {0, 1} and low S.
type Signature [crypto.SignatureLength]byte

// Vote is a signed prevote or precommit for a block hash, or for nil (the
// zero hash) at a height and round.
type Vote struct {
	Type      VoteType
	Height    uint64
	Round     uint32
	BlockHash common.Hash // zero for nil
	Signature Signature
}

// Proposal is a signed proposal of a block at a height and round. ValidRound
// is -1 for a fresh value, or the earlier round in which the proposer saw a
// polka (2f+1 prevotes) for Block.
type Proposal struct {
	Height     uint64
	Round      uint32
	ValidRound int32
	Block      *types.Block
	Signature  Signature
}

// Commit proves a block decided: the precommit signatures of validators
// holding more than 2/3 of the power, all for the block's hash at its height
// and the given round. Height and hash are implied by the block the commit
// is checked against.
type Commit struct {
	Round      uint32
	Signatures []Signature
}

// CompactProposal is a Proposal whose block travels by reference: its
// header and the hashes of its transactions, in order. Signature is the
// proposal's, over the header's hash, so a node that holds the
// transactions (from its pool, or fetched from a peer) rebuilds the exact
// Proposal with Fill. The header's hash does not cover the hash list, so
// the proposer signs the list too (ListSignature, over the block hash and
// the list): a relay can neither swap the list nor make honest nodes fill
// and judge a block the proposer never sent. The core takes only full
// proposals; the node's transport fills compact ones
// (docs/decisions/0038-compact-proposals.md).
type CompactProposal struct {
	Height        uint64
	Round         uint32
	ValidRound    int32
	Header        *types.Header
	TxHashes      []common.Hash
	Signature     Signature
	ListSignature Signature
}

// CommitMessage carries a decided block and its commit to a validator that
// is behind (the last-mile catch-up; bulk sync is the node's business).
type CommitMessage struct {
	Block  *types.Block
	Commit Commit
}

// proposalRLP is the wire form of a Proposal: RLP has no negative integers,
// so ValidRound travels as ValidRound+1.
type proposalRLP struct {
	Height     uint64
	Round      uint32
	ValidRound uint32
	Block      *types.Block
	Signature  Signature
}

// EncodeRLP implements rlp.Encoder.
func (p *Proposal) EncodeRLP(w io.Writer) error {
	return rlp.Encode(w, &proposalRLP{p.Height, p.Round, uint32(p.ValidRound + 1), p.Block, p.Signature})
}

// DecodeRLP implements rlp.Decoder.
func (p *Proposal) DecodeRLP(s *rlp.Stream) error {
	var enc proposalRLP
	if err := s.Decode(&enc); err != nil {
		return err
	}
	if enc.ValidRound > MaxRound {
		return fmt.Errorf("valid round %d out of range", enc.ValidRound)
	}
	*p = Proposal{enc.Height, enc.Round, int32(enc.ValidRound) - 1, enc.Block, enc.Signature}
	return nil
}

// Encode returns the wire form of the proposal.
func (p *Proposal) Encode() []byte { return encodeMsg(msgProposal, p) }

// compactRLP is the wire form of a CompactProposal (ValidRound+1, as in
// proposalRLP).
type compactRLP struct {
	Height        uint64
	Round         uint32
	ValidRound    uint32
	Header        *types.Header
	TxHashes      []common.Hash
	Signature     Signature
	ListSignature Signature
}

// EncodeRLP implements rlp.Encoder.
func (p *CompactProposal) EncodeRLP(w io.Writer) error {
	return rlp.Encode(w, &compactRLP{p.Height, p.Round, uint32(p.ValidRound + 1), p.Header, p.TxHashes, p.Signature, p.ListSignature})
}

// DecodeRLP implements rlp.Decoder.
func (p *CompactProposal) DecodeRLP(s *rlp.Stream) error {
	var enc compactRLP
	if err := s.Decode(&enc); err != nil {
		return err
	}
	if enc.ValidRound > MaxRound {
		return fmt.Errorf("valid round %d out of range", enc.ValidRound)
	}
	*p = CompactProposal{enc.Height, enc.Round, int32(enc.ValidRound) - 1, enc.Header, enc.TxHashes, enc.Signature, enc.ListSignature}
	return nil
}

// Encode returns the wire form of the compact proposal.
func (p *CompactProposal) Encode() []byte { return encodeMsg(msgCompact, p) }

// IsProposal reports whether raw is, by its type byte, a full proposal.
func IsProposal(raw []byte) bool { return len(raw) > 0 && raw[0] == msgProposal }

// IsCompactProposal reports whether raw is, by its type byte, a compact
// proposal.
func IsCompactProposal(raw []byte) bool { return len(raw) > 0 && raw[0] == msgCompact }

// Compact returns the proposal with its block by reference, the list of
// transaction hashes signed with key (the proposer's, which signed p).
func (p *Proposal) Compact(chainID *big.Int, key *ecdsa.PrivateKey) (*CompactProposal, error) {
	txs := p.Block.Transactions()
	hashes := make([]common.Hash, len(txs))
	for i, tx := range txs {
		hashes[i] = tx.Hash()
	}
	c := &CompactProposal{Height: p.Height, Round: p.Round, ValidRound: p.ValidRound, Header: p.Block.Header(), TxHashes: hashes, Signature: p.Signature}
	sig, err := sign(c.ListDigest(chainID), key)
	if err != nil {
		return nil, err
	}
	c.ListSignature = sig
	return c, nil
}

// lazyProposalRLP is a proposal's wire form with its block left encoded.
type lazyProposalRLP struct {
	Height     uint64
	Round      uint32
	ValidRound uint32
	Block      rlp.RawValue
	Signature  Signature
}

// CompactWire returns the compact form of the full proposal in wire form
// raw (anything else is an error), the list signed with key, and the
// proposal's block. A proposer holds the transactions of the block it
// proposes: known returns them by the header's transaction root, and then
// only the proposal's envelope and the block's header are decoded. Without
// them (known returns false), the whole proposal is decoded.
func CompactWire(raw []byte, known func(txRoot common.Hash) (types.Transactions, bool), chainID *big.Int, key *ecdsa.PrivateKey) (*CompactProposal, *types.Block, error) {
	if !IsProposal(raw) {
		return nil, nil, fmt.Errorf("%w: not a proposal", errMalformed)
	}
	var enc lazyProposalRLP
	if err := rlp.DecodeBytes(raw[1:], &enc); err != nil {
		return nil, nil, fmt.Errorf("%w: proposal: %v", errMalformed, err)
	}
	body, _, err := rlp.SplitList(enc.Block)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: proposal block: %v", errMalformed, err)
	}
	_, _, rest, err := rlp.Split(body)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: proposal header: %v", errMalformed, err)
	}
	h := new(types.Header)
	if err := rlp.DecodeBytes(body[:len(body)-len(rest)], h); err != nil {
		return nil, nil, fmt.Errorf("%w: proposal header: %v", errMalformed, err)
	}
	var p *Proposal
	if txs, ok := known(h.TxHash); ok && enc.ValidRound <= MaxRound {
		b := types.NewBlockWithHeader(h).WithBody(types.Body{Transactions: txs})
		p = &Proposal{enc.Height, enc.Round, int32(enc.ValidRound) - 1, b, enc.Signature}
	} else {
		m, err := DecodeMessage(raw, len(raw))
		if err != nil {
			return nil, nil, err
		}
		p = m.(*Proposal)
	}
	c, err := p.Compact(chainID, key)
	if err != nil {
		return nil, nil, err
	}
	return c, p.Block, nil
}

// ListDigest returns the hash the list signature signs: the block hash and
// the keccak256 of the concatenated transaction hashes.
func (p *CompactProposal) ListDigest(chainID *big.Int) common.Hash {
	h := crypto.NewKeccakState()
	for _, th := range p.TxHashes {
		h.Write(th[:])
	}
	var list common.Hash
	h.Read(list[:])
	return digest("txlist", chainID, p.Header.Hash(), list)
}

// ListSigner recovers the address that signed the transaction list.
func (p *CompactProposal) ListSigner(chainID *big.Int) (common.Address, error) {
	return recoverSigner(p.ListDigest(chainID), p.ListSignature[:])
}

// Signers recovers the proposal's signer and checks that the same key
// signed the transaction list.
func (p *CompactProposal) Signers(chainID *big.Int) (common.Address, error) {
	signer, err := p.Signer(chainID)
	if err != nil {
		return common.Address{}, err
	}
	lister, err := p.ListSigner(chainID)
	if err != nil {
		return common.Address{}, err
	}
	if lister != signer {
		return common.Address{}, fmt.Errorf("%w: list signed by %v, proposal by %v", errListSigner, lister, signer)
	}
	return signer, nil
}

// BlockHash returns the hash of the block the compact proposal stands for.
func (p *CompactProposal) BlockHash() common.Hash { return p.Header.Hash() }

// Digest returns the hash the proposal's signature signs.
func (p *CompactProposal) Digest(chainID *big.Int) common.Hash {
	return proposalDigest(chainID, p.Height, p.Round, p.ValidRound, p.Header.Hash())
}

// Signer recovers the address that signed the proposal.
func (p *CompactProposal) Signer(chainID *big.Int) (common.Address, error) {
	return recoverSigner(p.Digest(chainID), p.Signature[:])
}

// Fill rebuilds the full proposal from the transactions the hashes name, in
// their order. Each transaction must hash to its place's hash; whether
// the list matches the header's transaction root is the block's validity,
// judged by the validation that every proposal gets.
func (p *CompactProposal) Fill(txs []*types.Transaction) (*Proposal, error) {
	if len(txs) != len(p.TxHashes) {
		return nil, fmt.Errorf("%w: %d transactions for %d hashes", errCompactFill, len(txs), len(p.TxHashes))
	}
	for i, tx := range txs {
		if tx == nil || tx.Hash() != p.TxHashes[i] {
			return nil, fmt.Errorf("%w: transaction %d is not %x", errCompactFill, i, p.TxHashes[i])
		}
	}
	b := types.NewBlockWithHeader(p.Header).WithBody(types.Body{Transactions: txs})
	return &Proposal{p.Height, p.Round, p.ValidRound, b, p.Signature}, nil
}

// checkShape checks what a decoded proposal must hold beyond its encoding:
// its rounds in range, its block at its height, a body of transactions
// only.
func (p *Proposal) checkShape() error {
	if p.Block == nil {
		return fmt.Errorf("%w: proposal without a block", errMalformed)
	}
	if p.Round > MaxRound || p.ValidRound >= int32(p.Round) {
		return fmt.Errorf("%w: proposal round %d, valid round %d", errMalformed, p.Round, p.ValidRound)
	}
	if p.Block.NumberU64() != p.Height {
		return fmt.Errorf("%w: proposal height %d, block %d", errBlockMismatch, p.Height, p.Block.NumberU64())
	}
	return bareBody(p.Block)
}

// FilledProposal is a proposal this node filled from a compact one with
// transactions it holds, with its wire form (Raw, p.Encode()): the core
// steps it without decoding the block again, and logs Raw.
type FilledProposal struct {
	Raw      []byte
	Proposal *Proposal
}

// Encode returns the wire form of the vote.
func (v *Vote) Encode() []byte { return encodeMsg(msgVote, v) }

// Encode returns the wire form of the commit message.
func (m *CommitMessage) Encode() []byte { return encodeMsg(msgCommit, m) }

func encodeMsg(kind byte, v any) []byte {
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		// Every field is RLP-encodable; only a nil block can fail, and the
		// core never builds a message without one.
		panic(fmt.Sprintf("pos: encode message: %v", err))
	}
	return append([]byte{kind}, b...)
}

// DecodeMessage decodes a wire message into a *Proposal, *CompactProposal,
// *Vote or *CommitMessage. It rejects messages above maxSize, trailing bytes,
// non-canonical RLP and values out of range; it does not check signatures.
func DecodeMessage(raw []byte, maxSize int) (any, error) {
	if len(raw) > maxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", errOversized, len(raw), maxSize)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: empty", errMalformed)
	}
	body := raw[1:]
	switch raw[0] {
	case msgProposal:
		p := new(Proposal)
		if err := rlp.DecodeBytes(body, p); err != nil {
			return nil, fmt.Errorf("%w: proposal: %v", errMalformed, err)
		}
		if err := p.checkShape(); err != nil {
			return nil, err
		}
		return p, nil
	case msgCompact:
		p := new(CompactProposal)
		if err := rlp.DecodeBytes(body, p); err != nil {
			return nil, fmt.Errorf("%w: compact proposal: %v", errMalformed, err)
		}
		if p.Round > MaxRound || p.ValidRound >= int32(p.Round) {
			return nil, fmt.Errorf("%w: proposal round %d, valid round %d", errMalformed, p.Round, p.ValidRound)
		}
		if p.Header.Number == nil || !p.Header.Number.IsUint64() || p.Header.Number.Uint64() != p.Height {
			return nil, fmt.Errorf("%w: proposal height %d, block %v", errBlockMismatch, p.Height, p.Header.Number)
		}
		// Every transaction costs at least params.TxGas, so a valid block
		// names at most GasLimit/TxGas: filling never looks up more.
		if uint64(len(p.TxHashes)) > p.Header.GasLimit/params.TxGas {
			return nil, fmt.Errorf("%w: %d transactions under a gas limit of %d", errMalformed, len(p.TxHashes), p.Header.GasLimit)
		}
		return p, nil
	case msgVote:
		v := new(Vote)
		if err := rlp.DecodeBytes(body, v); err != nil {
			return nil, fmt.Errorf("%w: vote: %v", errMalformed, err)
		}
		if (v.Type != Prevote && v.Type != Precommit) || v.Round > MaxRound {
			return nil, fmt.Errorf("%w: vote type %d round %d", errMalformed, v.Type, v.Round)
		}
		return v, nil
	case msgCommit:
		m := new(CommitMessage)
		if err := rlp.DecodeBytes(body, m); err != nil {
			return nil, fmt.Errorf("%w: commit: %v", errMalformed, err)
		}
		if m.Commit.Round > MaxRound || len(m.Commit.Signatures) == 0 || len(m.Commit.Signatures) > MaxValidators {
			return nil, fmt.Errorf("%w: commit round %d with %d signatures", errMalformed, m.Commit.Round, len(m.Commit.Signatures))
		}
		if err := bareBody(m.Block); err != nil {
			return nil, err
		}
		return m, nil
	default:
		return nil, fmt.Errorf("%w: %d", errUnknownType, raw[0])
	}
}

// bareBody refuses a block carrying uncles or withdrawals, which no block
// of this chain has. The signatures on a proposal or commit cover only the
// header's hash, and the header does not bind those parts of the body the
// way checkBody binds the transactions, so a relay could otherwise append
// some to an honest proposal: the copy would be a new message (a new
// gossip id, counted against its proposer's relay bound), and a node that
// judged it first would find the honest block invalid (its hash, its
// header and its transactions are the same).
func bareBody(b *types.Block) error {
	if len(b.Uncles()) > 0 || b.Withdrawals() != nil {
		return fmt.Errorf("%w: block %d carries %d uncles and withdrawals %v", errMalformed, b.NumberU64(), len(b.Uncles()), b.Withdrawals() != nil)
	}
	return nil
}

// digest returns keccak256 of the RLP list [domain+purpose, chainID, fields...].
func digest(purpose string, chainID *big.Int, fields ...any) common.Hash {
	b, err := rlp.EncodeToBytes(append([]any{domain + purpose, chainID}, fields...))
	if err != nil {
		panic(fmt.Sprintf("pos: digest: %v", err)) // only integers, hashes and strings
	}
	return crypto.Keccak256Hash(b)
}

// voteDigest is what a vote's signature signs.
func voteDigest(chainID *big.Int, t VoteType, height uint64, round uint32, hash common.Hash) common.Hash {
	return digest("vote", chainID, uint8(t), height, round, hash)
}

// proposalDigest is what a proposal's signature signs.
func proposalDigest(chainID *big.Int, height uint64, round uint32, validRound int32, hash common.Hash) common.Hash {
	return digest("proposal", chainID, height, round, uint32(validRound+1), hash)
}

// sealDigest is what a block's proposer seal signs.
func sealDigest(chainID *big.Int, sealHash common.Hash) common.Hash {
	return digest("seal", chainID, sealHash)
}

// Digest returns the hash the vote's signature signs.
func (v *Vote) Digest(chainID *big.Int) common.Hash {
	return voteDigest(chainID, v.Type, v.Height, v.Round, v.BlockHash)
}

// Digest returns the hash the proposal's signature signs.
func (p *Proposal) Digest(chainID *big.Int) common.Hash {
	return proposalDigest(chainID, p.Height, p.Round, p.ValidRound, p.Block.Hash())
}

// Signer recovers the address that signed the vote.
func (v *Vote) Signer(chainID *big.Int) (common.Address, error) {
	return recoverSigner(v.Digest(chainID), v.Signature[:])
}

// Signer recovers the address that signed the proposal.
func (p *Proposal) Signer(chainID *big.Int) (common.Address, error) {
	return recoverSigner(p.Digest(chainID), p.Signature[:])
}

// sign signs d with key.
func sign(d common.Hash, key *ecdsa.PrivateKey) (Signature, error) {
	b, err := crypto.Sign(d[:], key)
	if err != nil {
		return Signature{}, err
	}
	return Signature(b), nil
}

// sigCacheSize bounds the recovered signers remembered by recoverSigner:
// enough for every vote of a few heights of MaxValidators validators, and
// for the seals and commits of the two sync batches that are warm at once
// (the one importing and the one prefetched: 2 x 256 blocks x (1 + 86)
// signatures at MaxValidators), so prefetching never evicts what the
// import is about to read. About 4 MiB at the bound.
const sigCacheSize = 1 << 16

// sigCache remembers recovered signers by keccak256(digest || signature),
// so that a message checked by the gossip validator, then by the core,
// then inside a commit, costs one recovery per node.
var sigCache = lru.NewCache[common.Hash, common.Address](sigCacheSize)

// recoverSigner returns the signer of d, accepting only the canonical
// signature form (low S, V in {0, 1}) so that no message has two valid
// encodings.
func recoverSigner(d common.Hash, sig []byte) (common.Address, error) {
	if len(sig) != crypto.SignatureLength {
		return common.Address{}, fmt.Errorf("%w: %d bytes", errBadSignature, len(sig))
	}
	key := crypto.Keccak256Hash(d[:], sig)
	if addr, ok := sigCache.Get(key); ok {
		return addr, nil
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:64])
	if !crypto.ValidateSignatureValues(sig[64], r, s, true) {
		return common.Address{}, fmt.Errorf("%w: non-canonical values", errBadSignature)
	}
	pub, err := crypto.SigToPub(d[:], sig)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", errBadSignature, err)
	}
	addr := crypto.PubkeyToAddress(*pub)
	sigCache.Add(key, addr)
	return addr, nil
}

// VerifyCommit checks that c proves the block hash decided at height: every
// signature is a canonical precommit signature for (height, c.Round, hash)
// by a distinct validator of vals, and the signers hold more than 2/3 of the
// power. It returns the signers in the commit's order.
func VerifyCommit(chainID *big.Int, vals *ValidatorSet, height uint64, hash common.Hash, c *Commit) ([]common.Address, error) {
	if len(c.Signatures) > vals.Len() {
		return nil, fmt.Errorf("%w: %d signatures, %d validators", errCommitTooLarge, len(c.Signatures), vals.Len())
	}
	d := voteDigest(chainID, Precommit, height, c.Round, hash)
	seen := make(map[common.Address]bool, len(c.Signatures))
	signers := make([]common.Address, 0, len(c.Signatures))
	var power uint64
	for i := range c.Signatures {
		addr, err := recoverSigner(d, c.Signatures[i][:])
		if err != nil {
			return nil, fmt.Errorf("%w: signature %d: %v", errCommitSignature, i, err)
		}
		p, ok := vals.Power(addr)
		if !ok {
			return nil, fmt.Errorf("%w: commit signer %v", errNotValidator, addr)
		}
		if seen[addr] {
			return nil, fmt.Errorf("%w: %v", errDuplicateSigner, addr)
		}
		seen[addr] = true
		signers = append(signers, addr)
		power += p
	}
	if !vals.HasQuorum(power) {
		return nil, fmt.Errorf("%w: %d of %d", errInsufficientPower, power, vals.TotalPower())
	}
	return signers, nil
}

// CheckGossip decides whether a consensus message received from the network
// is worth delivering and relaying, cheapest checks first: size and strict
// decoding, then the height, then one signature recovery (remembered for
// the core), then that the signer is a validator of the message's height
// and, for a proposal, the proposer of its round. head is the node's
// newest decided block: messages for head+1 are judged against that
// height's set; messages for head+2 against the same set (a bounded
// look-ahead: the next set is not known before head+1 is decided); a
// catch-up commit for head+1 must verify. It returns an error wrapping
// ErrStaleMessage or ErrFutureMessage for a message that is not wrong but
// of no use here (to be dropped quietly), and any other error for a
// message no correct validator sends (to be counted against the peer).
func (e *Engine) CheckGossip(raw []byte, maxSize int, head *types.Header) error {
	_, err := e.CheckGossipFrom(raw, maxSize, head)
	return err
}

// GossipSource is who sent a consensus message CheckGossipFrom let
// through, for a relay's bookkeeping per validator.
type GossipSource struct {
	Signer   common.Address // zero for a commit, which many validators signed
	Height   uint64
	Proposal bool // a proposal, full or compact
	Full     bool // a full proposal (honest validators send them compact)
}

// CheckGossipFrom is CheckGossip that also says who signed the message.
func (e *Engine) CheckGossipFrom(raw []byte, maxSize int, head *types.Header) (GossipSource, error) {
	var src GossipSource
	m, err := DecodeMessage(raw, maxSize)
	if err != nil {
		return src, err
	}
	next := head.Number.Uint64() + 1
	var height uint64
	switch m := m.(type) {
	case *Proposal:
		height = m.Height
	case *CompactProposal:
		height = m.Height
	case *Vote:
		height = m.Height
	case *CommitMessage:
		height = m.Block.NumberU64()
	}
	switch {
	case height < next:
		return src, fmt.Errorf("%w: height %d, deciding %d", ErrStaleMessage, height, next)
	case height > next+1:
		return src, fmt.Errorf("%w: height %d, deciding %d", ErrFutureMessage, height, next)
	}
	vals, err := e.validators.ValidatorSet(next, head.Hash())
	if err != nil {
		return src, fmt.Errorf("%w: validators of %d: %v", ErrFutureMessage, next, err)
	}
	src.Height = height
	checkProposer := func(signer common.Address, round uint32) error {
		if !vals.Has(signer) {
			return fmt.Errorf("%w: %v", errNotValidator, signer)
		}
		if height == next && vals.Proposer(height, round) != signer {
			return fmt.Errorf("%w: %v in round %d", errNotProposer, signer, round)
		}
		return nil
	}
	switch m := m.(type) {
	case *Proposal:
		signer, err := m.Signer(e.chainID)
		if err != nil {
			return src, err
		}
		if err := checkProposer(signer, m.Round); err != nil {
			return src, err
		}
		if err := checkBody(m.Block); err != nil {
			return src, err
		}
		src.Signer, src.Proposal, src.Full = signer, true, true
	case *CompactProposal:
		// The gas limit is the genesis one on every block: the header may
		// not raise the bound on the hashes that decoding checked.
		if m.Header.GasLimit != head.GasLimit {
			return src, fmt.Errorf("%w: gas limit %d, chain's %d", errBlockMismatch, m.Header.GasLimit, head.GasLimit)
		}
		signer, err := m.Signers(e.chainID)
		if err != nil {
			return src, err
		}
		if err := checkProposer(signer, m.Round); err != nil {
			return src, err
		}
		src.Signer, src.Proposal = signer, true
	case *Vote:
		signer, err := m.Signer(e.chainID)
		if err != nil {
			return src, err
		}
		if !vals.Has(signer) {
			return src, fmt.Errorf("%w: %v", errNotValidator, signer)
		}
		src.Signer = signer
	case *CommitMessage:
		if height != next {
			return src, fmt.Errorf("%w: commit for %d, deciding %d", ErrFutureMessage, height, next)
		}
		if m.Block.ParentHash() != head.Hash() {
			return src, fmt.Errorf("%w: commit for a block not on %x", errBlockMismatch, head.Hash())
		}
		if _, err := VerifyCommit(e.chainID, vals, height, m.Block.Hash(), &m.Commit); err != nil {
			return src, err
		}
		if err := checkBody(m.Block); err != nil {
			return src, err
		}
	}
	return src, nil
}

// checkBody checks that a block's transactions are those its header
// commits to. The signatures on a proposal or commit cover only the
// header's hash, so a relay could otherwise swap the body and make honest
// nodes judge, and remember as invalid, a block its proposer never sent.
func checkBody(b *types.Block) error {
	if got := types.DeriveSha(b.Transactions(), trie.NewStackTrie(nil)); got != b.TxHash() {
		return fmt.Errorf("%w: transactions root %x, header has %x", errBlockMismatch, got, b.TxHash())
	}
	return nil
}
