// Command arbiter is the one binary of an Arbiter consortium: it writes keys
// and data directories, runs member nodes and writes local test networks.
//
//	arbiter init --datadir member1 && arbiter node --datadir member1
//
// It owns the command line (flags and their defaults), process wiring and
// the process-level tests (crash, fault, bench and multi-process
// networks). It sits on top of every layer and may import them all; no
// other package may import it.
package main
