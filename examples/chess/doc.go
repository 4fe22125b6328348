// Command chess runs the chess arbitration demo: a local consortium, a
// bridge with its watchtower and two bot players, through six games that
// end every way a game can end. It exits non-zero if any outcome differs
// from the expected one.
//
//	go run ./examples/chess
//
// It owns only the demo's entry point; the demo itself is in
// examples/chess/demo. It must not import cmd/, and no package outside
// cmd/ and examples/ may import it.
package main
