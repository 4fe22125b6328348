// Command transfer sends one signed transfer to an Arbiter node with
// go-ethereum's ethclient, unchanged, and waits for its receipt: the
// smallest example of an app talking to the chain.
//
//	go run ./examples/transfer --rpc http://127.0.0.1:8545 --key member1/key --to 0x... --value 1000
//
// It must not import cmd/, and no package outside cmd/ and examples/ may
// import it.
package main
