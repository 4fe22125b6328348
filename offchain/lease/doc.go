// Package lease elects one leader among processes sharing a PostgreSQL
// database: the holder of a session-level advisory lock, taken on a
// connection of its own. The lock belongs to that connection's session,
// so it is freed when the holder unlocks, when its process dies (the
// kernel closes the socket, and the server ends the session), or, for a
// host that vanished without closing it, when the server's TCP keepalives
// and user timeout on that connection give up on it, after about
// ServerTimeout. Followers try again every Retry.
//
// The bridge uses it so that, of a fleet of bridges on one database,
// exactly one runs the watcher and watchtower at a time.
//
// While it holds the lock, a Lease runs the leader's function with a
// context that it cancels the moment the lock may be lost: when a check
// of the connection (every Check, bounded by CheckTimeout) fails. Since
// CheckTimeout + Check is shorter than the server's timeout, a leader cut
// off from the database stops before the server frees the lock for a
// successor. Writes the leader makes through other connections call
// Guard inside their transaction, which fails unless this process still
// holds the lock, so that no write of a deposed leader lands after the
// fact.
//
// # Use
//
//	l, err := lease.New(lease.Config{URL: url, Name: "watchtower"})
//	if err != nil { ... }
//	err = l.Run(ctx, func(ctx context.Context) error {
//		return w.Run(ctx) // cancelled when the lease is lost
//	})
package lease
