//go:build !unix

package chain

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
