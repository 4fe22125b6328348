package rpclimit

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxConnsPerIP bounds the open connections (HTTP and WebSocket)
// from one client address when neither a Limits nor a server's defaults
// set MaxConnsPerIP. A load tool or an application's connection pool uses
// tens; thousands from one address are an attempt to use up the process's
// file descriptors, which its peer connections and database need too.
const DefaultMaxConnsPerIP = 256

// tooMany is what a connection over its address's bound reads before it is
// closed: a complete HTTP response, so that a client sees why.
var tooMany = func() []byte {
	const body = "too many open connections from this address\n"
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"+
		"Content-Length: %d\r\n\r\n%s", len(body), body)
}()

// A refused connection is answered after its request's headers have been
// read (an HTTP client takes a response that comes before its request for
// a broken connection), by at most maxRefusing goroutines at once, each
// given refuseTimeout and reading at most refuseReadBytes; past
// maxRefusing, refused connections are closed without an answer, so that
// refusing costs a bounded number of goroutines and descriptors however
// fast connections come.
const (
	maxRefusing     = 64
	refuseTimeout   = time.Second
	refuseReadBytes = 16 << 10
)

// Listener returns inner with at most l.MaxConnsPerIP connections open at
// once from one client IP address (zero or negative: DefaultMaxConnsPerIP).
// A connection over the bound gets an HTTP 503 and is closed at once; the
// listener goes on accepting, so one address at its bound shuts out no
// other. refused, if not nil, counts those connections. A connection
// counts until it is closed, including after a WebSocket upgrade (net/http
// hands the same connection to the WebSocket).
func (l Limits) Listener(inner net.Listener, refused prometheus.Counter) net.Listener {
	limit := l.MaxConnsPerIP
	if limit <= 0 {
		limit = DefaultMaxConnsPerIP
	}
	return &connLimiter{Listener: inner, limit: limit, refused: refused, open: make(map[string]int),
		refusing: make(chan struct{}, maxRefusing)}
}

type connLimiter struct {
	net.Listener
	limit   int
	refused prometheus.Counter

	mu   sync.Mutex
	open map[string]int // open connections by client IP; absent means none

	refusing chan struct{} // a slot per goroutine answering a refused connection
}

// Accept returns the next connection whose address is within its bound.
func (c *connLimiter) Accept() (net.Conn, error) {
	for {
		conn, err := c.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := clientIP(conn.RemoteAddr())
		c.mu.Lock()
		ok := c.open[ip] < c.limit
		if ok {
			c.open[ip]++
		}
		c.mu.Unlock()
		if ok {
			return &limitedConn{Conn: conn, release: func() { c.release(ip) }}, nil
		}
		if c.refused != nil {
			c.refused.Inc()
		}
		select {
		case c.refusing <- struct{}{}:
			go func() {
				defer func() { <-c.refusing }()
				refuse(conn)
			}()
		default:
			_ = conn.Close()
		}
	}
}

// refuse reads the request's headers (within refuseTimeout and
// refuseReadBytes), answers tooMany and closes conn.
func refuse(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(refuseTimeout))
	buf := make([]byte, refuseReadBytes)
	for n := 0; n < len(buf); {
		m, err := conn.Read(buf[n:])
		// Only the bytes just read, and the three before them, can
		// complete the blank line that ends the headers.
		if bytes.Contains(buf[max(0, n-3):n+m], []byte("\r\n\r\n")) || err != nil {
			break
		}
		n += m
	}
	_, _ = conn.Write(tooMany)
}

// release ends one of ip's connections.
func (c *connLimiter) release(ip string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[ip] <= 1 {
		delete(c.open, ip)
		return
	}
	c.open[ip]--
}

// openFrom returns how many connections from ip are open (for tests).
func (c *connLimiter) openFrom(ip string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open[ip]
}

// clientIP is the address a connection's bound is kept by: the IP of a TCP
// peer, else the address's string.
func clientIP(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// limitedConn releases its place when first closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite half-closes a TCP connection, as net/http does after some
// error responses so that the client reads them before the close.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}
