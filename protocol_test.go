package arbiter

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// protocolHome is the one package that defines the chess protocol's facts.
const protocolHome = "offchain/channel"

// protocolConst matches the names the arbiter's codes have had: game
// statuses, results, claim kinds and event names.
var protocolConst = regexp.MustCompile(`^(?i:status|result|claim|kind|event)(None|Open|Active|Claimed|Ended|Cancelled|WhiteWins|BlackWins|Draw|Checkmate|Timeout|GameOpened|GameJoined|GameClaimed|ClaimAnswered|GameEnded)$`)

// eventNames are the arbiter's events; outside protocolHome no Go code
// spells them as string literals.
var eventNames = []string{`"GameOpened"`, `"GameJoined"`, `"GameClaimed"`, `"ClaimAnswered"`, `"GameEnded"`}

// walkSource calls fn for every file of the module, skipping .git,
// node_modules and build output.
func walkSource(t *testing.T, fn func(path string, d fs.DirEntry)) {
	t.Helper()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "dist":
				return filepath.SkipDir
			}
			return nil
		}
		fn(filepath.ToSlash(path), d)
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
}

// TestProtocolConstantsDefinedOnce parses every Go file outside tests and
// fails if a game status, result, claim kind or event name constant is
// declared anywhere but in protocolHome, or twice there, or if an event
// name is written as a literal elsewhere.
func TestProtocolConstantsDefinedOnce(t *testing.T) {
	where := make(map[string][]string) // name -> files declaring it
	fset := token.NewFileSet()
	walkSource(t, func(path string, d fs.DirEntry) {
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		if filepath.Dir(path) != protocolHome {
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && slices.Contains(eventNames, lit.Value) {
					t.Errorf("%s: event name %s spelled out, want channel.Event*", fset.Position(lit.Pos()), lit.Value)
				}
				return true
			})
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				for _, name := range spec.(*ast.ValueSpec).Names {
					if protocolConst.MatchString(name.Name) {
						where[name.Name] = append(where[name.Name], path)
					}
				}
			}
		}
	})
	if len(where) < 18 {
		t.Fatalf("found %d protocol constants, want at least the 13 codes and 5 event names: %v", len(where), where)
	}
	for name, files := range where {
		if len(files) != 1 || filepath.Dir(files[0]) != protocolHome {
			t.Errorf("%s: have declarations in %v, want exactly one in %s", name, files, protocolHome)
		}
	}
}

// TestArbiterABIOneSource fails if a JSON file other than the one source
// and its docs copy holds the arbiter's ABI, or if the docs copy differs.
func TestArbiterABIOneSource(t *testing.T) {
	const (
		source = protocolHome + "/arbiter.abi.json"
		docs   = "docs/abi/chess.json"
	)
	var found []string
	walkSource(t, func(path string, d fs.DirEntry) {
		if !strings.HasSuffix(path, ".json") {
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if bytes.Contains(b, []byte(`"proveCheat"`)) {
			found = append(found, path)
		}
	})
	if want := []string{docs, source}; !slices.Equal(found, want) {
		t.Fatalf("arbiter ABI files: have %v, want %v", found, want)
	}
	src, err := os.ReadFile(source)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(docs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src, doc) {
		t.Fatalf("%s differs from %s", docs, source)
	}
}

// TestClientWireOnly checks that the client depends on the bridge's wire
// format (offchain/bridge/wire), whose types and codes it shares with the
// bridge, and on nothing else of the bridge, so a bot does not pull in
// the bridge's stores.
func TestClientWireOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./offchain/client").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	wire := false
	for _, dep := range strings.Fields(string(out)) {
		rel, ok := strings.CutPrefix(dep, module+"/")
		if !ok || !strings.HasPrefix(rel+"/", "offchain/bridge/") {
			continue
		}
		if rel != "offchain/bridge/wire" {
			t.Errorf("offchain/client depends on %s", rel)
		}
		wire = true
	}
	if !wire {
		t.Errorf("offchain/client does not use offchain/bridge/wire")
	}
}
