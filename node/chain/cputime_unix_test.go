//go:build unix

package chain

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the test process has used so far (user and
// system), which a busy machine inflates far less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
