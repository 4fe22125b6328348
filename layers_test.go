package arbiter

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/arbiter-chain/arbiter"

// layerRule forbids the packages under from (a path relative to the
// module, "" for every package) to depend on packages under forbidden,
// except the packages under exempt.
type layerRule struct {
	from      string
	forbidden []string
	exempt    []string
}

// layerRules keep the imports running one way: cmd → examples → node →
// contracts → offchain, and node → consensus; internal/ holds shared
// helpers below them all. The first four are the contract of the layout:
// contracts/ never reaches node/, consensus/ neither node/ nor contracts/,
// offchain/ never node/ (it reaches a node over JSON-RPC), and nothing
// outside cmd/ and examples/ imports them.
var layerRules = []layerRule{
	{from: "contracts", forbidden: []string{"node"}},
	{from: "consensus", forbidden: []string{"node", "contracts", "offchain"}},
	{from: "offchain", forbidden: []string{"node", "contracts", "consensus"}},
	{from: "", forbidden: []string{"cmd"}, exempt: []string{"cmd"}},
	{from: "", forbidden: []string{"examples"}, exempt: []string{"cmd", "examples"}},
	// What the doc.go files of the lowest packages promise.
	{from: "node/store", forbidden: []string{"node/chain", "node/genesis", "node/p2p", "node/posval", "node/rpc", "node/rules", "node/txpool", "consensus", "contracts", "offchain"}},
	{from: "node/chain", forbidden: []string{"node/p2p", "node/posval", "node/rpc", "node/txpool"}},
	{from: "internal/kvopen", forbidden: leafForbidden},
	{from: "internal/rpclimit", forbidden: leafForbidden},
	{from: "internal/origin", forbidden: leafForbidden},
	{from: "internal/browsertest", forbidden: leafForbidden},
	{from: "web", forbidden: leafForbidden},
}

// leafForbidden is every layer of the module but internal/: what a leaf
// package (one that imports nothing of the module) must not import.
var leafForbidden = []string{"consensus", "contracts", "node", "offchain", "web", "cmd", "examples"}

// under reports whether the module-relative path rel is dir or below it;
// every path is under "".
func under(rel, dir string) bool {
	return dir == "" || rel == dir || strings.HasPrefix(rel, dir+"/")
}

// layerPkg is one package as go list reports it.
type layerPkg struct {
	ImportPath string
	Deps       []string
}

// layerViolations returns one line for every dependency of pkgs that a
// rule forbids (once, however many rules forbid it), in the order of pkgs
// and their deps.
func layerViolations(pkgs []layerPkg, rules []layerRule) []string {
	var out []string
	seen := make(map[[2]string]bool)
	rel := func(p string) (string, bool) {
		if p == module {
			return "", true
		}
		r, ok := strings.CutPrefix(p, module+"/")
		return r, ok
	}
	for _, p := range pkgs {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		for _, r := range rules {
			if !under(from, r.from) || slices.ContainsFunc(r.exempt, func(e string) bool { return under(from, e) }) {
				continue
			}
			for _, d := range p.Deps {
				dep, ok := rel(d)
				if !ok {
					continue
				}
				for _, f := range r.forbidden {
					if under(dep, f) && !seen[[2]string{from, dep}] {
						seen[[2]string{from, dep}] = true
						out = append(out, from+" depends on "+dep+" (forbidden: "+f+"/)")
					}
				}
			}
		}
	}
	return out
}

// TestImportLayers lists every package's dependencies (direct and
// indirect, not counting tests) with `go list -deps` and fails on an
// import against the grain.
func TestImportLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []layerPkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p layerPkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list gave %d packages; the module has more", len(pkgs))
	}
	for _, v := range layerViolations(pkgs, layerRules) {
		t.Error(v)
	}
}

// TestLayerRules checks the rules themselves on made-up packages, so that
// TestImportLayers passing means the tree obeys them, not that they
// match nothing.
func TestLayerRules(t *testing.T) {
	m := func(rel string) string {
		if rel == "" {
			return module
		}
		return module + "/" + rel
	}
	tests := []struct {
		name string
		from string
		deps []string
		want int
	}{
		{"contracts reaching node", "contracts/chess", []string{"node/chain"}, 1},
		{"consensus reaching node and contracts", "consensus/pos", []string{"node/store", "contracts/native"}, 2},
		{"offchain reaching node", "offchain/watcher", []string{"node/rpc"}, 1},
		{"node reaching examples", "node", []string{"examples/chess/demo"}, 1},
		{"internal reaching cmd", "internal/chaintest", []string{"cmd/arbiter"}, 1},
		{"web reaching cmd", "web", []string{"cmd/arbiter"}, 1},
		{"a leaf reaching node", "internal/kvopen", []string{"node/store"}, 1},
		{"node/store reaching node/chain", "node/store", []string{"node/chain", "internal/kvopen"}, 1},
		{"node/chain reaching node/rpc", "node/chain", []string{"node/rpc", "node/store"}, 1},
		{"module root reaching examples", "", []string{"examples/transfer"}, 1},
		{"examples reaching cmd", "examples/chess", []string{"cmd/arbiter"}, 1},
		{"cmd reaching examples and node", "cmd/arbiter", []string{"examples/chess/demo", "node"}, 0},
		{"examples reaching examples and node", "examples/chess", []string{"examples/chess/demo", "node/chain"}, 0},
		{"node reaching contracts and consensus", "node/chain", []string{"contracts/native", "consensus/pos"}, 0},
		{"a name that only starts like a layer", "nodes", []string{"cmdline"}, 0},
		{"outside the module", "github.com/other/x", []string{m("cmd/arbiter")}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := layerPkg{ImportPath: m(tt.from)}
			if strings.Contains(tt.from, ".") {
				p.ImportPath = tt.from
			}
			for _, d := range tt.deps {
				if strings.Contains(d, ".") {
					p.Deps = append(p.Deps, d)
				} else {
					p.Deps = append(p.Deps, m(d), "fmt")
				}
			}
			if have := layerViolations([]layerPkg{p}, layerRules); len(have) != tt.want {
				t.Errorf("have %d violations %q, want %d", len(have), have, tt.want)
			}
		})
	}
}
