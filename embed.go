// Package arbiter embeds the default network's genesis.json so that the
// binary can initialise a node without any file beside it.
package arbiter

import _ "embed"

// DefaultGenesis is the repository's genesis.json.
//
//go:embed genesis.json
var DefaultGenesis []byte
