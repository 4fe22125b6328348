package wire

import (
	"errors"
	"fmt"
	"testing"
)

// TestCodes checks that every refusal and its code map to each other both
// ways, through wrapping, and that no code is taken twice.
func TestCodes(t *testing.T) {
	seen := make(map[int]error)
	for _, c := range codes {
		t.Run(c.err.Error(), func(t *testing.T) {
			if prev, ok := seen[c.code]; ok {
				t.Fatalf("code %d: have %v and %v", c.code, prev, c.err)
			}
			seen[c.code] = c.err
			if have := ErrorCode(fmt.Errorf("op: %w", c.err)); have != c.code {
				t.Fatalf("ErrorCode: have %d, want %d", have, c.code)
			}
			if have := Sentinel(c.code); have != c.err {
				t.Fatalf("Sentinel(%d): have %v, want %v", c.code, have, c.err)
			}
		})
	}
	if len(seen) != 10 {
		t.Fatalf("codes: have %d, want 10", len(seen))
	}
	for _, code := range []int{CodeInternal, CodeLimitExceeded, CodeInvalidRequest, 0, -32019} {
		if have := Sentinel(code); have != nil {
			t.Errorf("Sentinel(%d): have %v, want nil", code, have)
		}
	}
	if have := ErrorCode(errors.New("store down")); have != CodeInternal {
		t.Errorf("ErrorCode of an internal error: have %d, want %d", have, CodeInternal)
	}
}
