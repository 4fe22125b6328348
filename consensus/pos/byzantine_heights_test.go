//go:build !race

package pos

// byzDefaultHeights is the default of -byz.heights.
const byzDefaultHeights = 1000
