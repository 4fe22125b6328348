package rpclimit

import (
	"bytes"
	"fmt"
	"net"
	"strings"
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
// a broken connection), by at most maxRefusing goroutines at once and
// maxRefusingPerIP for one client key, each given refuseTimeout to read at
// most refuseReadBytes and as long again to answer; beyond those, refused
// connections are closed without an answer. Refusing thus costs a bounded
// number of goroutines and descriptors however fast connections come, and
// one client cannot take every answer for itself.
const (
	maxRefusing      = 64
	maxRefusingPerIP = 8
	refuseReadBytes  = 16 << 10
)

// refuseTimeout is a variable for tests on slow machines; a listener takes
// its value when made.
var refuseTimeout = time.Second

// Listener returns inner with at most l.MaxConnsPerIP connections open at
// once from one client (zero or negative: DefaultMaxConnsPerIP): one IPv4
// address, or one IPv6 /64, which is what one host or site is given. A
// connection over the bound is answered HTTP 503 once its request's
// headers have arrived, or, while too many refusals are being answered,
// closed at once. The listener goes on accepting, so a client at its
// bound shuts out no other. refused, if not nil, counts those
// connections. A connection counts until it is closed, including after a
// WebSocket upgrade (net/http hands the same connection to the WebSocket).
func (l Limits) Listener(inner net.Listener, refused prometheus.Counter) net.Listener {
	limit := l.MaxConnsPerIP
	if limit <= 0 {
		limit = DefaultMaxConnsPerIP
	}
	return &connLimiter{Listener: inner, limit: limit, refused: refused, timeout: refuseTimeout,
		open: make(map[string]int), refusing: make(map[string]int)}
}

type connLimiter struct {
	net.Listener
	limit   int
	refused prometheus.Counter
	timeout time.Duration // refuseTimeout

	mu       sync.Mutex
	open     map[string]int // open connections by client key; absent means none
	refusing map[string]int // refusals being answered, by client key
	answers  int            // refusals being answered in all
}

// Accept returns the next connection whose client is within its bound.
func (c *connLimiter) Accept() (net.Conn, error) {
	for {
		conn, err := c.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := clientKey(conn.RemoteAddr())
		c.mu.Lock()
		ok := c.open[key] < c.limit
		answer := !ok && c.answers < maxRefusing && c.refusing[key] < maxRefusingPerIP
		switch {
		case ok:
			c.open[key]++
		case answer:
			c.answers++
			c.refusing[key]++
		}
		c.mu.Unlock()
		if ok {
			return &limitedConn{Conn: conn, release: func() { c.release(key) }}, nil
		}
		if c.refused != nil {
			c.refused.Inc()
		}
		if !answer {
			_ = conn.Close()
			continue
		}
		go func() {
			refuse(conn, c.timeout)
			c.mu.Lock()
			c.answers--
			if c.refusing[key]--; c.refusing[key] <= 0 {
				delete(c.refusing, key)
			}
			c.mu.Unlock()
		}()
	}
}

// refuse reads the request's headers (within timeout and refuseReadBytes),
// answers tooMany, half-closes and reads what the client still sends for
// up to timeout before closing, so that the close does not reset the
// connection before the client has read the answer.
func refuse(conn net.Conn, timeout time.Duration) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, refuseReadBytes)
	for n := 0; n < len(buf); {
		m, err := conn.Read(buf[n:])
		// Only the bytes just read, and the three before them, can
		// complete the blank line that ends the headers (CRLF CRLF, or
		// LF LF, which net/http accepts too).
		if w := buf[max(0, n-3) : n+m]; bytes.Contains(w, []byte("\r\n\r\n")) || bytes.Contains(w, []byte("\n\n")) || err != nil {
			break
		}
		n += m
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(tooMany); err != nil {
		return
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	}
}

// release ends one of key's connections.
func (c *connLimiter) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[key] <= 1 {
		delete(c.open, key)
		return
	}
	c.open[key]--
}

// openFrom returns how many connections the client key has open (for
// tests).
func (c *connLimiter) openFrom(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open[key]
}

// answering returns how many refusals are being answered (for tests).
func (c *connLimiter) answering() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answers
}

// clientKey is what a connection's bound is kept by: ClientKey of its
// address.
func clientKey(a net.Addr) string {
	if a == nil {
		return ""
	}
	if t, ok := a.(*net.TCPAddr); ok {
		return ipKey(t.IP)
	}
	return ClientKey(a.String())
}

// ClientKey returns the key a client's bounds are kept by, for a remote
// address written as "host:port" (net.Addr.String, http.Request.RemoteAddr
// and go-ethereum's rpc.PeerInfo.RemoteAddr write it so) or as a bare
// host: an IPv4 address (an IPv4-mapped IPv6 address counts as its IPv4
// address), an IPv6 /64 network, else the host, or the whole string if it
// has no port. It is the key Listener counts a connection under, so that
// other per-client bounds (a server's subscriptions) agree with it. An
// empty address has the empty key.
func ClientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	// A zone ("fe80::1%eth0") names the local interface, not the client.
	addr, _, _ := strings.Cut(host, "%")
	if ip := net.ParseIP(addr); ip != nil {
		return ipKey(ip)
	}
	return host
}

// ipKey is ClientKey of an IP address.
func ipKey(ip net.IP) string {
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	if len(ip) == net.IPv6len {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
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
