package arbiter

import _ "embed"

// DefaultGenesis is the repository's genesis.json.
//
//go:embed genesis.json
var DefaultGenesis []byte
