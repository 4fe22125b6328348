// Package demo runs the chess arbitration demo: a local four-member
// consortium, a bridge with its watchtower, and two bot players who play
// six games that between them exercise every way a game can end — settled
// cooperatively, won on time, resumed after an answered claim, a false
// claim refused, a stale claim refuted, and an illegal move proved. It
// prints a timeline and returns an error if any outcome differs from the
// expected one.
//
//	if err := demo.Run(ctx, demo.Options{Out: os.Stdout}); err != nil { os.Exit(1) }
//
// It may import node/, contracts/, offchain/ and internal/; it must not
// import cmd/, and no package outside cmd/ and examples/ may import it.
package demo
