package membership

import (
	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/contracts/native"
)

// Kind is what a vote is for.
type Kind byte

// Kinds of vote.
const (
	KindAdd    Kind = 1 // admit a candidate as member
	KindRemove Kind = 2 // remove a member
	KindRevoke Kind = 3 // withdraw the voucher for an account
)

// Proposal is a question the members vote on: a kind and its subject.
type Proposal struct {
	Kind    Kind
	Subject common.Address
}

// Votes only count within one epoch of the member set and one round of
// their proposal: an admission or removal starts a new epoch, so every
// pending vote lapses when the members who cast it are no longer the
// members; executing a proposal starts its next round, so its votes are
// cleared without iterating over them.
func slotEpoch() common.Hash { return native.Slot("epoch") }

func slotRound(p Proposal) common.Hash {
	return native.Slot("round", []byte{byte(p.Kind)}, p.Subject[:])
}

func slotVotes(epoch, round uint64, p Proposal) common.Hash {
	return native.Slot("votes", native.U64(epoch), []byte{byte(p.Kind)}, p.Subject[:], native.U64(round))
}

func slotVote(epoch, round uint64, p Proposal, voter common.Address) common.Hash {
	return native.Slot("vote", native.U64(epoch), []byte{byte(p.Kind)}, p.Subject[:], native.U64(round), voter[:])
}

// Passes reports whether votes are more than two thirds of members.
func Passes(votes, members uint64) bool { return votes*3 > members*2 }

func current(s Reader, p Proposal) (epoch, round uint64) {
	return native.WordU64(s.GetState(Address, slotEpoch())), native.WordU64(s.GetState(Address, slotRound(p)))
}

// Votes returns the votes cast for p in the current epoch and round.
func Votes(s Reader, p Proposal) uint64 {
	e, r := current(s, p)
	return native.WordU64(s.GetState(Address, slotVotes(e, r, p)))
}

// HasVoted reports whether voter has voted for p in the current epoch and round.
func HasVoted(s Reader, p Proposal, voter common.Address) bool {
	e, r := current(s, p)
	return s.GetState(Address, slotVote(e, r, p, voter)) != (common.Hash{})
}

// Vote records voter's vote for p and returns the number of votes. It
// reports false, and records nothing, if voter has voted already.
func Vote(s Writer, p Proposal, voter common.Address) (uint64, bool) {
	e, r := current(s, p)
	count := native.WordU64(s.GetState(Address, slotVotes(e, r, p)))
	if s.GetState(Address, slotVote(e, r, p, voter)) != (common.Hash{}) {
		return count, false
	}
	s.SetState(Address, slotVote(e, r, p, voter), native.U64Word(1))
	s.SetState(Address, slotVotes(e, r, p), native.U64Word(count+1))
	return count + 1, true
}

// Close ends the current round of p: its votes no longer count.
func Close(s Writer, p Proposal) {
	r := native.WordU64(s.GetState(Address, slotRound(p)))
	s.SetState(Address, slotRound(p), native.U64Word(r+1))
}

// NewEpoch starts a new epoch of the member set: every pending vote lapses.
func NewEpoch(s Writer) {
	e := native.WordU64(s.GetState(Address, slotEpoch()))
	s.SetState(Address, slotEpoch(), native.U64Word(e+1))
}
