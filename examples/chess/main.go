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
