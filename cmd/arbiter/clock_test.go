package main

import (
	"errors"
	"testing"
	"time"
)

func TestClockOffset(t *testing.T) {
	tests := []struct {
		name, in string
		want     time.Duration
		err      error
	}{
		{"unset", "", 0, nil},
		{"blank", "  ", 0, nil},
		{"ahead with sign", "+3s", 3 * time.Second, nil},
		{"ahead", "1m30s", 90 * time.Second, nil},
		{"behind", "-20s", -20 * time.Second, nil},
		{"no unit", "5", 0, errClockOffset},
		{"garbage", "soon", 0, errClockOffset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have, err := clockOffset(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error: have %v, want %v", err, tt.err)
			}
			if have != tt.want {
				t.Fatalf("offset: have %v, want %v", have, tt.want)
			}
		})
	}
}

// TestGCTarget checks which collection target a node sets: the flag's when
// given, GOGC's (by leaving it) when that is set and the flag is not, else
// the default.
func TestGCTarget(t *testing.T) {
	tests := []struct {
		flag    int
		given   bool
		env     string
		want    int
		wantSet bool
	}{
		{defaultGCPercent, false, "", defaultGCPercent, true},
		{defaultGCPercent, false, "150", 0, false},
		{300, true, "150", 300, true},
		{-1, true, "", -1, true},
	}
	for _, tt := range tests {
		have, set := gcTarget(tt.flag, tt.given, tt.env)
		if have != tt.want || set != tt.wantSet {
			t.Errorf("gcTarget(%d, %v, %q): have %d %v, want %d %v", tt.flag, tt.given, tt.env, have, set, tt.want, tt.wantSet)
		}
	}
	fs := newFlags("node")
	fs.Int("gc-percent", defaultGCPercent, "")
	if err := fs.Parse([]string{"--gc-percent", "300"}); err != nil {
		t.Fatal(err)
	}
	if !flagSet(fs, "gc-percent") || flagSet(fs, "other") {
		t.Fatal("flagSet does not tell the given flag from others")
	}
}
