package watcher

import "errors"

// Errors callers tell apart with errors.Is.
var (
	// ErrReorgTooDeep is returned by Run when the chain no longer holds any
	// block the watcher remembers processing (Config.ReorgDepth blocks
	// behind its checkpoint): it cannot find the common ancestor and stops
	// rather than guess.
	ErrReorgTooDeep = errors.New("watcher: reorganisation deeper than the remembered blocks")
)

var (
	// errStore wraps every failure of the watcher's own database. Run
	// stops on it: processing on without durable records would break the
	// exactly-once promise.
	errStore = errors.New("watcher: store")

	// errUndecodable wraps the reasons a log is quarantined.
	errUndecodable = errors.New("watcher: undecodable arbiter log")

	// errNotClaim is returned when a claim event's transaction is not a
	// direct call of claim() whose arguments match the event.
	errNotClaim = errors.New("watcher: transaction is not the claim of its event")
)
