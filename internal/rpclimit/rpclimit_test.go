package rpclimit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestWithDefaults(t *testing.T) {
	def := Limits{
		MaxBodyBytes: 100, MaxBatchItems: 2, MaxBatchResponseBytes: 300,
		MaxSubscriptionsPerConn: 4, ReadHeaderTimeout: time.Second,
		ReadTimeout: 2 * time.Second, WriteTimeout: 3 * time.Second,
		IdleTimeout: 4 * time.Second, MaxHeaderBytes: 500, MaxConnsPerIP: 6,
	}
	tests := []struct {
		name string
		have Limits
		def  Limits
		want Limits
	}{
		{"zero takes every default, WS message bound from the body bound", Limits{}, def,
			func() Limits { l := def; l.MaxWSMessageBytes = 100; return l }()},
		{"set fields are kept", Limits{MaxBodyBytes: 7, MaxWSMessageBytes: 9, IdleTimeout: time.Minute}, def,
			func() Limits {
				l := def
				l.MaxBodyBytes, l.MaxWSMessageBytes, l.IdleTimeout = 7, 9, time.Minute
				return l
			}()},
		{"negative fields take the default", Limits{MaxBatchItems: -1, ReadTimeout: -time.Second}, def,
			func() Limits { l := def; l.MaxWSMessageBytes = 100; return l }()},
		{"a default WS bound wins over the body bound", Limits{MaxBodyBytes: 10, IdleTimeout: 1, ReadTimeout: 1, WriteTimeout: 1, ReadHeaderTimeout: 1, MaxHeaderBytes: 1},
			Limits{MaxWSMessageBytes: 20},
			Limits{MaxBodyBytes: 10, MaxWSMessageBytes: 20, IdleTimeout: 1, ReadTimeout: 1, WriteTimeout: 1, ReadHeaderTimeout: 1, MaxHeaderBytes: 1,
				MaxConnsPerIP: DefaultMaxConnsPerIP}},
		{"HTTP fields fall back to the shared defaults", Limits{}, Limits{},
			Limits{ReadHeaderTimeout: DefaultReadHeaderTimeout, ReadTimeout: DefaultReadTimeout, WriteTimeout: DefaultWriteTimeout,
				IdleTimeout: DefaultIdleTimeout, MaxHeaderBytes: DefaultMaxHeaderBytes, MaxConnsPerIP: DefaultMaxConnsPerIP}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if have := tt.have.WithDefaults(tt.def); have != tt.want {
				t.Errorf("have %+v, want %+v", have, tt.want)
			}
		})
	}
}

type echo struct{}

func (echo) Ping() string { return "pong" }

// TestApplyAndMetrics checks that the limits reach the JSON-RPC server
// (an oversized body and an oversized batch are refused) and that the
// refusals show in the request metric by route and code.
func TestApplyAndMetrics(t *testing.T) {
	lim := Limits{MaxBodyBytes: 256, MaxBatchItems: 2}.WithDefaults(Limits{})
	srv := gethrpc.NewServer()
	defer srv.Stop()
	lim.Apply(srv)
	if err := srv.RegisterName("test", echo{}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := NewMetrics("unit", "test subscriptions")
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(m.Instrument("http", srv))
	defer hs.Close()

	post := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post(hs.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		return resp.StatusCode, b.String()
	}
	call := `{"jsonrpc":"2.0","id":1,"method":"test_ping"}`
	tests := []struct {
		name     string
		body     string
		code     int
		contains string
	}{
		{"small call", call, http.StatusOK, `"pong"`},
		{"body over the bound", `{"jsonrpc":"2.0","id":1,"method":"test_ping","params":["` + strings.Repeat("x", 300) + `"]}`, http.StatusRequestEntityTooLarge, ""},
		{"batch over the bound", "[" + call + "," + call + "," + call + "]", http.StatusOK, "batch too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := post(tt.body)
			if code != tt.code {
				t.Fatalf("have status %d, want %d (%s)", code, tt.code, body)
			}
			if !strings.Contains(body, tt.contains) {
				t.Errorf("have body %s, want it to contain %q", body, tt.contains)
			}
		})
	}
	// The counter moves after the handler returns, which may be after the
	// client has its response: Close waits for every handler.
	hs.Close()
	if have := counterValue(t, m.Requests.WithLabelValues("http", "413")); have != 1 {
		t.Errorf("have %v requests counted as 413, want 1", have)
	}
	if have := counterValue(t, m.Requests.WithLabelValues("http", "200")); have != 2 {
		t.Errorf("have %v requests counted as 200, want 2", have)
	}
	if err := m.Register(prometheus.NewRegistry(), m.Requests); err == nil {
		t.Error("registering one collector twice: have nil error, want one")
	}
}

func TestHTTPServer(t *testing.T) {
	lim := Limits{ReadHeaderTimeout: 1, ReadTimeout: 2, WriteTimeout: 3, IdleTimeout: 4, MaxHeaderBytes: 5}
	h := http.NotFoundHandler()
	s := lim.HTTPServer(h)
	have := Limits{ReadHeaderTimeout: s.ReadHeaderTimeout, ReadTimeout: s.ReadTimeout,
		WriteTimeout: s.WriteTimeout, IdleTimeout: s.IdleTimeout, MaxHeaderBytes: s.MaxHeaderBytes}
	if have != lim {
		t.Errorf("have %+v, want %+v", have, lim)
	}
	if s.Handler == nil {
		t.Error("have nil handler, want the one given")
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestMetricNames checks the names every server's metrics get: the
// dashboards and docs/bridge.md refer to them.
func TestMetricNames(t *testing.T) {
	m := NewMetrics("unit", "subs")
	c := m.Counter("things_total", "things")
	v := m.CounterVec("refused_total", "refusals", "code")
	h := m.Histogram("took_seconds", "time", []float64{1})
	reg := prometheus.NewRegistry()
	if err := m.Register(reg, c, v, h); err != nil {
		t.Fatal(err)
	}
	m.Requests.WithLabelValues("http", "200").Inc()
	v.WithLabelValues("1").Inc()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, f := range fams {
		have = append(have, f.GetName())
	}
	want := []string{"arbiter_unit_connections_refused_total", "arbiter_unit_http_requests_total", "arbiter_unit_refused_total", "arbiter_unit_subscriptions",
		"arbiter_unit_things_total", "arbiter_unit_took_seconds"}
	if strings.Join(have, " ") != strings.Join(want, " ") {
		t.Errorf("have %v, want %v", have, want)
	}
}
