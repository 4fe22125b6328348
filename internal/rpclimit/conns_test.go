package rpclimit

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
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

// slowRefusals makes a refusal wait long for headers, so that silent
// connections keep their refusal slots for the whole test.
func slowRefusals(t *testing.T) {
	old := refuseTimeout
	refuseTimeout = 30 * time.Second
	t.Cleanup(func() { refuseTimeout = old })
}

// holdSilent opens n connections from src that send nothing, and waits
// until the limiter answers want refusals in all.
func holdSilent(t *testing.T, l *connLimiter, src, addr string, n, want int) {
	t.Helper()
	for range n {
		dialFrom(t, src, addr)
	}
	for i := 0; i < 500 && l.answering() < want; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got := l.answering(); got != want {
		t.Fatalf("%d refusals being answered, want %d", got, want)
	}
}

// closedUnanswered asserts that c is closed without a byte.
func closedUnanswered(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 64)); n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("read %d bytes, %v; want the connection closed without an answer", n, err)
	}
}

// refusedWith503 sends a request on c, split so that its blank line
// spans two writes, and asserts a 503.
func refusedWith503(t *testing.T, c net.Conn, end string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	head := "GET / HTTP/1.1" + end[:len(end)/2] + "Host: x" + end[:len(end)/2]
	if _, err := io.WriteString(c, head+end[:1]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // a second read on the server side
	if _, err := io.WriteString(c, end[1:len(end)/2]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("answer %d, want 503", resp.StatusCode)
	}
}

// TestRefusingIsBounded: refused connections that never send a request
// hold at most maxRefusingPerIP answers of one client and maxRefusing in
// all; the ones beyond are closed at once without an answer, while
// another client's refusals are still answered and its connections within
// the bound still served.
func TestRefusingIsBounded(t *testing.T) {
	slowRefusals(t)
	refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "refused"})
	l, addr := serveHeld(t, Limits{MaxConnsPerIP: 1}, refused)
	src := func(i int) string { return "127.0.0." + strconv.Itoa(i+1) }
	for i := range maxRefusing/maxRefusingPerIP + 1 {
		if got := get(t, dialFrom(t, src(i), addr), "/"); got != "HTTP/1.1 200 OK" {
			t.Fatalf("%s within the bound: %q", src(i), got)
		}
	}
	// One client fills its own refusal answers; its next refusal is
	// closed unanswered, another client's is answered.
	holdSilent(t, l, src(0), addr, maxRefusingPerIP, maxRefusingPerIP)
	closedUnanswered(t, dialFrom(t, src(0), addr))
	refusedWith503(t, dialFrom(t, src(1), addr), "\r\n\r\n")
	refusedWith503(t, dialFrom(t, src(1), addr), "\n\n")
	// Clients together fill every answer: then any refusal is closed.
	for i := 1; i < maxRefusing/maxRefusingPerIP; i++ {
		holdSilent(t, l, src(i), addr, maxRefusingPerIP, (i+1)*maxRefusingPerIP)
	}
	last := maxRefusing / maxRefusingPerIP
	closedUnanswered(t, dialFrom(t, src(last), addr))
	if n, want := counterValue(t, refused), float64(maxRefusing+4); n != want {
		t.Fatalf("refused counter %v, want %v", n, want)
	}
	// A connection within its client's bound is still served.
	if got := get(t, dialFrom(t, "127.0.0.100", addr), "/"); got != "HTTP/1.1 200 OK" {
		t.Fatalf("a new client: %q", got)
	}
}

func TestClientKey(t *testing.T) {
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 1} }
	tests := []struct {
		name string
		a, b net.Addr
		same bool
	}{
		{"one IPv4 address", tcp("10.0.0.1"), tcp("10.0.0.1"), true},
		{"two IPv4 addresses", tcp("10.0.0.1"), tcp("10.0.0.2"), false},
		{"IPv4-mapped IPv6 is its IPv4", tcp("::ffff:10.0.0.1"), tcp("10.0.0.1"), true},
		{"one IPv6 /64", tcp("2001:db8:1:2::1"), tcp("2001:db8:1:2:ffff::9"), true},
		{"two IPv6 /64s", tcp("2001:db8:1:2::1"), tcp("2001:db8:1:3::1"), false},
		{"Unix socket peers", &net.UnixAddr{Name: "@", Net: "unix"}, &net.UnixAddr{Name: "@", Net: "unix"}, true},
	}
	for _, tt := range tests {
		if got := clientKey(tt.a) == clientKey(tt.b); got != tt.same {
			t.Errorf("%s: keys %q and %q, same = %v, want %v", tt.name, clientKey(tt.a), clientKey(tt.b), got, tt.same)
		}
	}
	if clientKey(nil) != "" {
		t.Error("a nil address has a key")
	}
}

func TestClientKeyOfRemoteAddr(t *testing.T) {
	tests := []struct {
		addr, want string
	}{
		{"10.0.0.1:8545", "10.0.0.1"},
		{"10.0.0.1", "10.0.0.1"},
		{"[::ffff:10.0.0.1]:8545", "10.0.0.1"},
		{"[2001:db8:1:2:ffff::9]:8545", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:8545", "fe80::/64"},
		{"node.example:8545", "node.example"},
		{"@", "@"},
		{"", ""},
	}
	for _, tt := range tests {
		if have := ClientKey(tt.addr); have != tt.want {
			t.Errorf("ClientKey(%q): have %q, want %q", tt.addr, have, tt.want)
		}
	}
	// A connection's address written out has the key Listener counts the
	// connection under.
	for _, a := range []*net.TCPAddr{
		{IP: net.ParseIP("10.0.0.1"), Port: 1},
		{IP: net.ParseIP("::ffff:10.0.0.1"), Port: 1},
		{IP: net.ParseIP("2001:db8:1:2::1"), Port: 1},
		{IP: net.ParseIP("fe80::1"), Port: 1, Zone: "eth0"},
	} {
		if have, want := ClientKey(a.String()), clientKey(a); have != want {
			t.Errorf("ClientKey(%q): have %q, want %q (clientKey)", a.String(), have, want)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
