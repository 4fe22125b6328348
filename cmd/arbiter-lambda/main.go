package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/storeurl"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// Environment variables the function reads.
const (
	envStore    = "ARBITER_STORE"
	envNode     = "ARBITER_NODE"
	envChainID  = "ARBITER_CHAIN_ID"
	envLogLevel = "ARBITER_LOG_LEVEL"
)

// initTimeout bounds the cold start's connection to the store.
const initTimeout = 20 * time.Second

// errConfig: an environment variable is missing or malformed.
var errConfig = errors.New("configuration")

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
	handler, closeAll, err := setup(ctx, os.Getenv)
	cancel()
	if err != nil {
		// Exiting during init makes Lambda report the error and retry the
		// cold start; serving without a store is never an option.
		log.Error("arbiter-lambda cannot start", "err", err)
		os.Exit(1)
	}
	defer closeAll()
	lambda.Start(handler)
}

// setup builds the bridge from the environment: it opens the store
// (failing if it cannot be reached) and prepares the node client.
func setup(ctx context.Context, getenv func(string) string) (bridge.LambdaFunc, func(), error) {
	storeURL, nodeURL := strings.TrimSpace(getenv(envStore)), strings.TrimSpace(getenv(envNode))
	if storeURL == "" || nodeURL == "" {
		return nil, nil, fmt.Errorf("%w: %s and %s are required", errConfig, envStore, envNode)
	}
	var chainID *big.Int
	if s := strings.TrimSpace(getenv(envChainID)); s != "" {
		id, ok := new(big.Int).SetString(s, 10)
		if !ok || id.Sign() <= 0 {
			return nil, nil, fmt.Errorf("%w: %s=%q is not a positive decimal integer", errConfig, envChainID, s)
		}
		chainID = id
	}
	level := slog.LevelInfo
	if s := getenv(envLogLevel); s != "" {
		if err := level.UnmarshalText([]byte(s)); err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %w", errConfig, envLogLevel, err)
		}
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	store, err := storeurl.Open(ctx, storeURL)
	if err != nil {
		return nil, nil, err
	}
	arbiter := common.HexToAddress(channel.ArbiterContract)
	arb, err := bridge.DialArbiter(ctx, nodeURL, arbiter)
	if err != nil {
		store.Close()
		return nil, nil, fmt.Errorf("node %s: %w", nodeURL, err)
	}
	b, err := bridge.New(bridge.Config{ChainID: chainID, Arbiter: arbiter, Logger: log}, store, arb)
	if err != nil {
		arb.Close()
		store.Close()
		return nil, nil, err
	}
	log.Info("arbiter-lambda ready", "store", storeurl.Redact(storeURL), "node", nodeURL, "chainId", chainID)
	return b.LambdaHandler(), func() {
		b.Close()
		arb.Close()
		store.Close()
	}, nil
}
