package main

import (
	"context"
	"io"
	"os"
	"os/signal"

	"github.com/arbiter-chain/arbiter/examples/chess/demo"
)

// runDemo runs the chess arbitration demo (the same code as
// go run ./examples/chess).
func runDemo(args []string, stdout io.Writer) error {
	fs := newFlags("demo")
	engine := fs.String("engine", "", "consensus engine of the local network (default pos)")
	dir := fs.String("dir", "", "keep the network's data and logs here (default: a temporary directory, removed on success)")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return demo.Run(ctx, demo.Options{Out: stdout, Engine: *engine, Dir: *dir})
}
