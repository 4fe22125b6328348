package membership_test

import (
	"errors"
	"math/big"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/internal/chaintest"
	"github.com/arbiter-chain/arbiter/node/rules"
)

var addr = chaintest.Addr

func newChain(t *testing.T, members ...string) *chaintest.Env {
	t.Helper()
	return chaintest.New(t, chaintest.Config{Members: members, Allowed: []string{"P"}, Funded: []string{"X", "Y", "E", "F"}})
}

// call sends method from name and checks the revert reason ("" for success).
func call(t *testing.T, e *chaintest.Env, from, method string, want string, args ...any) chaintest.Result {
	t.Helper()
	r := e.Exec(from, membership.Address, nil, chaintest.Pack(t, chaintest.MembershipABI, method, args...))
	if r.Reason != want {
		t.Fatalf("%s %s by %s: have reason %q, want %q", method, args, from, r.Reason, want)
	}
	return r
}

func members(t *testing.T, e *chaintest.Env) []common.Address {
	t.Helper()
	return e.View(chaintest.MembershipABI, membership.Address, "members")[0].([]common.Address)
}

func isMember(t *testing.T, e *chaintest.Env, name string) bool {
	t.Helper()
	return e.View(chaintest.MembershipABI, membership.Address, "isMember", addr(name))[0].(bool)
}

func isAllowed(t *testing.T, e *chaintest.Env, name string) bool {
	t.Helper()
	return e.View(chaintest.MembershipABI, membership.Address, "isAllowed", addr(name))[0].(bool)
}

// eventNames returns the names of the membership events in r's logs.
func eventNames(t *testing.T, r chaintest.Result) []string {
	t.Helper()
	var out []string
	for _, l := range r.Receipt.Logs {
		ev, err := chaintest.MembershipABI.EventByID(l.Topics[0])
		if err != nil {
			t.Fatalf("log: %v", err)
		}
		if l.Address != membership.Address {
			t.Fatalf("log address: have %s, want %s", l.Address, membership.Address)
		}
		out = append(out, ev.Name)
	}
	return out
}

// TestVotes runs vote scenarios with four members A-D: a proposal executes
// on the vote that brings it above two thirds (3 of 4, then 4 of 5).
func TestVotes(t *testing.T) {
	type step struct {
		from, method string
		args         []any
		reason       string
		events       []string
	}
	add := func(from, cand string, events ...string) step {
		return step{from: from, method: "propose", args: []any{addr(cand), true}, events: events}
	}
	remove := func(from, cand string, events ...string) step {
		return step{from: from, method: "propose", args: []any{addr(cand), false}, events: events}
	}
	fail := func(s step, reason string) step { s.reason = reason; s.events = nil; return s }
	tests := []struct {
		name        string
		steps       []step
		wantMembers []string
	}{
		{"two of four votes do not admit", []step{
			add("A", "E", "MemberProposed"),
			add("B", "E", "MemberProposed"),
		}, []string{"A", "B", "C", "D"}},
		{"third of four votes admits", []step{
			add("A", "E", "MemberProposed"),
			add("B", "E", "MemberProposed"),
			add("C", "E", "MemberProposed", "MemberAdded"),
		}, []string{"A", "B", "C", "D", "E"}},
		{"new member votes at once and needs four of five", []step{
			add("A", "E", "MemberProposed"), add("B", "E", "MemberProposed"), add("C", "E", "MemberProposed", "MemberAdded"),
			remove("E", "D", "MemberProposed"), remove("A", "D", "MemberProposed"), remove("B", "D", "MemberProposed"),
			remove("C", "D", "MemberProposed", "MemberRemoved"),
		}, []string{"A", "B", "C", "E"}},
		{"pending votes lapse when the member set changes", []step{
			add("A", "F", "MemberProposed"), add("B", "F", "MemberProposed"),
			add("A", "E", "MemberProposed"), add("B", "E", "MemberProposed"), add("C", "E", "MemberProposed", "MemberAdded"),
			// F's two votes lapsed: two fresh ones of five do not admit.
			add("C", "F", "MemberProposed"), add("D", "F", "MemberProposed"),
		}, []string{"A", "B", "C", "D", "E"}},
		{"executed proposal's votes are cleared", []step{
			add("A", "E", "MemberProposed"), add("B", "E", "MemberProposed"), add("C", "E", "MemberProposed", "MemberAdded"),
			remove("A", "E", "MemberProposed"), remove("B", "E", "MemberProposed"), remove("C", "E", "MemberProposed"),
			remove("D", "E", "MemberProposed", "MemberRemoved"),
			add("A", "E", "MemberProposed"),
		}, []string{"A", "B", "C", "D"}},
		{"double vote", []step{add("A", "E", "MemberProposed"), fail(add("A", "E"), "already voted on this proposal")}, []string{"A", "B", "C", "D"}},
		{"non-member proposes", []step{fail(add("P", "E"), "caller is not a member")}, []string{"A", "B", "C", "D"}},
		{"admit a member", []step{fail(add("A", "B"), "candidate is already a member: "+addr("B").Hex())}, []string{"A", "B", "C", "D"}},
		{"remove a non-member", []step{fail(remove("A", "E"), "candidate is not a member: "+addr("E").Hex())}, []string{"A", "B", "C", "D"}},
		{"zero candidate", []step{fail(step{from: "A", method: "propose", args: []any{common.Address{}, true}}, "zero address")}, []string{"A", "B", "C", "D"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newChain(t, "A", "B", "C", "D")
			for i, s := range tt.steps {
				r := call(t, e, s.from, s.method, s.reason, s.args...)
				if have := eventNames(t, r); !slices.Equal(have, s.events) {
					t.Fatalf("step %d events: have %v, want %v", i, have, s.events)
				}
			}
			want := make([]common.Address, len(tt.wantMembers))
			for i, n := range tt.wantMembers {
				want[i] = addr(n)
			}
			have := members(t, e)
			slices.SortFunc(have, common.Address.Cmp)
			slices.SortFunc(want, common.Address.Cmp)
			if !slices.Equal(have, want) {
				t.Fatalf("members: have %v, want %v", have, want)
			}
		})
	}
}

func TestMemberProposedEvent(t *testing.T) {
	e := newChain(t, "A", "B", "C")
	call(t, e, "A", "propose", "", addr("E"), true)
	r := call(t, e, "B", "propose", "", addr("E"), true)
	l := r.Receipt.Logs[0]
	ev := chaintest.MembershipABI.Events["MemberProposed"]
	if have, want := l.Topics, []common.Hash{ev.ID, common.BytesToHash(addr("E").Bytes()), common.BytesToHash(addr("B").Bytes())}; !slices.Equal(have, want) {
		t.Fatalf("topics: have %v, want %v", have, want)
	}
	data, err := ev.Inputs.NonIndexed().Unpack(l.Data)
	if err != nil {
		t.Fatalf("unpack: %v", err)
	}
	if data[0].(bool) != true || data[1].(*big.Int).Uint64() != 2 {
		t.Fatalf("data: have %v, want [true 2]", data)
	}
	// 2 of 3 is not more than two thirds; the third vote admits.
	if isMember(t, e, "E") {
		t.Fatalf("E admitted with 2 of 3 votes")
	}
	call(t, e, "C", "propose", "", addr("E"), true)
	if !isMember(t, e, "E") {
		t.Fatalf("E not admitted with 3 of 3 votes")
	}
}

func TestLastMember(t *testing.T) {
	e := newChain(t, "A")
	call(t, e, "A", "propose", "cannot remove the last member", addr("A"), false)
	// A single member admits alone; of two, one vote does not remove.
	call(t, e, "A", "propose", "", addr("E"), true)
	call(t, e, "A", "propose", "", addr("E"), false)
	if !isMember(t, e, "E") {
		t.Fatalf("E removed with 1 of 2 votes")
	}
	call(t, e, "E", "propose", "", addr("E"), false)
	if have, want := members(t, e), []common.Address{addr("A")}; !slices.Equal(have, want) {
		t.Fatalf("members: have %v, want %v", have, want)
	}
	call(t, e, "A", "propose", "cannot remove the last member", addr("A"), false)
}

// transfer signs a plain transfer from name.
func transfer(e *chaintest.Env, from string) *types.Transaction {
	return e.SignTx(from, addr("Q"), big.NewInt(1), nil, 21000)
}

func TestVouchAndRevoke(t *testing.T) {
	e := newChain(t, "A", "B", "C", "D")
	if isAllowed(t, e, "X") {
		t.Fatalf("X allowed before vouching")
	}
	r := call(t, e, "A", "allowAccount", "", addr("X"))
	if have, want := eventNames(t, r), []string{"AccountAllowed"}; !slices.Equal(have, want) {
		t.Fatalf("events: have %v, want %v", have, want)
	}
	if !isAllowed(t, e, "X") || isMember(t, e, "X") {
		t.Fatalf("X: allowed %v member %v, want true false", isAllowed(t, e, "X"), isMember(t, e, "X"))
	}
	// X can now send a transaction.
	_, receipts := e.Mine(transfer(e, "X"))
	if receipts[0].Status != types.ReceiptStatusSuccessful {
		t.Fatalf("X's transfer failed")
	}
	call(t, e, "B", "allowAccount", "account is already allowed: "+addr("X").Hex(), addr("X"))
	call(t, e, "P", "allowAccount", "caller is not a member", addr("Y"))
	call(t, e, "A", "revokeAccount", "account is not vouched for: "+addr("Y").Hex(), addr("Y"))

	// The voucher revokes at once.
	r = call(t, e, "A", "revokeAccount", "", addr("X"))
	if have, want := eventNames(t, r), []string{"AccountRevoked"}; !slices.Equal(have, want) {
		t.Fatalf("events: have %v, want %v", have, want)
	}
	if isAllowed(t, e, "X") {
		t.Fatalf("X still allowed after revocation")
	}
	st, err := e.Chain.State()
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	tx := transfer(e, "X")
	if err := rules.CheckState(st, addr("X"), tx, true); !errors.Is(err, rules.ErrNotAllowed) {
		t.Fatalf("CheckState: have %v, want %v", err, rules.ErrNotAllowed)
	}
	// The block builder leaves the transaction out, and a block that holds
	// it anyway is refused on import.
	parent := e.Chain.CurrentBlock()
	built, err := e.Chain.BuildBlock(parent, []*types.Transaction{tx}, parent.Time()+1)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if have := len(built.Block.Transactions()); have != 0 {
		t.Fatalf("built block holds %d txs, want 0", have)
	}
	if err := e.Chain.InsertBlock(e.BuildUnchecked(tx)); !errors.Is(err, rules.ErrNotAllowed) {
		t.Fatalf("import: have %v, want %v", err, rules.ErrNotAllowed)
	}
	e.ForgetNonce("X")
}

func TestRevokeByVote(t *testing.T) {
	e := newChain(t, "A", "B", "C", "D")
	// P is vouched for by A in genesis. Two of four other votes do not revoke.
	for _, s := range []struct{ from, reason string }{{"B", ""}, {"C", ""}, {"C", "already voted on this proposal"}} {
		r := call(t, e, s.from, "revokeAccount", s.reason, addr("P"))
		if len(r.Receipt.Logs) != 0 {
			t.Fatalf("vote by %s logged %d events, want 0", s.from, len(r.Receipt.Logs))
		}
	}
	if !isAllowed(t, e, "P") {
		t.Fatalf("P revoked by 2 of 4 votes")
	}
	r := call(t, e, "D", "revokeAccount", "", addr("P"))
	if have, want := eventNames(t, r), []string{"AccountRevoked"}; !slices.Equal(have, want) {
		t.Fatalf("events: have %v, want %v", have, want)
	}
	if isAllowed(t, e, "P") {
		t.Fatalf("P allowed after 3 of 4 votes")
	}
	// Vouched again, the old votes do not count: one new vote does not revoke.
	call(t, e, "A", "allowAccount", "", addr("P"))
	call(t, e, "B", "revokeAccount", "", addr("P"))
	if !isAllowed(t, e, "P") {
		t.Fatalf("stale votes revoked P")
	}
}

func TestViewsAndValue(t *testing.T) {
	e := newChain(t, "A", "B", "C")
	have := members(t, e)
	want := []common.Address{addr("A"), addr("B"), addr("C")}
	if !slices.Equal(have, want) {
		t.Fatalf("members: have %v, want %v", have, want)
	}
	tests := []struct {
		name           string
		member, allowd bool
	}{{"A", true, true}, {"P", false, true}, {"Z", false, false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if have := isMember(t, e, tt.name); have != tt.member {
				t.Errorf("isMember: have %v, want %v", have, tt.member)
			}
			if have := isAllowed(t, e, tt.name); have != tt.allowd {
				t.Errorf("isAllowed: have %v, want %v", have, tt.allowd)
			}
		})
	}
	before := e.Balance(addr("A"))
	r := e.Exec("B", membership.Address, big.NewInt(5), chaintest.Pack(t, chaintest.MembershipABI, "propose", addr("E"), true))
	if r.Reason != "method is not payable: propose" {
		t.Fatalf("reason: have %q, want %q", r.Reason, "method is not payable: propose")
	}
	// A mines and collects B's fee; the value went back to B.
	if have, want := e.Balance(addr("A")), new(big.Int).Add(before, e.Fee(r)); have.Cmp(want) != 0 {
		t.Fatalf("miner balance: have %v, want %v", have, want)
	}
	if have := e.Balance(membership.Address); have.Sign() != 0 {
		t.Fatalf("contract balance: have %v, want 0", have)
	}
}

// TestVouchLapses checks that an account is allowed only while the member
// who vouched for it is a member: X, vouched for by B, lapses when B is
// removed, and is allowed again if B is re-admitted or another member
// vouches for it; a lapsed voucher can be revoked at once by any member,
// and then B's re-admission does not revive it.
func TestVouchLapses(t *testing.T) {
	vote := func(t *testing.T, e *chaintest.Env, add bool) {
		t.Helper()
		for _, from := range []string{"A", "C", "D"} {
			call(t, e, from, "propose", "", addr("B"), add)
		}
		if have := isMember(t, e, "B"); have != add {
			t.Fatalf("B member: have %v, want %v", have, add)
		}
	}
	tests := []struct {
		name  string
		after func(t *testing.T, e *chaintest.Env)
		want  bool
	}{
		{"voucher removed", func(t *testing.T, e *chaintest.Env) {}, false},
		{"voucher re-admitted", func(t *testing.T, e *chaintest.Env) { vote(t, e, true) }, true},
		{"another member vouches", func(t *testing.T, e *chaintest.Env) {
			r := call(t, e, "C", "allowAccount", "", addr("X"))
			if have, want := eventNames(t, r), []string{"AccountAllowed"}; !slices.Equal(have, want) {
				t.Fatalf("events: have %v, want %v", have, want)
			}
		}, true},
		{"lapsed voucher revoked by one member, voucher re-admitted", func(t *testing.T, e *chaintest.Env) {
			r := call(t, e, "C", "revokeAccount", "", addr("X"))
			if have, want := eventNames(t, r), []string{"AccountRevoked"}; !slices.Equal(have, want) {
				t.Fatalf("events: have %v, want %v", have, want)
			}
			vote(t, e, true)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newChain(t, "A", "B", "C", "D")
			call(t, e, "B", "allowAccount", "", addr("X"))
			if !isAllowed(t, e, "X") {
				t.Fatalf("X not allowed after B vouched")
			}
			vote(t, e, false)
			tt.after(t, e)
			if have := isAllowed(t, e, "X"); have != tt.want {
				t.Fatalf("isAllowed(X): have %v, want %v", have, tt.want)
			}
			st, err := e.Chain.State()
			if err != nil {
				t.Fatalf("state: %v", err)
			}
			var want error
			if !tt.want {
				want = rules.ErrNotAllowed
			}
			if err := rules.CheckState(st, addr("X"), transfer(e, "X"), true); !errors.Is(err, want) {
				t.Fatalf("CheckState(X): have %v, want %v", err, want)
			}
			e.ForgetNonce("X")
		})
	}
}
