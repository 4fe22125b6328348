package arbiter

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/arbiter-chain/arbiter/"

// TestImportLayers keeps the imports running one way: cmd → examples →
// node → contracts → offchain, and node → consensus; internal/ holds
// shared helpers below them all. It lists every package's dependencies
// (direct and indirect, not counting tests) with `go list -deps` and fails
// on an import against the grain.
func TestImportLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath string
		Deps       []string
	}
	rules := []struct {
		from      string   // packages under this prefix
		forbidden []string // may not depend on packages under these
	}{
		{"contracts/", []string{"node/", "cmd/", "examples/"}},
		{"consensus/", []string{"node/", "contracts/", "offchain/", "cmd/", "examples/"}},
		{"offchain/", []string{"node/", "contracts/", "consensus/", "cmd/", "examples/"}},
		{"node/", []string{"cmd/", "examples/"}},
		{"examples/", []string{"cmd/"}},
		{"internal/", []string{"cmd/", "examples/"}},
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(p.ImportPath, module)
		for _, r := range rules {
			if !strings.HasPrefix(rel+"/", r.from) {
				continue
			}
			for _, d := range p.Deps {
				drel, ok := strings.CutPrefix(d, module)
				if !ok {
					continue
				}
				for _, f := range r.forbidden {
					if strings.HasPrefix(drel+"/", f) {
						t.Errorf("%s depends on %s (%s must not import %s)", rel, drel, r.from, f)
					}
				}
			}
		}
	}
	if seen < 20 {
		t.Fatalf("go list gave %d packages; the module has more", seen)
	}
}
