// Package web holds the two browser pages the arbiter binary serves, as
// bundled files embedded in the binary: the chess page (served by
// arbiter bridge at /) and the operator console (served by arbiter node at
// /console). Their sources are in web/src; web/build.sh bundles them with
// the npm packages pinned in web/package-lock.json into web/dist, which is
// committed, so building the binary needs no npm. TestBundleUpToDate
// rebuilds the bundle from the lockfile and compares it with web/dist.
//
//	http.Handle("/", http.FileServerFS(web.Chess()))
//
// It owns the embedded pages only and must not import any other package
// of the module (nor cmd/ or examples/).
package web
