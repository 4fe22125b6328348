package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

type command struct {
	name, usage string
	run         func(args []string, stdout io.Writer) error
}

var commands = []command{
	{"init", "init --datadir DIR [--genesis FILE]   write a data directory (default genesis: the embedded one)", runInit},
	{"keys", "keys new --out FILE                    write a new node/account key and print its address", runKeys},
	{"node", "node --datadir DIR --key FILE [--rpc 127.0.0.1:8545] [--mine] [--import FILE]   run a member node", runNode},
	{"testnet", "testnet --members N --engine pow|pos --out DIR   write a local network", runTestnet},
	{"export", "export --datadir DIR --out FILE [--from N] [--to N]   write canonical blocks as RLP", runExport},
	{"dev", "dev [--rpc 127.0.0.1:8545]            write a one-member network to a temp dir and run its node", runDev},
	{"bridge", "bridge --node URL [--listen 127.0.0.1:8600] (--datadir DIR | --store URL) [--key FILE --watch]   run the chess bridge (and watchtower)", runBridge},
	{"demo", "demo [--engine pos|pow] [--dir DIR]      run the chess arbitration demo on a local consortium", runDemo},
	{"bench", "bench --rpc ws://127.0.0.1:8545/ws (--funder FILE|node [--senders 20] [--per-sender 1000] | --keys FILE,... [--txs N])\n" +
		"        [--nodes URL,...] [--batch K] [--finalized] [--pids PID,...|--procs NAME,...] [--json FILE]   load tool (any Ethereum JSON-RPC node)", runBench},
	{"verify", "verify --datadir DIR                   re-verify the head's state after a crash", runVerify},
}

func main() {
	if err := dispatch(os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "arbiter:", err)
		}
		os.Exit(1)
	}
}

func dispatch(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout)
		}
	}
	usage(os.Stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: arbiter COMMAND [flags]")
	for _, c := range commands {
		fmt.Fprintln(w, "  "+c.usage)
	}
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("arbiter "+name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

// parse parses flags and refuses stray positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func required(name, value string) error {
	if strings.TrimSpace(value) == "" {
		return fmt.Errorf("--%s is required", name)
	}
	return nil
}

// splitList splits a comma-separated flag value, dropping blanks; nil
// for none.
func splitList(value string) []string {
	var out []string
	for _, v := range strings.Split(value, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
