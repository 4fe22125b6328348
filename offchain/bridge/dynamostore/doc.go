// Package dynamostore is a bridge.Store on one Amazon DynamoDB table, for
// the bridge deployed as an AWS Lambda function (or any number of bridge
// processes sharing the table). It keeps to the calls every
// DynamoDB-compatible server serves — GetItem, PutItem, Query,
// DescribeTable, CreateTable — and uses no transactions.
//
// # Single-table design
//
// One table holds every game. Keys:
//
//	pk  S  partition key: the game id, "0x" and 64 lower-case hex digits
//	sk  N  sort key: 0 for the game item, the ply (1, 2, …) for a state
//
// The game item (sk = 0) has the attributes
//
//	white        S  white's address, "0x" and 40 hex digits
//	black        S  black's address
//	stake        S  the stake in wei, decimal (a uint256 does not fit N)
//	moveTimeout  N  blocks
//
// and each state item (sk = ply ≥ 1)
//
//	state     S  the channel.SignedState JSON (gameId and ply repeat the key)
//	accepted  N  when the bridge accepted it, unix nanoseconds
//
// Ply 0 is the unsigned start state and is never stored, so sk = 0 is
// free for the game. A game's items sort by ply: the newest state is the
// first item of a descending Query on pk (Limit 1), a page of history an
// ascending Query from sk ≥ from.
//
// # Conditional expressions
//
// CreateGame puts the game item with attribute_not_exists(pk): the first
// writer wins and a later one reads the stored game back.
//
// Append of ply n is the compare-and-set "the newest ply is n − 1", done
// without a transaction: a strongly consistent GetItem checks that item
// n − 1 exists (the game item for n = 1), then a PutItem of item n
// conditioned on attribute_not_exists(pk) stores the state. Items are
// never deleted or overwritten, so once item n − 1 exists it stays, and
// "item n − 1 exists and item n does not" is exactly "the newest ply is
// n − 1" (an item n + 1 is only ever put after item n). Of concurrent
// appends of ply n, through any number of handles, the conditional put
// lets exactly one through; the rest get ErrConflict. Every read is
// strongly consistent (GetItem and Query with ConsistentRead), which gives
// read-your-writes across handles.
//
// # Watch
//
// DynamoDB cannot push, so Watch polls: each handle runs one poller per
// watched game, reading the newest ply with the descending Query every
// Options.PollInterval (between MinPollInterval and MaxPollInterval), and
// wakes the game's watchers when it changes. An Append through the same
// handle wakes them at once.
//
// # Use
//
//	s, err := dynamostore.Open(ctx, dynamostore.Options{Table: "arbiter-bridge", Region: "eu-west-1"})
//	if err != nil { ... }
//	defer s.Close()
//	b, err := bridge.New(cfg, s, arbiter)
//
// Or by URL, with offchain/bridge/storeurl:
// dynamodb://arbiter-bridge?region=eu-west-1 (see ParseURL). Credentials
// come from the SDK's default chain (in Lambda, the function's role).
// CreateTable makes a table with this key schema for a local server; in
// AWS, deploy/bridge-lambda.yaml creates it.
//
// It may import offchain/bridge (the Store contract it implements); it
// must not import node/, contracts/, consensus/, cmd/ or examples/.
package dynamostore
