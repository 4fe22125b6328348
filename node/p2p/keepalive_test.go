package p2p

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

// blackhole is a TCP proxy to one address that can go silent: while it is
// cut, every byte of the connections it holds is read and dropped, and
// the sockets stay open, as when a link drops packets. Connections cut
// once stay dead; those accepted while it is cut are closed at once, and
// those accepted after the heal are forwarded.
type blackhole struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	gen    int // bumped by each cut; a connection forwards while its gen is current and the proxy is not cut
	cutNow bool
	conns  []net.Conn
}

func newBlackhole(t *testing.T, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, target: target}
	t.Cleanup(b.close)
	go b.accept()
	return b
}

func (b *blackhole) accept() {
	for {
		in, err := b.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", b.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		b.mu.Lock()
		if b.cutNow {
			b.mu.Unlock()
			_ = in.Close()
			_ = out.Close()
			continue
		}
		b.conns = append(b.conns, in, out)
		gen := b.gen
		b.mu.Unlock()
		go b.pipe(in, out, gen)
		go b.pipe(out, in, gen)
	}
}

// pipe copies src to dst until the proxy is cut, then drops what src sends.
func (b *blackhole) pipe(src, dst net.Conn, gen int) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && b.forwards(gen) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or closed
		}
	}
}

func (b *blackhole) forwards(gen int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.cutNow && gen == b.gen
}

func (b *blackhole) cut() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cutNow = true
	b.gen++
}

func (b *blackhole) heal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cutNow = false
}

func (b *blackhole) close() {
	_ = b.ln.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		_ = c.Close()
	}
}

// TestSilentLinkReplaced: a member connection on which nothing arrives
// any more, its sockets open, is closed by the keepalive and replaced by
// a fresh one once the link heals. Without the keepalive the connection
// stays open and silent (libp2p's own pings every 30 s), which after a
// real partition leaves the link dead until TCP's backed-off
// retransmission fires.
func TestSilentLinkReplaced(t *testing.T) {
	g := testGenesis(t)
	fast := func(c *Config) {
		c.Limits.PingInterval, c.Limits.PingTimeout = 100*time.Millisecond, 500*time.Millisecond
		c.Limits.RequestTimeout = time.Second // a dial
	}
	a := startNode(t, "A", newTestChain(t, g, "A"), nil, fast)
	var addr string
	for _, m := range a.Addrs() {
		if v, err := m.ValueForProtocol(ma.P_IP4); err == nil && v == "127.0.0.1" {
			port, _ := m.ValueForProtocol(ma.P_TCP)
			addr = net.JoinHostPort(v, port)
		}
	}
	if addr == "" {
		t.Fatalf("A listens on no 127.0.0.1 address: %v", a.Addrs())
	}
	proxy := newBlackhole(t, addr)
	via := proxy.ln.Addr().(*net.TCPAddr)
	peerAddr := "/ip4/127.0.0.1/tcp/" + strconv.Itoa(via.Port) + "/p2p/" + a.ID().String()
	b := startNode(t, "B", newTestChain(t, g, "B"), nil, fast, func(c *Config) { c.Peers = []string{peerAddr} })
	defer func() {
		if t.Failed() {
			t.Logf("B's log:\n%s", b.logs)
		}
	}()
	waitFor(t, "B to dial A through the proxy", func() bool { return b.hasPeer(a) && a.hasPeer(b) })

	proxy.cut()
	waitFor(t, "both ends to close the silent connection", func() bool { return !b.hasPeer(a) && !a.hasPeer(b) })
	for _, n := range []*testNode{a, b} {
		if c := counterValue(n.metrics.silent); c < 1 {
			t.Errorf("keepalive closes counted: have %v, want at least 1", c)
		}
		if len(n.logs.lines("no answer to keepalive")) == 0 {
			t.Errorf("no warning says why the connection closed")
		}
	}
	proxy.heal()
	waitFor(t, "B to reconnect to A", func() bool { return b.hasPeer(a) && a.hasPeer(b) })
}
