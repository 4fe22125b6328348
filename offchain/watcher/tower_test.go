package watcher

import (
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// TestWatchtower feeds one block of arbiter logs to a watcher over a fake
// chain and checks what it made of the last claim: the outcome recorded,
// the transaction sent and the notification.
func TestWatchtower(t *testing.T) {
	const deadline = 50
	tests := []struct {
		name     string
		keyless  bool
		estimate func(ethereum.CallMsg) (uint64, error)
		// setup stores states and returns the block's logs and the
		// transactions the chain holds.
		setup       func(e *env) ([]types.Log, []*types.Transaction)
		wantOutcome string
		wantCall    string // method sent, "" for none
		wantPly     uint32 // ply of the state sent
		wantNotice  string // notification to the claimant's opponent, "" for none
		blackClaims bool   // black is the claimant (white otherwise)
	}{
		{
			name: "refute on later state",
			setup: func(e *env) ([]types.Log, []*types.Transaction) {
				s := e.play(channel.StartState(e.newGame("g")), shuffle(6)...)
				e.accept(s...)
				tx, l := e.claim(e.white, channel.ClaimTimeout, s[1], s[2], deadline)
				return []types.Log{l}, []*types.Transaction{tx}
			},
			wantOutcome: OutcomeRefuted, wantCall: "refute", wantPly: 5, wantNotice: NoticeRefuted,
		},
		{
			name: "refute on double-signed state",
			setup: func(e *env) ([]types.Log, []*types.Transaction) {
				s := e.play(channel.StartState(e.newGame("g")), shuffle(5)...)
				e.accept(s...)
				other := e.play(s[3].State, "b1c3")[0] // white signs another ply 5
				tx, l := e.claim(e.white, channel.ClaimTimeout, s[3], other, deadline)
				return []types.Log{l}, []*types.Transaction{tx}
			},
			wantOutcome: OutcomeRefuted, wantCall: "refute", wantPly: 5, wantNotice: NoticeRefuted,
		},
		{
			name: "refute with a state seen in an earlier claim",
			setup: func(e *env) ([]types.Log, []*types.Transaction) {
				s := e.play(channel.StartState(e.newGame("g")), shuffle(2)...)
				e.accept(s...)
				first := e.play(s[1].State, "f3g1")[0]
				second := e.play(s[1].State, "b1c3")[0] // double signing at ply 3
				tx1, l1 := e.claim(e.white, channel.ClaimTimeout, s[1], first, deadline)
				tx2, l2 := e.claim(e.white, channel.ClaimTimeout, s[1], second, deadline)
				return []types.Log{l1, l2}, []*types.Transaction{tx1, tx2}
			},
			wantOutcome: OutcomeRefuted, wantCall: "refute", wantPly: 3, wantNotice: NoticeRefuted,
		},
		{
			name: "refute a draw claim resting on the claimant's base",
			setup: func(e *env) ([]types.Log, []*types.Transaction) {
				s := e.play(channel.StartState(e.newGame("g")), shuffle(6)...)
				e.accept(s...)
				// Black claims on white's ply 5; it rests on black's 4, but
				// black signed 6.
				tx, l := e.claim(e.black, channel.ClaimDraw, s[3], s[4], deadline)
				return []types.Log{l}, []*types.Transaction{tx}
			},
			wantOutcome: OutcomeRefuted, wantCall: "refute", wantPly: 6, wantNotice: NoticeRefuted, blackClaims: true,
		},
		{
			name: "answer a timeout claim",
			setup: func(e *env) ([]types.Log, []*types.Transaction) {
				s := e.play(channel.StartState(e.newGame("g")), shuffle(4)...)
				e.accept(s...)
				tx, l := e.claim(e.white, channel.ClaimTimeout, s[1], s[2], deadline)
				return []types.Log{l}, []*types.Transaction{tx}
			},
			wantOutcome: OutcomeAnswered, wantCall: "answer", wantPly: 4, wantNotice: NoticeAnswered,
		},
		{
			name: "only a timeout claim is answered",
			setup: func(e *env) ([]types.Log, []*types.Transaction) {
				s := e.play(channel.StartState(e.newGame("g")), shuffle(4)...)
				e.accept(s...)
				tx, l := e.claim(e.white, channel.ClaimCheckmate, s[1], s[2], deadline)
				return []types.Log{l}, []*types.Transaction{tx}
			},
			wantOutcome: OutcomePending, wantNotice: NoticePending,
		},
		{
			name: "nothing to do",
			setup: func(e *env) ([]types.Log, []*types.Transaction) {
				s := e.play(channel.StartState(e.newGame("g")), shuffle(3)...)
				e.accept(s...)
				tx, l := e.claim(e.white, channel.ClaimTimeout, s[1], s[2], deadline)
				return []types.Log{l}, []*types.Transaction{tx}
			},
			wantOutcome: OutcomePending, wantNotice: NoticePending,
		},
		{
			name: "game the bridge does not hold",
			setup: func(e *env) ([]types.Log, []*types.Transaction) {
				e.newGame("other")
				s := e.play(channel.StartState(gameID("g")), shuffle(6)...)
				tx, l := e.claim(e.white, channel.ClaimTimeout, s[1], s[2], deadline)
				return []types.Log{l}, []*types.Transaction{tx}
			},
			wantOutcome: OutcomeUnwatched,
		},
		{
			name: "claim transaction unavailable: judged from the event",
			setup: func(e *env) ([]types.Log, []*types.Transaction) {
				s := e.play(channel.StartState(e.newGame("g")), shuffle(6)...)
				e.accept(s...)
				_, l := e.claim(e.white, channel.ClaimTimeout, s[1], s[2], deadline)
				return []types.Log{l}, nil
			},
			wantOutcome: OutcomeRefuted, wantCall: "refute", wantPly: 5, wantNotice: NoticeRefuted,
		},
		{
			name: "dry run refused",
			estimate: func(ethereum.CallMsg) (uint64, error) {
				return 0, &rpcError{code: 3, msg: "execution reverted: claim window has closed at block 50"}
			},
			setup: func(e *env) ([]types.Log, []*types.Transaction) {
				s := e.play(channel.StartState(e.newGame("g")), shuffle(6)...)
				e.accept(s...)
				tx, l := e.claim(e.white, channel.ClaimTimeout, s[1], s[2], deadline)
				return []types.Log{l}, []*types.Transaction{tx}
			},
			wantOutcome: OutcomeRefused, wantNotice: NoticeFailed,
		},
		{
			name:    "no key",
			keyless: true,
			setup: func(e *env) ([]types.Log, []*types.Transaction) {
				s := e.play(channel.StartState(e.newGame("g")), shuffle(6)...)
				e.accept(s...)
				tx, l := e.claim(e.white, channel.ClaimTimeout, s[1], s[2], deadline)
				return []types.Log{l}, []*types.Transaction{tx}
			},
			wantOutcome: OutcomeNoKey, wantNotice: NoticePending,
		},
	}
	forBackends(t, []string{backendMemory, backendPostgres}, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnvOn(t, backend, Config{}, tt.keyless)
				e.chain.estimate = tt.estimate
				logs, txs := tt.setup(e)
				e.chain.mine("a", logs, txs...)
				e.poll()

				recs := e.handled()
				if len(recs) != len(logs) {
					t.Fatalf("records: have %d, want %d", len(recs), len(logs))
				}
				last := recs[len(recs)-1]
				if last.Event != channel.EventGameClaimed || last.Outcome != tt.wantOutcome {
					t.Fatalf("last record: have %s %s (%s), want %s %s", last.Event, last.Outcome, last.Detail, channel.EventGameClaimed, tt.wantOutcome)
				}
				sent := e.chain.sentTxs()
				switch {
				case tt.wantCall == "" && len(sent) != 0:
					t.Fatalf("sent %d transactions, want none", len(sent))
				case tt.wantCall != "":
					if len(sent) != 1 {
						t.Fatalf("sent %d transactions, want 1", len(sent))
					}
					method, ply := e.sentCall(sent[0])
					if method != tt.wantCall || ply != tt.wantPly {
						t.Fatalf("sent: have %s with ply %d, want %s with ply %d", method, ply, tt.wantCall, tt.wantPly)
					}
					if last.Action != sent[0].Hash() {
						t.Fatalf("recorded action: have %s, want %s", last.Action, sent[0].Hash())
					}
					if from, _ := types.Sender(types.LatestSignerForChainID(e.chain.chainID), sent[0]); from != addrOf(e.tower) {
						t.Fatalf("sender: have %s, want the watchtower %s", from, addrOf(e.tower))
					}
				}
				opponent := addrOf(e.black)
				if tt.blackClaims {
					opponent = addrOf(e.white)
				}
				var got []Notification
				for _, n := range e.notes.Notifications() {
					if n.Claim == last.TxHash {
						got = append(got, n)
					}
				}
				switch {
				case tt.wantNotice == "" && len(got) != 0:
					t.Fatalf("notifications: have %+v, want none", got)
				case tt.wantNotice != "" && (len(got) != 1 || got[0].Event != tt.wantNotice || got[0].Player != opponent):
					t.Fatalf("notifications: have %+v, want one %s", got, tt.wantNotice)
				}
			})
		}
	})
}
