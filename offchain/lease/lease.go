package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for the zero fields of Config.
const (
	// DefaultKey is the advisory lock key of the bridge's watchtower
	// ("ArbWatch" in ASCII).
	DefaultKey int64 = 0x4172625761746368
	// DefaultRetry is how often a follower tries to take the lock.
	DefaultRetry = time.Second
	// DefaultCheck is how often the leader checks its connection.
	DefaultCheck = time.Second
	// DefaultCheckTimeout bounds one check of the leader's connection.
	DefaultCheckTimeout = 2 * time.Second
)

// The server-side TCP settings of the lease connection: a session whose
// client vanished without closing its socket is ended after about
// ServerTimeout (idle + count × interval for keepalives on an idle
// connection, the user timeout for unacknowledged data), freeing the
// lock. It exceeds DefaultCheck + DefaultCheckTimeout, so a leader that
// lost the database has stopped by then.
const (
	keepaliveIdle     = 5 * time.Second
	keepaliveInterval = time.Second
	keepaliveCount    = 3
	userTimeout       = 8 * time.Second
	// ServerTimeout is the longest the server keeps the lock of a vanished
	// holder.
	ServerTimeout = keepaliveIdle + keepaliveCount*keepaliveInterval
)

// Errors callers tell apart with errors.Is.
var (
	// ErrNotHeld is returned by Guard when this process does not hold the
	// lease.
	ErrNotHeld = errors.New("lease: not held")
)

// Config configures a Lease. Zero fields take the defaults above.
type Config struct {
	// URL is the database, postgres://….
	URL string
	// Key is the advisory lock key; processes contend for one key.
	Key int64
	// Name says what the lease is for, in logs and metrics.
	Name string
	// Retry is how often a follower tries to take the lock.
	Retry time.Duration
	// Check is how often the leader checks its connection; CheckTimeout
	// bounds one check. Both together must stay under ServerTimeout.
	Check, CheckTimeout time.Duration
	// Logger receives gained and lost; nil means slog.Default().
	Logger *slog.Logger
	// Registerer, when set, gets the lease's metrics.
	Registerer prometheus.Registerer
}

// Lease contends for one advisory lock. Run is its only goroutine that
// changes anything; Guard and Held may be called from any goroutine.
type Lease struct {
	cfg     Config
	conn    *pgx.ConnConfig
	log     *slog.Logger
	held    atomic.Pointer[session] // the session holding the lock, nil when not held
	leader  prometheus.Gauge
	changes *prometheus.CounterVec
}

// session is a connection that holds the lock.
type session struct {
	pid uint32
}

// New returns a Lease; it does no I/O.
func New(cfg Config) (*Lease, error) {
	if cfg.Key == 0 {
		cfg.Key = DefaultKey
	}
	if cfg.Name == "" {
		cfg.Name = "lease"
	}
	if cfg.Retry <= 0 {
		cfg.Retry = DefaultRetry
	}
	if cfg.Check <= 0 {
		cfg.Check = DefaultCheck
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = DefaultCheckTimeout
	}
	if cfg.Check+cfg.CheckTimeout >= ServerTimeout {
		return nil, fmt.Errorf("lease: check %v + timeout %v must stay under the server's %v", cfg.Check, cfg.CheckTimeout, ServerTimeout)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	conn, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	if conn.ConnectTimeout <= 0 || conn.ConnectTimeout > cfg.CheckTimeout {
		conn.ConnectTimeout = cfg.CheckTimeout
	}
	// The server's side: end the session of a client that vanished.
	conn.RuntimeParams["tcp_keepalives_idle"] = strconv.Itoa(int(keepaliveIdle / time.Second))
	conn.RuntimeParams["tcp_keepalives_interval"] = strconv.Itoa(int(keepaliveInterval / time.Second))
	conn.RuntimeParams["tcp_keepalives_count"] = strconv.Itoa(keepaliveCount)
	conn.RuntimeParams["tcp_user_timeout"] = strconv.Itoa(int(userTimeout / time.Millisecond))
	conn.RuntimeParams["application_name"] = "arbiter " + cfg.Name + " lease"
	// The client's side: the checks find a dead server, keepalives a
	// dead socket.
	d := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: keepaliveIdle, Interval: keepaliveInterval, Count: keepaliveCount}}
	conn.DialFunc = d.DialContext
	l := &Lease{
		cfg: cfg, conn: conn, log: cfg.Logger.With("lease", cfg.Name),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "arbiter", Subsystem: "lease", Name: "held",
			Help: "1 while this process holds the lease, else 0.", ConstLabels: prometheus.Labels{"lease": cfg.Name},
		}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "arbiter", Subsystem: "lease", Name: "changes_total",
			Help: "Times this process gained or lost the lease.", ConstLabels: prometheus.Labels{"lease": cfg.Name},
		}, []string{"change"}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{l.leader, l.changes} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("lease: registering metrics: %w", err)
			}
		}
	}
	return l, nil
}

// Held reports whether this process holds the lease.
func (l *Lease) Held() bool { return l.held.Load() != nil }

// lockHeldSQL checks, from any session of the database, that session $1
// holds the bigint advisory lock $2 ($3 its high and $4 its low 32 bits,
// as pg_locks shows them).
const lockHeldSQL = `SELECT EXISTS (SELECT 1 FROM pg_locks
	WHERE locktype = 'advisory' AND granted AND pid = $1 AND objsubid = 1
	  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
	  AND classid::BIGINT = $2 AND objid::BIGINT = $3)`

// Guard fails with ErrNotHeld unless this process holds the lease, as
// seen by the database in tx: call it first in a write transaction of
// the leader's work.
func (l *Lease) Guard(ctx context.Context, tx pgx.Tx) error {
	s := l.held.Load()
	if s == nil {
		return ErrNotHeld
	}
	var ok bool
	hi, lo := int64(uint64(l.cfg.Key)>>32), int64(uint64(l.cfg.Key)&0xffffffff)
	if err := tx.QueryRow(ctx, lockHeldSQL, int64(s.pid), hi, lo).Scan(&ok); err != nil {
		return fmt.Errorf("lease: check: %w", err)
	}
	if !ok || l.held.Load() != s {
		return fmt.Errorf("%w: the database no longer shows session %d holding it", ErrNotHeld, s.pid)
	}
	return nil
}

// Run contends for the lease until ctx is done, then returns ctx.Err().
// Each time it gains the lease it runs lead with a context cancelled when
// the lease is lost (or ctx is done), and waits for it to return. If lead
// returns while the lease is still held, Run gives the lease up and
// returns lead's error: the leader failed on its own account.
func (l *Lease) Run(ctx context.Context, lead func(ctx context.Context) error) error {
	var (
		conn   *pgx.Conn
		warned bool
	)
	defer func() { l.close(conn) }()
	for {
		if conn == nil {
			c, err := l.connect(ctx)
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case err != nil && !warned:
				l.log.Warn("lease: cannot reach the database; retrying", "err", err)
				warned = true
			case err == nil:
				conn, warned = c, false
			}
		}
		if conn != nil {
			got, err := l.tryLock(ctx, conn)
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				l.log.Warn("lease: lock attempt failed; reconnecting", "err", err)
				l.close(conn)
				conn = nil
			case !got:
				l.log.Debug("lease held elsewhere")
			case got:
				err := l.lead(ctx, conn, lead)
				l.close(conn) // ends the session, so frees the lock if still held
				conn = nil
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err != nil {
					return err
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(l.cfg.Retry):
		}
	}
}

// connect opens the lease's own connection.
func (l *Lease) connect(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, l.cfg.CheckTimeout)
	defer cancel()
	return pgx.ConnectConfig(cctx, l.conn)
}

// tryLock tries once to take the lock on conn.
func (l *Lease) tryLock(ctx context.Context, conn *pgx.Conn) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, l.cfg.CheckTimeout)
	defer cancel()
	var got bool
	err := conn.QueryRow(cctx, `SELECT pg_try_advisory_lock($1)`, l.cfg.Key).Scan(&got)
	return got, err
}

// close closes conn, if any, within CheckTimeout.
func (l *Lease) close(conn *pgx.Conn) {
	if conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.CheckTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}

// lead runs fn while conn holds the lock. It returns nil when the lease
// was lost (or ctx is done), and fn's error when fn returned on its own
// while the lease was held.
func (l *Lease) lead(ctx context.Context, conn *pgx.Conn, fn func(ctx context.Context) error) error {
	s := &session{pid: conn.PgConn().PID()}
	l.held.Store(s)
	l.leader.Set(1)
	l.changes.WithLabelValues("gained").Inc()
	l.log.Info("lease gained", "session", s.pid)

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(lctx) }()
	lose := func(why string, err error) {
		l.held.Store(nil) // first: Guard fails from now on
		l.leader.Set(0)
		l.changes.WithLabelValues("lost").Inc()
		cancel()
		l.log.Warn("lease lost", "why", why, "err", err)
	}
	t := time.NewTicker(l.cfg.Check)
	defer t.Stop()
	release := func() {
		l.held.Store(nil)
		l.leader.Set(0)
		cancel()
		l.log.Info("lease released", "session", s.pid)
	}
	for {
		select {
		case <-ctx.Done():
			release()
			<-done
			return nil
		case err := <-done:
			if ctx.Err() != nil {
				release()
				return nil
			}
			if cerr := l.check(ctx, conn); cerr != nil {
				lose("connection check failed", cerr)
				return nil // fn stopped because the lease was going
			}
			lose("leader stopped", err)
			if err == nil {
				err = errors.New("returned")
			}
			return fmt.Errorf("lease: %s leader stopped: %w", l.cfg.Name, err)
		case <-t.C:
			if err := l.check(ctx, conn); err != nil && ctx.Err() == nil {
				lose("connection check failed", err)
				<-done
				return nil
			}
		}
	}
}

// check asks the database, on the lease's connection, whether the lock
// is still held, within CheckTimeout.
func (l *Lease) check(ctx context.Context, conn *pgx.Conn) error {
	cctx, cancel := context.WithTimeout(ctx, l.cfg.CheckTimeout)
	defer cancel()
	var ok bool
	hi, lo := int64(uint64(l.cfg.Key)>>32), int64(uint64(l.cfg.Key)&0xffffffff)
	if err := conn.QueryRow(cctx, lockHeldSQL, int64(conn.PgConn().PID()), hi, lo).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return ErrNotHeld
	}
	return nil
}
