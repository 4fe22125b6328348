package pos

import (
	"errors"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// TestCoreValidationAnsweredLater drives a proposal through the core with
// its validation answered later, as the driver does: the core asks for it
// in Ready.Validate, keeps taking messages meanwhile, and acts on valid(v)
// only once Validated answers.
func TestCoreValidationAnsweredLater(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		h := newCoreHarness(t)
		h.deferValidation = true
		v := h.block(0, 0)
		h.propose(0, -1, v)
		last := h.ready[len(h.ready)-1]
		if len(last.Validate) != 1 || last.Validate[0].Hash() != v.Hash() {
			t.Fatalf("validation requests: have %d, want the proposal", len(last.Validate))
		}
		if _, ok := h.vote(Prevote, 0); ok {
			t.Fatal("prevoted before the proposal was validated")
		}
		// Messages keep flowing while the block is being validated.
		h.votes(Prevote, 0, v.Hash(), 0, 1)
		if _, ok := h.vote(Prevote, 0); ok {
			t.Fatal("prevoted before the proposal was validated")
		}
		if err := h.core.Validated(v.Hash(), nil); err != nil {
			t.Fatal(err)
		}
		h.collect()
		if pv, ok := h.vote(Prevote, 0); !ok || pv.BlockHash != v.Hash() {
			t.Fatalf("after validation: prevote %v, want for the proposal", pv)
		}
		if err := h.core.Validated(v.Hash(), nil); !errors.Is(err, errNotRequested) {
			t.Fatalf("a second answer: have %v, want %v", err, errNotRequested)
		}
		if err := h.core.Validated(common.Hash{1}, nil); !errors.Is(err, errNotRequested) {
			t.Fatalf("an answer nobody asked for: have %v, want %v", err, errNotRequested)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		h := newCoreHarness(t)
		h.deferValidation = true
		v := h.block(0, 0)
		h.propose(0, -1, v)
		if err := h.core.Validated(v.Hash(), errors.New("state root mismatch")); err != nil {
			t.Fatal(err)
		}
		h.collect()
		if pv, ok := h.vote(Prevote, 0); !ok || pv.BlockHash != (common.Hash{}) {
			t.Fatalf("after a failed validation: prevote %v, want nil", pv)
		}
		refused := h.ready[len(h.ready)-1].Refused
		if len(refused) != 1 || !errors.Is(refused[0], errInvalidBlock) {
			t.Fatalf("refusals reported: have %v, want the invalid block", refused)
		}
	})
	t.Run("never answered: the round times out", func(t *testing.T) {
		h := newCoreHarness(t)
		h.deferValidation = true
		h.propose(0, -1, h.block(0, 0))
		n := h.ticksUntil(100, func() bool { _, ok := h.vote(Prevote, 0); return ok })
		if pv, _ := h.vote(Prevote, 0); pv.BlockHash != (common.Hash{}) {
			t.Fatalf("timeout prevote: have %x, want nil", pv.BlockHash)
		}
		// The timeout waited once for the validation, then gave up.
		if want := 2 * int(h.core.cfg.TimeoutPropose.Ticks(0)); n != want {
			t.Fatalf("prevote nil after %d ticks, want %d (two propose timeouts)", n, want)
		}
	})
	// A proposal that arrived before timeoutPropose but whose validation
	// answers after it is voted on, as if validated on arrival: a busy
	// machine must not turn a good proposal into a round change.
	t.Run("answered after the timeout: prevote for it", func(t *testing.T) {
		h := newCoreHarness(t)
		h.deferValidation = true
		v := h.block(0, 0)
		h.propose(0, -1, v)
		h.tick(int(h.core.cfg.TimeoutPropose.Ticks(0)) + 2)
		if pv, ok := h.vote(Prevote, 0); ok {
			t.Fatalf("prevoted %x while the proposal was being validated", pv.BlockHash)
		}
		if err := h.core.Validated(v.Hash(), nil); err != nil {
			t.Fatal(err)
		}
		h.collect()
		if pv, ok := h.vote(Prevote, 0); !ok || pv.BlockHash != v.Hash() {
			t.Fatalf("after a late validation: prevote %v, want for the proposal", pv)
		}
	})
	t.Run("invalid after the timeout: prevote nil at the answer", func(t *testing.T) {
		h := newCoreHarness(t)
		h.deferValidation = true
		v := h.block(0, 0)
		h.propose(0, -1, v)
		h.tick(int(h.core.cfg.TimeoutPropose.Ticks(0)) + 2)
		if err := h.core.Validated(v.Hash(), errors.New("state root mismatch")); err != nil {
			t.Fatal(err)
		}
		h.collect()
		if pv, ok := h.vote(Prevote, 0); !ok || pv.BlockHash != (common.Hash{}) {
			t.Fatalf("after a late failed validation: prevote %v, want nil", pv)
		}
	})
	// A proposal re-proposing a value with vr >= 0 whose polka this node
	// has not seen is not being validated (line 28 does not ask): the
	// timeout prevotes nil on time.
	t.Run("proposal without its polka: no wait", func(t *testing.T) {
		h := newCoreHarness(t)
		h.deferValidation = true
		h.votes(Prevote, 1, common.Hash{}, 0, 1) // f+1 in round 1: line 55
		start := h.core.now
		h.propose(1, 0, h.block(0, 0))
		h.ticksUntil(100, func() bool { _, ok := h.vote(Prevote, 1); return ok })
		if pv, _ := h.vote(Prevote, 1); pv.BlockHash != (common.Hash{}) {
			t.Fatalf("timeout prevote: have %x, want nil", pv.BlockHash)
		}
		if waited := h.core.now - start; waited > h.core.cfg.TimeoutPropose.Ticks(1) {
			t.Fatalf("prevote nil after %d ticks, want at most one propose timeout (%d)", waited, h.core.cfg.TimeoutPropose.Ticks(1))
		}
	})
	t.Run("catch-up commit waits for validation", func(t *testing.T) {
		h := newCoreHarness(t)
		h.deferValidation = true
		v := h.block(0, 0)
		cm := &CommitMessage{Block: v, Commit: commitOf(t, h.others[:4], 1, 0, v.Hash())}
		if err := h.step(cm.Encode()); err != nil {
			t.Fatal(err)
		}
		for _, rd := range h.ready {
			if rd.Decided != nil {
				t.Fatal("decided a block before validating it")
			}
		}
		if err := h.core.Validated(v.Hash(), nil); err != nil {
			t.Fatal(err)
		}
		h.collect()
		if d := h.ready[len(h.ready)-1].Decided; d == nil || d.Block.Hash() != v.Hash() {
			t.Fatal("did not decide the committed block once validated")
		}
	})
}

// TestCorePerformsNoIO keeps the state machine pure: the core's files
// import nothing that reads a clock, a file or the network, and nothing
// that runs a goroutine or blocks. Validation of a block is a request in
// Ready and an answer through Validated (TestCoreValidationAnsweredLater).
func TestCorePerformsNoIO(t *testing.T) {
	forbidden := map[string]bool{
		"os": true, "io": true, "io/fs": true, "net": true, "net/http": true, "time": true,
		"sync": true, "log": true, "log/slog": true, "bufio": true, "context": true,
	}
	for _, file := range []string{"core.go", "rules.go", "votes.go"} {
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(".", file), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if forbidden[path] {
				t.Errorf("%s imports %s", file, path)
			}
		}
	}
}
