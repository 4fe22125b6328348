package main

import (
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestPortsFree(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	held := l.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name  string
		first int
		n     int
		want  bool
	}{
		{"range holding a listened port", held - 1, 3, false},
		{"the listened port alone", held, 1, false},
		{"empty range", held, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if have := portsFree(tt.first, tt.n); have != tt.want {
				t.Errorf("have %v, want %v", have, tt.want)
			}
		})
	}
	base := freeBasePort(t, 3)
	if !portsFree(base+1, 3) {
		t.Errorf("freeBasePort gave %d, whose next 3 ports are taken", base)
	}
	if base < 40000 || base+3 >= 60000 {
		t.Errorf("have base %d, want one in 40000-60000", base)
	}
	if _, err := strconv.Atoi(freeAddr(t)[len("127.0.0.1:"):]); err != nil {
		t.Errorf("freeAddr: have %v, want a loopback port", err)
	}
}

// TestStopProcess checks both ways a process ends: on the signal within
// the grace period, and killed after it when it ignores the signal.
func TestStopProcess(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	tests := []struct {
		name   string
		script string
		sig    syscall.Signal
		grace  time.Duration // long where the outcome must not hang on it
		want   bool
	}{
		{"exits on the signal", "sleep 60", syscall.SIGTERM, time.Minute, true},
		{"ignores the signal and is killed", "trap '' TERM; echo ready; while :; do sleep 1; done", syscall.SIGTERM, 200 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", tt.script)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if !tt.want {
				// The trap is set once the script says so.
				buf := make([]byte, 6)
				if _, err := out.Read(buf); err != nil {
					t.Fatal(err)
				}
			}
			exited := make(chan struct{})
			go func() {
				_ = cmd.Wait()
				close(exited)
			}()
			if have := stopProcess(cmd.Process, exited, tt.sig, tt.grace, true); have != tt.want {
				t.Errorf("have exited on the signal %v, want %v", have, tt.want)
			}
			select {
			case <-exited:
			default:
				t.Error("process still running after stopProcess")
			}
		})
	}
}

func TestWaitReady(t *testing.T) {
	calls := 0
	waitReady(t, "counter", time.Minute, time.Millisecond, nil, func() bool { calls++; return calls == 3 })
	if calls != 3 {
		t.Errorf("have %d calls, want 3", calls)
	}
}
