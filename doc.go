// Package arbiter embeds the default network's genesis.json so that the
// binary can initialise a node without any file beside it.
//
// It owns the embedded default genesis and the repository-wide tests (the
// import layering of layers_test.go). It must not import any package of
// the module: every other package may import it.
package arbiter
