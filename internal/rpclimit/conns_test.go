package rpclimit

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// dialFrom opens a TCP connection to addr from the loopback address src
// (any of 127.0.0.0/8 on Linux).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot dial from %s (needs the whole 127.0.0.0/8 on loopback, as Linux has): %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serveHeld serves a handler that answers "ok" on a kept-alive connection,
// and on /hold hijacks the connection (as a WebSocket upgrade does) and
// keeps it until the client closes it.
func serveHeld(t *testing.T, lim Limits, refused prometheus.Counter) (*connLimiter, string) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := lim.Listener(inner, refused).(*connLimiter)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/hold", func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\n\r\n")
		_ = buf.Flush()
		go func() {
			_, _ = io.Copy(io.Discard, conn) // until the client closes
			conn.Close()
		}()
	})
	srv := lim.WithDefaults(Limits{}).HTTPServer(mux)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return l, inner.Addr().String()
}

// get sends one request on c and returns the status line.
func get(t *testing.T, c net.Conn, path string) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return "write: " + err.Error()
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "read: " + err.Error()
	}
	return strings.TrimSpace(line)
}

// waitOpen waits until the limiter counts want connections from ip.
func waitOpen(t *testing.T, l *connLimiter, ip string, want int) {
	t.Helper()
	for i := 0; i < 500 && l.openFrom(ip) != want; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got := l.openFrom(ip); got != want {
		t.Fatalf("open connections from %s: %d, want %d", ip, got, want)
	}
}

func TestConnsPerIPBounded(t *testing.T) {
	refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "refused"})
	l, addr := serveHeld(t, Limits{MaxConnsPerIP: 3}, refused)

	// Three from one address: two kept alive between requests, one
	// hijacked (a WebSocket).
	a1, a2, a3 := dialFrom(t, "127.0.0.1", addr), dialFrom(t, "127.0.0.1", addr), dialFrom(t, "127.0.0.1", addr)
	for _, c := range []net.Conn{a1, a2} {
		if got := get(t, c, "/"); got != "HTTP/1.1 200 OK" {
			t.Fatalf("within the bound: %q", got)
		}
	}
	if got := get(t, a3, "/hold"); got != "HTTP/1.1 101 Switching Protocols" {
		t.Fatalf("hijack: %q", got)
	}
	waitOpen(t, l, "127.0.0.1", 3)

	// The fourth is answered 503 and closed.
	a4 := dialFrom(t, "127.0.0.1", addr)
	_ = a4.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(a4, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(a4), nil)
	if err != nil {
		t.Fatalf("over the bound: no response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "too many open connections") {
		t.Fatalf("over the bound: %d %q", resp.StatusCode, body)
	}
	if _, err := a4.Read(make([]byte, 1)); err == nil {
		t.Fatal("the refused connection stays open")
	}
	if n := counterValue(t, refused); n != 1 {
		t.Fatalf("refused counter %v, want 1", n)
	}

	// Another address is not shut out by the first one's bound.
	b1 := dialFrom(t, "127.0.0.2", addr)
	if got := get(t, b1, "/"); got != "HTTP/1.1 200 OK" {
		t.Fatalf("another address: %q", got)
	}

	// Closing the hijacked connection makes room for one more.
	a3.Close()
	waitOpen(t, l, "127.0.0.1", 2)
	a5 := dialFrom(t, "127.0.0.1", addr)
	if got := get(t, a5, "/"); got != "HTTP/1.1 200 OK" {
		t.Fatalf("after a close: %q", got)
	}
	waitOpen(t, l, "127.0.0.1", 3)
}

func TestConnsPerIPDefault(t *testing.T) {
	if got := (Limits{}).WithDefaults(Limits{}).MaxConnsPerIP; got != DefaultMaxConnsPerIP {
		t.Fatalf("default MaxConnsPerIP %d, want %d", got, DefaultMaxConnsPerIP)
	}
	if got := (Limits{}).WithDefaults(Limits{MaxConnsPerIP: 7}).MaxConnsPerIP; got != 7 {
		t.Fatalf("server default not taken: %d", got)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	if l := (Limits{}).Listener(inner, nil).(*connLimiter); l.limit != DefaultMaxConnsPerIP {
		t.Fatalf("zero Limits: listener bound %d", l.limit)
	}
}

// TestRefusingIsBounded: refused connections that never send a request
// hold at most maxRefusing goroutines; the ones beyond are closed at once,
// without an answer, and connections from other addresses still get in.
func TestRefusingIsBounded(t *testing.T) {
	refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "refused"})
	l, addr := serveHeld(t, Limits{MaxConnsPerIP: 1}, refused)
	a1 := dialFrom(t, "127.0.0.1", addr)
	if got := get(t, a1, "/"); got != "HTTP/1.1 200 OK" {
		t.Fatalf("within the bound: %q", got)
	}
	waitOpen(t, l, "127.0.0.1", 1)
	// maxRefusing silent connections take every refusing slot...
	for range maxRefusing {
		dialFrom(t, "127.0.0.1", addr)
	}
	for i := 0; i < 500 && len(l.refusing) < maxRefusing; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(l.refusing); n != maxRefusing {
		t.Fatalf("%d refusing, want %d", n, maxRefusing)
	}
	// ...so the next is closed without an answer, before any timeout.
	c := dialFrom(t, "127.0.0.1", addr)
	_ = c.SetDeadline(time.Now().Add(refuseTimeout / 2))
	if n, err := c.Read(make([]byte, 64)); n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("beyond the refusing slots: read %d bytes, %v; want a close", n, err)
	}
	if n := counterValue(t, refused); n != maxRefusing+1 {
		t.Fatalf("refused counter %v, want %d", n, maxRefusing+1)
	}
	b := dialFrom(t, "127.0.0.2", addr)
	if got := get(t, b, "/"); got != "HTTP/1.1 200 OK" {
		t.Fatalf("another address: %q", got)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
