package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/jackc/pgx/v5"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
)

// Bounds of the wait between attempts to reconnect the listener.
const (
	minReconnectWait = 50 * time.Millisecond
	maxReconnectWait = 5 * time.Second
)

// listener holds one connection that LISTENs on Channel and wakes the
// feed's watchers of each notified game.
type listener struct {
	cfg    *pgx.ConnConfig
	feed   *bridge.Feed
	cancel context.CancelFunc
	done   chan struct{}
}

// startListener connects and LISTENs before it returns, so that every
// append committed afterwards, by any instance, is notified to feed.
func startListener(ctx context.Context, cfg *pgx.ConnConfig, feed *bridge.Feed) (*listener, error) {
	conn, err := listenConn(ctx, cfg)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	l := &listener{cfg: cfg, feed: feed, cancel: cancel, done: make(chan struct{})}
	go l.run(lctx, conn)
	return l, nil
}

func listenConn(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: listener connection: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("pgstore: LISTEN %s: %w", Channel, err)
	}
	return conn, nil
}

// run delivers notifications until ctx is done. When the connection
// fails it reconnects, waiting longer after each failed attempt, and then
// wakes every watcher: appends committed while it was down were not
// notified to it, and the watchers re-read the store.
func (l *listener) run(ctx context.Context, conn *pgx.Conn) {
	defer close(l.done)
	for {
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				break
			}
			if id, ok := parseID(n.Payload); ok {
				l.feed.Notify(id)
			}
		}
		closeConn(conn)
		wait := minReconnectWait
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			c, err := listenConn(ctx, l.cfg)
			if err == nil {
				conn = c
				break
			}
			wait = min(2*wait, maxReconnectWait)
		}
		l.feed.NotifyAll()
	}
}

// closeConn closes a listener connection, bounding the goodbye.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// parseID reads a notification payload: a game id as 0x and 64 hex
// digits. Anything else is not the bridge's and is ignored.
func parseID(payload string) (common.Hash, bool) {
	b, err := hexutil.Decode(payload)
	if err != nil || len(b) != common.HashLength {
		return common.Hash{}, false
	}
	return common.Hash(b), true
}

// close stops the listener and waits for it.
func (l *listener) close() {
	l.cancel()
	<-l.done
}
