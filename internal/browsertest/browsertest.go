package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Viewport is the size of every tab and screenshot.
const (
	ViewportWidth  = 1280
	ViewportHeight = 800
)

// candidates are where Debian and others install Chromium.
var candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Browser is one headless Chromium process.
type Browser struct {
	ctx context.Context
}

// Path returns the Chromium executable, or "" if none is installed.
func Path() string {
	if p := os.Getenv("ARBITER_CHROMIUM"); p != "" {
		return p
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// New starts a headless Chromium for the test, stopped when it ends. It
// skips the test when Chromium is not installed, unless ARBITER_CI=1 (then
// it fails: CI installs it with .ci/chromium-deps).
func New(t *testing.T) *Browser {
	t.Helper()
	path := Path()
	if path == "" {
		if os.Getenv("ARBITER_CI") == "1" {
			t.Fatal("chromium is not installed and ARBITER_CI=1 (install it with .ci/chromium-deps)")
		}
		t.Skip("chromium is not installed: skipping the browser test (install it with .ci/chromium-deps)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.WindowSize(ViewportWidth, ViewportHeight),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	if err := chromedp.Do(ctx); err != nil { // start the browser
		cancel()
		cancelAlloc()
		t.Fatalf("starting chromium %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return &Browser{ctx: ctx}
}

// Tab opens a tab in a new browser context: its own cookies and storage,
// as if it were another person's browser.
func (b *Browser) Tab(t *testing.T) context.Context {
	t.Helper()
	ctx, _ := b.TabCancel(t)
	return ctx
}

// TabCancel is Tab with a function that closes the tab before the test ends.
func (b *Browser) TabCancel(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	Do(t, ctx, chromedp.EmulateViewport(ViewportWidth, ViewportHeight))
	return ctx, cancel
}

// Do runs actions in a tab, failing the test on error.
func Do(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// Eval evaluates a JavaScript expression in a tab.
func Eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// WaitJS waits until a JavaScript expression is truthy in a tab, failing
// the test after timeout with what describe (an expression) says then.
func WaitJS(t *testing.T, ctx context.Context, expr string, timeout time.Duration, describe string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		state := "?"
		if describe != "" {
			if s, derr := chromedp.Run(ctx, chromedp.Evaluate[string](describe)); derr == nil {
				state = s
			}
		}
		t.Fatalf("waiting %v for %s: %v; page: %s", timeout, expr, err, state)
	}
}

// Screenshot saves the tab's viewport as name (a .png file) and returns
// the path.
func Screenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	dir := os.Getenv("ARBITER_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(repoRoot(t), dir)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("screenshot %s (%dx%d)", p, ViewportWidth, ViewportHeight)
	return p
}

// repoRoot is the directory holding go.mod, above the test's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

// Timeout is a generous bound for one browser wait on 2 shared cores.
const Timeout = 90 * time.Second

// Click clicks the element a CSS selector finds, through the page's own
// click event (the pages redraw often, which makes the DevTools' node ids
// go stale between a query and a synthetic mouse event).
func Click(t *testing.T, ctx context.Context, css string) {
	t.Helper()
	ok := Eval[bool](t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; e.click(); return true })()`, css))
	if !ok {
		t.Fatalf("click: no element %s", css)
	}
}

// SetValue sets the value of the input a CSS selector finds.
func SetValue(t *testing.T, ctx context.Context, css, value string) {
	t.Helper()
	ok := Eval[bool](t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; e.value = %q; return true })()`, css, value))
	if !ok {
		t.Fatalf("set value: no element %s", css)
	}
}
