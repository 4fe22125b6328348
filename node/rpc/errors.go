package rpc

import (
	"errors"
	"fmt"
)

// JSON-RPC error codes beyond the generic -32000 server error.
const (
	codeInvalidParams = -32602
	codeLimitExceeded = -32005
)

// codedError is an error with a JSON-RPC error code (it implements
// go-ethereum's rpc.Error).
type codedError struct {
	code int
	msg  string
}

func (e *codedError) Error() string  { return e.msg }
func (e *codedError) ErrorCode() int { return e.code }

func invalidParams(format string, args ...any) error {
	return &codedError{code: codeInvalidParams, msg: fmt.Sprintf(format, args...)}
}

func limitExceeded(format string, args ...any) error {
	return &codedError{code: codeLimitExceeded, msg: fmt.Sprintf(format, args...)}
}

var (
	errHeaderNotFound    = errors.New("header not found")
	errFinalizedNotFound = errors.New("finalized block not found")
)
