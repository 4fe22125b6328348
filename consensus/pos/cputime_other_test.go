//go:build !unix

package pos

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
