// Command chess runs the chess arbitration demo: a local consortium, a
// bridge with its watchtower and two bot players, through six games that
// end every way a game can end. It exits non-zero if any outcome differs
// from the expected one.
//
//	go run ./examples/chess
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/arbiter-chain/arbiter/examples/chess/demo"
)

func main() {
	engine := flag.String("engine", "", "consensus engine of the local network (default: the demo's)")
	dir := flag.String("dir", "", "keep the network's data and logs here (default: a temporary directory, removed on success)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := demo.Run(ctx, demo.Options{Out: os.Stdout, Engine: *engine, Dir: *dir}); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}
