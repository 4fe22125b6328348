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
