//go:build race

package pos

// byzDefaultHeights is the default of -byz.heights under the race
// detector, which slows the suite about fivefold: 150 heights keep the
// package's tests within about a minute and a half on two cores. Without
// -race the suite runs the full 1000 (see docs/RELIABILITY.md).
const byzDefaultHeights = 150
