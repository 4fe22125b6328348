package pos

import (
	"bytes"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// maxProposalsPerRound bounds the distinct blocks kept from one round's
// proposer. A correct proposer sends one; keeping a few lets a validator
// decide whichever of an equivocating proposer's blocks gathers a quorum.
const maxProposalsPerRound = 4

// voteSet tallies one kind of vote in one round: the first vote of each
// validator counts, a second, different one is equivocation.
type voteSet struct {
	votes map[common.Address]*Vote
	power map[common.Hash]uint64 // block hash (zero for nil) -> power
	total uint64
}

func newVoteSet() voteSet {
	return voteSet{votes: make(map[common.Address]*Vote), power: make(map[common.Hash]uint64)}
}

// add counts v by signer with power. It returns the earlier vote when v
// conflicts with it, and whether v was counted.
func (s *voteSet) add(v *Vote, signer common.Address, power uint64) (conflict *Vote, added bool) {
	if prev, ok := s.votes[signer]; ok {
		if prev.BlockHash != v.BlockHash {
			return prev, false
		}
		return nil, false
	}
	s.votes[signer] = v
	s.power[v.BlockHash] += power
	s.total += power
	return nil, true
}

// signatures returns the signatures of the votes for hash, ordered by signer
// address so that every node builds the same commit from the same votes.
func (s *voteSet) signatures(hash common.Hash) []Signature {
	addrs := make([]common.Address, 0, len(s.votes))
	for a, v := range s.votes {
		if v.BlockHash == hash {
			addrs = append(addrs, a)
		}
	}
	slices.SortFunc(addrs, func(a, b common.Address) int { return bytes.Compare(a[:], b[:]) })
	sigs := make([]Signature, len(addrs))
	for i, a := range addrs {
		sigs[i] = s.votes[a].Signature
	}
	return sigs
}

// encoded returns the wire form of the votes for hash, ordered by signer.
func (s *voteSet) encoded(hash common.Hash) [][]byte {
	addrs := make([]common.Address, 0, len(s.votes))
	for a, v := range s.votes {
		if v.BlockHash == hash {
			addrs = append(addrs, a)
		}
	}
	slices.SortFunc(addrs, func(a, b common.Address) int { return bytes.Compare(a[:], b[:]) })
	out := make([][]byte, len(addrs))
	for i, a := range addrs {
		out[i] = s.votes[a].Encode()
	}
	return out
}

// proposal is a proposal accepted from the round's proposer, with its block
// hash computed once.
type proposal struct {
	msg  *Proposal
	hash common.Hash
}

// block returns the proposed block.
func (p *proposal) block() *types.Block { return p.msg.Block }

// roundState is everything received (or sent) in one round of the current
// height: the message log of Algorithm 1, split by round.
type roundState struct {
	proposer   common.Address
	proposals  []*proposal // arrival order, distinct blocks
	prevotes   voteSet
	precommits voteSet

	// senders is who sent any message in this round (line 55).
	senders     map[common.Address]bool
	senderPower uint64

	// "for the first time" guards of lines 34, 36 and 47.
	line34, line36, line47 bool

	// proposeExpired marks a timeoutPropose that fired while a proposal
	// of the round was being validated: its prevote nil waits for the
	// answer (onTimeoutPropose).
	proposeExpired bool

	// evidenced marks signers already reported for this round, per type.
	evidenced map[VoteType]map[common.Address]bool

	// own holds this validator's messages of the round, for rebroadcast.
	own [][]byte
}

func newRoundState(proposer common.Address) *roundState {
	return &roundState{
		proposer:   proposer,
		prevotes:   newVoteSet(),
		precommits: newVoteSet(),
		senders:    make(map[common.Address]bool),
		evidenced:  map[VoteType]map[common.Address]bool{Prevote: {}, Precommit: {}},
	}
}

// votes returns the tally of type t.
func (rs *roundState) votes(t VoteType) *voteSet {
	if t == Prevote {
		return &rs.prevotes
	}
	return &rs.precommits
}

// addSender records that signer sent a message in this round.
func (rs *roundState) addSender(signer common.Address, power uint64) {
	if !rs.senders[signer] {
		rs.senders[signer] = true
		rs.senderPower += power
	}
}

// addProposal keeps p unless its block is already known or the round holds
// maxProposalsPerRound blocks. It reports whether p was kept.
func (rs *roundState) addProposal(p *Proposal) bool {
	hash := p.Block.Hash()
	for _, q := range rs.proposals {
		if q.hash == hash {
			return false
		}
	}
	if len(rs.proposals) >= maxProposalsPerRound {
		return false
	}
	rs.proposals = append(rs.proposals, &proposal{msg: p, hash: hash})
	return true
}
