package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/arbiter-chain/arbiter/examples/chess/demo"
)

// runDemo runs the chess arbitration demo (the same code as
// go run ./examples/chess).
func runDemo(args []string, stdout io.Writer) error {
	fs := newFlags("demo")
	engine := fs.String("engine", "", "consensus engine of the local network (default pos)")
	dir := fs.String("dir", "", "keep the network's data and logs here (default: a temporary directory, removed on success)")
	serve := fs.Bool("serve", false, "after the scenarios keep everything running with the chess page, a bot opponent and dev-key vouching, until Ctrl-C")
	listen := fs.String("listen", "", "the bridge's HTTP address with --serve (default 127.0.0.1:8600)")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return demo.Run(ctx, demo.Options{Out: stdout, Engine: *engine, Dir: *dir, Serve: *serve, Listen: *listen})
}
