package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// postServer is a JSON-RPC endpoint for the poster's tests: answer says
// what to do with each request, and it counts connections opened.
type postServer struct {
	*httptest.Server
	conns  atomic.Int64
	mu     sync.Mutex
	bodies []map[string]any
}

func newPostServer(t *testing.T, answer func(w http.ResponseWriter, n int)) *postServer {
	t.Helper()
	return startPostServer(t, answer, false)
}

// startPostServer is newPostServer, serving https if useTLS is set (every
// request it takes then came over TLS).
func startPostServer(t *testing.T, answer func(w http.ResponseWriter, n int), useTLS bool) *postServer {
	t.Helper()
	s := &postServer{}
	var n atomic.Int64
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		data, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(data, &body) != nil || useTLS != (r.TLS != nil) {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.bodies = append(s.bodies, body)
		s.mu.Unlock()
		answer(w, int(n.Add(1)))
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if useTLS {
		// The refused handshake of TestPosterTLS is expected: keep it out
		// of the test's output.
		s.Config.ErrorLog = log.New(io.Discard, "", 0)
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

const postHash = `"0x` + "1111111111111111111111111111111111111111111111111111111111111111" + `"`

func answerResult(w http.ResponseWriter, _ int) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":`+postHash+"}\n")
}

func TestPosterSendsAndReuses(t *testing.T) {
	s := newPostServer(t, answerResult)
	p := newPoster(s.URL+"/rpc", 5*time.Second)
	if p == nil {
		t.Fatal("no poster for an http:// URL")
	}
	defer p.close()
	raw := []byte{0x02, 0xf8, 0x6a, 0x00, 0xff}
	for range 5 {
		if err := p.sendRawTransaction(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}
	if c := s.conns.Load(); c != 1 {
		t.Fatalf("5 sequential requests opened %d connections, want 1", c)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bodies[0]
	params, _ := b["params"].([]any)
	if b["jsonrpc"] != "2.0" || b["method"] != "eth_sendRawTransaction" || len(params) != 1 || params[0] != hexutil.Encode(raw) {
		t.Fatalf("request body %v", b)
	}
}

func TestPosterErrors(t *testing.T) {
	raw := []byte{1, 2, 3}
	t.Run("json-rpc error", func(t *testing.T) {
		s := newPostServer(t, func(w http.ResponseWriter, _ int) {
			io.WriteString(w, `{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"transaction pool is full"}}`)
		})
		p := newPoster(s.URL, 5*time.Second)
		defer p.close()
		err := p.sendRawTransaction(context.Background(), raw)
		var re rpc.Error
		if !errors.As(err, &re) || re.ErrorCode() != -32005 || err.Error() != "transaction pool is full" || !retryable(err) {
			t.Fatalf("have %v, want the node's error -32005, retryable", err)
		}
		// The connection stays usable after an error answer.
		_ = p.sendRawTransaction(context.Background(), raw)
		if c := s.conns.Load(); c != 1 {
			t.Fatalf("%d connections, want 1", c)
		}
	})
	t.Run("503 with close", func(t *testing.T) {
		s := newPostServer(t, func(w http.ResponseWriter, n int) {
			if n == 1 {
				w.Header().Set("Connection", "close")
				http.Error(w, "too many open connections from this address", http.StatusServiceUnavailable)
				return
			}
			answerResult(w, n)
		})
		p := newPoster(s.URL, 5*time.Second)
		defer p.close()
		err := p.sendRawTransaction(context.Background(), raw)
		var he rpc.HTTPError
		if !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(he.Body), "too many") || !retryable(err) {
			t.Fatalf("have %v, want HTTP 503, retryable", err)
		}
		if err := p.sendRawTransaction(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
		if c := s.conns.Load(); c != 2 {
			t.Fatalf("%d connections, want 2 (the first closed by the server)", c)
		}
	})
	t.Run("not json-rpc", func(t *testing.T) {
		s := newPostServer(t, func(w http.ResponseWriter, _ int) { io.WriteString(w, "<html>hello</html>") })
		p := newPoster(s.URL, 5*time.Second)
		defer p.close()
		if err := p.sendRawTransaction(context.Background(), raw); err == nil || !strings.Contains(err.Error(), "not JSON-RPC") {
			t.Fatalf("have %v, want an error naming the answer", err)
		}
	})
	t.Run("neither result nor error", func(t *testing.T) {
		s := newPostServer(t, func(w http.ResponseWriter, _ int) { io.WriteString(w, `{"jsonrpc":"2.0","id":1}`) })
		p := newPoster(s.URL, 5*time.Second)
		defer p.close()
		if err := p.sendRawTransaction(context.Background(), raw); err == nil {
			t.Fatal("an answer without a result was taken")
		}
	})
	t.Run("oversized answer", func(t *testing.T) {
		s := newPostServer(t, func(w http.ResponseWriter, _ int) {
			io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":"`+strings.Repeat("a", maxPostAnswer)+`"}`)
		})
		p := newPoster(s.URL, 5*time.Second)
		defer p.close()
		if err := p.sendRawTransaction(context.Background(), raw); err == nil || !strings.Contains(err.Error(), "answer of more than") {
			t.Fatalf("have %v, want the answer refused for its size", err)
		}
	})
}

// TestPosterRedialsClosedIdle: a keep-alive connection the server closed
// while it sat idle costs one redial, not an error; chunked answers are
// read like any other.
func TestPosterRedialsClosedIdle(t *testing.T) {
	s := newPostServer(t, func(w http.ResponseWriter, _ int) {
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,`)
		w.(http.Flusher).Flush() // chunked
		io.WriteString(w, `"result":`+postHash+`}`)
	})
	p := newPoster(s.URL, 5*time.Second)
	defer p.close()
	raw := []byte{9}
	if err := p.sendRawTransaction(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	s.CloseClientConnections()
	if err := p.sendRawTransaction(context.Background(), raw); err != nil {
		t.Fatalf("after the server closed the idle connection: %v", err)
	}
	if c := s.conns.Load(); c != 2 {
		t.Fatalf("%d connections, want 2", c)
	}
}

// TestPosterHonoursContext: a request the server holds is abandoned when
// the context ends.
func TestPosterHonoursContext(t *testing.T) {
	release := make(chan struct{})
	s := newPostServer(t, func(w http.ResponseWriter, n int) {
		<-release
		answerResult(w, n)
	})
	defer close(release)
	p := newPoster(s.URL, time.Minute)
	defer p.close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.sendRawTransaction(ctx, []byte{1}) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("have %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request outlived its context")
	}
}

func TestNewPosterSchemes(t *testing.T) {
	for _, u := range []string{"ws://127.0.0.1:1/ws", "wss://127.0.0.1:1/ws", "http://", "https://", "::"} {
		if p := newPoster(u, time.Second); p != nil {
			t.Errorf("%q: a poster, want none (rpc.Client sends)", u)
		}
	}
	if p := newPoster("http://node.example/rpc?x=1", time.Second); p == nil || p.addr != "node.example:80" || p.tls != nil || !strings.HasPrefix(string(p.head), "POST /rpc?x=1 HTTP/1.1\r\nHost: node.example\r\n") {
		t.Errorf("http URL without a port: %+v", p)
	}
	if p := newPoster("https://node.example/rpc", time.Second); p == nil || p.addr != "node.example:443" || p.tls == nil || p.tls.ServerName != "node.example" {
		t.Errorf("https URL without a port: %+v", p)
	}
}

// TestPosterTLS: an https:// node gets the same keep-alive requests over
// TLS, a connection the node closed while idle is redialled, and a node
// whose certificate the roots do not vouch for is refused.
func TestPosterTLS(t *testing.T) {
	s := startPostServer(t, answerResult, true)
	p := newPoster(s.URL+"/rpc", 5*time.Second)
	if p == nil || p.tls == nil {
		t.Fatal("no TLS poster for an https:// URL")
	}
	defer p.close()
	roots := x509.NewCertPool()
	roots.AddCert(s.Certificate())
	p.tls.RootCAs = roots
	raw := []byte{0x02, 0xf8, 0x6a}
	for range 3 {
		if err := p.sendRawTransaction(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}
	if c := s.conns.Load(); c != 1 {
		t.Fatalf("3 sequential requests opened %d connections, want 1", c)
	}
	s.CloseClientConnections()
	if err := p.sendRawTransaction(context.Background(), raw); err != nil {
		t.Fatalf("after the server closed the idle connection: %v", err)
	}
	if c := s.conns.Load(); c != 2 {
		t.Fatalf("%d connections, want 2", c)
	}
	s.mu.Lock()
	bodies := len(s.bodies)
	s.mu.Unlock()
	if bodies != 4 {
		t.Fatalf("the server took %d requests, want 4", bodies)
	}

	q := newPoster(s.URL, 5*time.Second)
	defer q.close()
	if err := q.sendRawTransaction(context.Background(), raw); !errors.As(err, new(*tls.CertificateVerificationError)) {
		t.Fatalf("a certificate no root vouches for: have %v, want a certificate verification error", err)
	}
}

// rawServer answers each request as its script says, on raw TCP, and
// counts the requests it read.
type rawServer struct {
	ln       net.Listener
	requests atomic.Int64
}

func newRawServer(t *testing.T, script func(n int, c net.Conn) (keep bool)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(r)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if !script(int(s.requests.Add(1)), c) {
						return
					}
				}
			}()
		}
	}()
	return s
}

const rawOK = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 102\r\n\r\n" +
	`{"jsonrpc":"2.0","id":1,"result":"0x1111111111111111111111111111111111111111111111111111111111111111"}`

// TestPosterRetriesOnlyUnanswered: a request whose answer was cut off, or
// timed out, on a kept connection is not sent again (the node may have
// taken it); interim 1xx answers are skipped.
func TestPosterRetriesOnlyUnanswered(t *testing.T) {
	raw := []byte{7}
	t.Run("cut answer", func(t *testing.T) {
		s := newRawServer(t, func(n int, c net.Conn) bool {
			if n == 1 {
				io.WriteString(c, rawOK)
				return true
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Len")
			return false
		})
		p := newPoster("http://"+s.ln.Addr().String(), 5*time.Second)
		defer p.close()
		if err := p.sendRawTransaction(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
		if err := p.sendRawTransaction(context.Background(), raw); err == nil {
			t.Fatal("a cut answer was taken as success")
		}
		if n := s.requests.Load(); n != 2 {
			t.Fatalf("the server read %d requests, want 2 (the cut one not sent again)", n)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		s := newRawServer(t, func(n int, c net.Conn) bool {
			if n == 1 {
				io.WriteString(c, rawOK)
				return true
			}
			time.Sleep(time.Second) // past the poster's timeout
			return false
		})
		p := newPoster("http://"+s.ln.Addr().String(), 200*time.Millisecond)
		defer p.close()
		if err := p.sendRawTransaction(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
		var ne net.Error
		if err := p.sendRawTransaction(context.Background(), raw); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("have %v, want a timeout", err)
		}
		if n := s.requests.Load(); n != 2 {
			t.Fatalf("the server read %d requests, want 2 (the timed-out one not sent again)", n)
		}
	})
	t.Run("interim answer", func(t *testing.T) {
		s := newRawServer(t, func(n int, c net.Conn) bool {
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n"+rawOK)
			return true
		})
		p := newPoster("http://"+s.ln.Addr().String(), 5*time.Second)
		defer p.close()
		for range 3 {
			if err := p.sendRawTransaction(context.Background(), raw); err != nil {
				t.Fatal(err)
			}
		}
		if n := s.requests.Load(); n != 3 {
			t.Fatalf("the server read %d requests, want 3", n)
		}
	})
}
