package pow

import (
	"errors"
	"fmt"
)

// Config holds the proof-of-work parameters that live in genesis.json under
// "pow". The target block time is not part of it: genesis carries it at the
// top level and the node passes it to New.
//
//	"pow": {"minDifficulty": 1024, "initialDifficulty": 131072}
type Config struct {
	// MinDifficulty is the floor of the difficulty retarget. It must be at
	// least 1.
	MinDifficulty uint64 `json:"minDifficulty"`

	// InitialDifficulty is the difficulty of the genesis block, the starting
	// point of the retarget. It must be at least MinDifficulty.
	InitialDifficulty uint64 `json:"initialDifficulty"`
}

// Validate reports the first parameter that makes no sense. New does not
// validate its Config; call Validate when loading genesis.
func (c Config) Validate() error {
	switch {
	case c.MinDifficulty == 0:
		return errors.New("pow: minDifficulty must be at least 1")
	case c.InitialDifficulty == 0:
		return errors.New("pow: initialDifficulty must be at least 1")
	case c.InitialDifficulty < c.MinDifficulty:
		return fmt.Errorf("pow: initialDifficulty %d is below minDifficulty %d", c.InitialDifficulty, c.MinDifficulty)
	}
	return nil
}
