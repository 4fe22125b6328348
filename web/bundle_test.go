package web

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBundleUpToDate rebuilds the pages from package-lock.json with
// build.sh into a temporary directory and checks that the result is
// byte for byte the committed dist/: the embedded bundle is what the
// sources and the locked packages make. It needs node and npm (and the
// npm registry); without them it skips, unless ARBITER_CI=1.
func TestBundleUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs npm ci and esbuild")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("ARBITER_CI") == "1" {
				t.Fatalf("%s is not installed and ARBITER_CI=1: the bundle cannot be checked", tool)
			}
			t.Skipf("%s is not installed: skipping the check that web/dist matches what web/build.sh makes from the lockfile", tool)
		}
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "build.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, b)
	}
	built := files(t, os.DirFS(out))
	committed := files(t, os.DirFS("dist"))
	for name, want := range built {
		have, ok := committed[name]
		switch {
		case !ok:
			t.Errorf("dist/%s: built but not committed (run web/build.sh)", name)
		case !bytes.Equal(have, want):
			t.Errorf("dist/%s: committed file differs from the build (run web/build.sh)", name)
		}
	}
	for name := range committed {
		if _, ok := built[name]; !ok {
			t.Errorf("dist/%s: committed but no longer built", name)
		}
	}
	for _, js := range []string{"chess/app.js", "console/console.js"} {
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		_, _ = w.Write(built[js])
		_ = w.Close()
		t.Logf("%s: %d bytes, %d gzipped", js, len(built[js]), gz.Len())
	}
}

func files(t *testing.T, fsys fs.FS) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		out[filepath.ToSlash(p)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
