// Command arbiter-lambda is the chess bridge as an AWS Lambda function
// behind an API Gateway HTTP API (payload format 2.0). It serves the same
// JSON-RPC methods as POST /rpc of `arbiter bridge`, without WebSocket
// subscriptions, over an external store, and is configured by
// environment variables:
//
//	ARBITER_STORE     the store URL, normally dynamodb://TABLE (see
//	                  offchain/bridge/storeurl); required
//	ARBITER_NODE      a member node's JSON-RPC URL, http(s)://…; required
//	ARBITER_CHAIN_ID  the chain id, decimal; optional (asked of the node
//	                  once per cold start when unset)
//	ARBITER_LOG_LEVEL debug, info, warn or error; default info
//
// Build it for the provided.al2023 runtime as a file named bootstrap:
//
//	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -o bootstrap ./cmd/arbiter-lambda
//
// deploy/bridge-lambda.yaml deploys it with its table; docs/bridge.md
// explains the steps.
//
// It owns only the Lambda entry point and its environment settings; it
// may import offchain/ and internal/, no other package may import it, and
// it must not import node/ (the bridge reaches a node over JSON-RPC) or
// examples/.
package main
