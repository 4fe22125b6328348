package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// errProcFormat: a /proc file does not read as expected.
var errProcFormat = errors.New("unexpected /proc format")

// benchProc is a process whose CPU time and peak memory the tool reports.
type benchProc struct {
	pid  int
	name string
}

// procName is a process's command name (/proc/PID/comm), or "" if unknown.
func procName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// findProcs returns the processes under procDir (normally /proc) whose
// command name, or the base name of whose first argument, is one of names,
// in process id order, leaving out the process self (the tool, which may
// well be called arbiter too). It fails if a name matches nothing.
func findProcs(procDir string, names []string, self int) ([]benchProc, error) {
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return nil, err
	}
	matched := map[string]bool{}
	var out []benchProc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procDir, e.Name(), "comm"))
		if err != nil {
			continue // gone, or not a process
		}
		cands := []string{strings.TrimSpace(string(comm))}
		if cmdline, err := os.ReadFile(filepath.Join(procDir, e.Name(), "cmdline")); err == nil {
			if argv0, _, _ := strings.Cut(string(cmdline), "\x00"); argv0 != "" {
				cands = append(cands, filepath.Base(argv0))
			}
		}
		for _, n := range names {
			if slices.Contains(cands, n) {
				out = append(out, benchProc{pid: pid, name: cands[0]})
				matched[n] = true
				break
			}
		}
	}
	for _, n := range names {
		if !matched[n] {
			return nil, fmt.Errorf("--procs: no process named %q", n)
		}
	}
	slices.SortFunc(out, func(a, b benchProc) int { return a.pid - b.pid })
	return out, nil
}

// parseProcStat returns utime+stime, in clock ticks, from the text of
// /proc/PID/stat. The command name (field 2) is in parentheses and may hold
// spaces and parentheses itself, so fields are counted after the last ')':
// state is field 3, utime field 14, stime field 15.
func parseProcStat(stat string) (uint64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat without ')'", errProcFormat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: stat has %d fields after the name", errProcFormat, len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%w: %v", errProcFormat, err)
	}
	return utime + stime, nil
}

// parseVmHWM returns the peak resident set size in KiB from the text of
// /proc/PID/status (its VmHWM line).
func parseVmHWM(status string) (uint64, error) {
	for _, line := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%w: VmHWM line %q", errProcFormat, line)
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: VmHWM line %q", errProcFormat, line)
		}
		return v, nil
	}
	return 0, fmt.Errorf("%w: no VmHWM line", errProcFormat)
}

// procTicks reads a process's CPU time (user and system) in clock ticks.
func procTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(b))
}

// procPeakKiB reads a process's peak resident memory in KiB.
func procPeakKiB(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmHWM(string(b))
}

// clockTicks is the kernel's clock ticks per second (getconf CLK_TCK), 100
// if getconf cannot tell.
func clockTicks() uint64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || v == 0 {
		return 100
	}
	return v
}

// procSample is every measured process's CPU ticks at one moment.
type procSample []uint64

// sampleProcs reads the CPU ticks of procs.
func sampleProcs(procs []benchProc) (procSample, error) {
	s := make(procSample, len(procs))
	for i, p := range procs {
		t, err := procTicks(p.pid)
		if err != nil {
			return nil, fmt.Errorf("process %d (%s): %w", p.pid, p.name, err)
		}
		s[i] = t
	}
	return s, nil
}
