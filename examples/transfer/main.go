package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
)

func main() {
	rpcURL := flag.String("rpc", "http://127.0.0.1:8545", "node JSON-RPC URL")
	keyFile := flag.String("key", "", "sender key file (a member or an allowed account)")
	to := flag.String("to", "", "recipient address")
	value := flag.String("value", "1", "amount in wei")
	flag.Parse()
	if err := run(*rpcURL, *keyFile, *to, *value); err != nil {
		log.Fatal(err)
	}
}

func run(rpcURL, keyFile, toHex, valueStr string) error {
	if !common.IsHexAddress(toHex) {
		return fmt.Errorf("--to %q is not an address", toHex)
	}
	value, ok := new(big.Int).SetString(valueStr, 10)
	if !ok || value.Sign() < 0 {
		return fmt.Errorf("--value %q is not a non-negative integer", valueStr)
	}
	key, err := crypto.LoadECDSA(keyFile)
	if err != nil {
		return fmt.Errorf("load key: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := ethclient.DialContext(ctx, rpcURL)
	if err != nil {
		return err
	}
	defer client.Close()
	chainID, err := client.ChainID(ctx)
	if err != nil {
		return err
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	nonce, err := client.PendingNonceAt(ctx, from)
	if err != nil {
		return err
	}
	tip, err := client.SuggestGasTipCap(ctx)
	if err != nil {
		return err
	}
	recipient := common.HexToAddress(toHex)
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, To: &recipient, Value: value, Gas: 21000, GasTipCap: tip, GasFeeCap: tip,
	})
	if err != nil {
		return err
	}
	if err := client.SendTransaction(ctx, tx); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	fmt.Println("sent", tx.Hash().Hex())
	for {
		r, err := client.TransactionReceipt(ctx, tx.Hash())
		if err == nil {
			fmt.Printf("included in block %v, status %d, gas used %d\n", r.BlockNumber, r.Status, r.GasUsed)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no receipt: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
