// Package browsertest runs the web pages' tests in a real headless
// Chromium through chromedp: it finds the browser (skipping the test
// when there is none, unless ARBITER_CI=1), opens isolated browser
// contexts (each with its own storage, like two people's browsers), waits
// on page conditions and saves screenshots.
//
//	b := browsertest.New(t)
//	tab := b.Tab(t)
//	browsertest.Do(t, tab, chromedp.Navigate(url))
//	browsertest.WaitJS(t, tab, `document.body.dataset.ply === "4"`, time.Minute)
//
// Screenshots go to the directory named by ARBITER_SCREENSHOTS (the docs/
// pictures are refreshed with ARBITER_SCREENSHOTS=docs), else to a
// temporary directory; all are taken at Viewport.
//
// It is imported by tests only and must not import any other package of
// the module (nor cmd/ or examples/).
package browsertest
