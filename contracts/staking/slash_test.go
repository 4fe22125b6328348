package staking_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
)

// TestSlash slashes D, who has a withdrawal pending, with evidence of two
// conflicting prevotes signed with D's key.
func TestSlash(t *testing.T) {
	e := newChain(t, setup{stakes: []stake{{"A", 1}, {"B", 1}, {"C", 1}, {"D", 3}}})
	call(t, e, "D", "withdraw", nil, "", ether(1)) // block 1
	mineTo(t, e, 9)
	ev := equivocation(t, "D", 5)
	r := call(t, e, "P", "slash", nil, "", ev) // block 10, by an account that is no validator
	want := []logged{
		{"Slashed", []any{addr("D"), ether(3), uint64(5)}},
	}
	if have := events(t, r); !reflect.DeepEqual(have, want) {
		t.Fatalf("events: have %v, want %v", have, want)
	}
	if b, u := stakeOf(t, e, "D"); b.Sign() != 0 || u.Sign() != 0 {
		t.Fatalf("stakeOf(D): have %v %v, want 0 0", b, u)
	}
	if have := e.Balance(staking.BurnAddress); have.Cmp(ether(3)) != 0 {
		t.Fatalf("burn address balance: have %v, want 3 ether", have)
	}
	if have := e.Balance(staking.Address); have.Cmp(ether(3)) != 0 {
		t.Fatalf("contract balance: have %v, want 3 ether", have)
	}
	// The same evidence, other evidence against D and D's deposits are refused.
	call(t, e, "A", "slash", nil, "offender already slashed: "+addr("D").Hex()+" for height 5", ev)
	call(t, e, "A", "slash", nil, "offender already slashed: "+addr("D").Hex()+" for height 5", equivocation(t, "D", 7))
	call(t, e, "D", "deposit", ether(1), "account was slashed")
	call(t, e, "D", "claim", nil, "nothing to claim")

	mineTo(t, e, 99)
	if have, want := setFor(t, e, 99), vals("A", 1, "B", 1, "C", 1, "D", 3); !reflect.DeepEqual(have, want) {
		t.Fatalf("set of 99: have %v, want %v", have, want)
	}
	if have, want := setFor(t, e, 100), vals("A", 1, "B", 1, "C", 1); !reflect.DeepEqual(have, want) {
		t.Fatalf("set of 100: have %v, want %v", have, want)
	}
	// In epoch 1, D is still refused for evidence of epoch 0.
	call(t, e, "A", "slash", nil, "offender already slashed: "+addr("D").Hex()+" for height 5", equivocation(t, "D", 50))
}

// TestSlashSchedulesSet checks that a slashing that is the first change of
// an epoch announces the next set.
func TestSlashSchedulesSet(t *testing.T) {
	e := newChain(t, setup{stakes: []stake{{"A", 1}, {"B", 1}}})
	mineTo(t, e, 120)
	r := call(t, e, "A", "slash", nil, "", equivocation(t, "B", 110))
	want := []logged{
		{"Slashed", []any{addr("B"), ether(1), uint64(110)}},
		{"ValidatorSetChanged", []any{uint64(2), uint64(200)}},
	}
	if have := events(t, r); !reflect.DeepEqual(have, want) {
		t.Fatalf("events: have %v, want %v", have, want)
	}
	mineTo(t, e, 199)
	if have, want := setFor(t, e, 200), vals("A", 1); !reflect.DeepEqual(have, want) {
		t.Fatalf("set of 200: have %v, want %v", have, want)
	}
}

// TestSlashEpochs checks evidence against the set of its votes' epoch and
// refuses evidence from a future epoch.
func TestSlashEpochs(t *testing.T) {
	e := newChain(t, setup{stakes: []stake{{"A", 1}, {"B", 1}}})
	call(t, e, "C", "deposit", ether(1), "") // C validates from 100
	mineTo(t, e, 149)
	notValidator := "invalid evidence: pos: signer is not a validator: " + addr("C").Hex()
	call(t, e, "P", "slash", nil, notValidator, equivocation(t, "C", 50)) // block 150
	call(t, e, "P", "slash", nil, "evidence from a future epoch: height 200 is in epoch 2, this block in 1", equivocation(t, "C", 200))
	call(t, e, "P", "slash", nil, "", equivocation(t, "C", 120)) // block 152
}

// TestSlashAgeLimit checks the evidence window: with the default
// parameters, the current and the previous epoch.
func TestSlashAgeLimit(t *testing.T) {
	e := newChain(t, setup{stakes: []stake{{"A", 1}, {"B", 1}}})
	mineTo(t, e, 198)
	call(t, e, "P", "slash", nil, "", equivocation(t, "A", 99)) // block 199, epoch 1
	call(t, e, "P", "slash", nil, "evidence older than the kept history: height 99 is in epoch 0, evidence is admitted from epoch 1", equivocation(t, "B", 99))
	call(t, e, "P", "slash", nil, "", equivocation(t, "B", 100)) // block 201
}

// TestSlashErrors submits bad evidence, each refused for its own reason.
func TestSlashErrors(t *testing.T) {
	key := chaintest.Key("A")
	vote := func(typ pos.VoteType, height uint64, round uint32, hash byte) pos.Vote {
		return signVote(t, key, typ, height, round, common.Hash{hash})
	}
	enc := func(a, b pos.Vote) []byte { return pos.NewEvidence(&a, &b).Encode() }
	forged := vote(pos.Prevote, 5, 0, 2)
	forged.Signature[10] ^= 1
	moved := vote(pos.Prevote, 5, 0, 3) // a signature of another vote
	moved.BlockHash = common.Hash{2}
	other := signVote(t, chaintest.Key("B"), pos.Prevote, 5, 0, common.Hash{2})
	tests := []struct {
		name     string
		evidence []byte
		want     string // the reason, or its prefix if it ends in "..."
	}{
		{"forged signature", enc(vote(pos.Prevote, 5, 0, 1), forged), "invalid evidence: vote B: pos: bad signature: ..."},
		{"signature of another vote", enc(vote(pos.Prevote, 5, 0, 1), moved), "invalid evidence: pos: votes have different signers: " + addr("A").Hex() + " and ..."},
		{"votes of two validators", enc(vote(pos.Prevote, 5, 0, 1), other), "invalid evidence: pos: votes have different signers: " + addr("A").Hex() + " and " + addr("B").Hex()},
		{"non-validator", equivocation(t, "X", 5), "invalid evidence: pos: signer is not a validator: " + addr("X").Hex()},
		{"same block twice", enc(vote(pos.Prevote, 5, 0, 1), vote(pos.Prevote, 5, 0, 1)), "votes are for the same block"},
		{"different heights", enc(vote(pos.Prevote, 5, 0, 1), vote(pos.Prevote, 6, 0, 2)), "votes are for different heights: 5 and 6"},
		{"different rounds", enc(vote(pos.Prevote, 5, 0, 1), vote(pos.Prevote, 5, 1, 2)), "votes differ in type or round"},
		{"different types", enc(vote(pos.Prevote, 5, 0, 1), vote(pos.Precommit, 5, 0, 2)), "votes differ in type or round"},
		{"height 0", enc(vote(pos.Prevote, 0, 0, 1), vote(pos.Prevote, 0, 0, 2)), "invalid evidence: pos: no validator set for height: set starts at 1, votes at height 0"},
		{"not RLP", []byte{0xde, 0xad}, "malformed evidence: pos: malformed message: evidence: ..."},
		{"trailing bytes", append(enc(vote(pos.Prevote, 5, 0, 1), vote(pos.Prevote, 5, 0, 2)), 0), "malformed evidence: ..."},
		{"too large", make([]byte, staking.MaxEvidenceSize+1), "evidence larger than 1024 bytes"},
	}
	e := newChain(t, setup{stakes: []stake{{"A", 1}, {"B", 1}}})
	mineTo(t, e, 10)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.Exec("P", staking.Address, nil, chaintest.Pack(t, stakingABI, "slash", tt.evidence))
			prefix, ok := strings.CutSuffix(tt.want, "...")
			if ok && !strings.HasPrefix(r.Reason, prefix) || !ok && r.Reason != tt.want {
				t.Fatalf("have reason %q, want %q", r.Reason, tt.want)
			}
		})
	}
	if b, _ := stakeOf(t, e, "A"); b.Cmp(ether(1)) != 0 {
		t.Fatalf("stakeOf(A): have %v, want 1 ether", b)
	}
}
