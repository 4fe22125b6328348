package origin

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPolicy(t *testing.T) {
	const host = "127.0.0.1:8545"
	tests := []struct {
		name    string
		allowed []string
		origin  []string // Origin header values; nil for none
		want    bool
	}{
		{"no origin: not a browser", nil, nil, true},
		{"same origin", nil, []string{"http://127.0.0.1:8545"}, true},
		{"same origin, upper case", nil, []string{"HTTP://127.0.0.1:8545"}, true},
		{"cross origin refused by default", nil, []string{"https://evil.example"}, false},
		{"same host, other port", nil, []string{"http://127.0.0.1:8546"}, false},
		{"null origin refused", nil, []string{"null"}, false},
		{"two origins refused", nil, []string{"http://127.0.0.1:8545", "http://127.0.0.1:8545"}, false},
		{"listed origin", []string{"https://app.example"}, []string{"https://app.example"}, true},
		{"listed origin, default port", []string{"https://app.example:443"}, []string{"https://app.example"}, true},
		{"listed origin, other scheme", []string{"https://app.example"}, []string{"http://app.example"}, false},
		{"listed origin, other port", []string{"https://app.example"}, []string{"https://app.example:8443"}, false},
		{"unlisted origin", []string{"https://app.example"}, []string{"https://evil.example"}, false},
		{"same origin with a list", []string{"https://app.example"}, []string{"http://127.0.0.1:8545"}, true},
		{"any", []string{"*"}, []string{"https://evil.example"}, true},
		{"any, null origin", []string{"*"}, []string{"null"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.allowed)
			if err != nil {
				t.Fatalf("New: have %v, want nil", err)
			}
			r := httptest.NewRequest(http.MethodGet, "http://"+host+"/ws", nil)
			r.Host = host
			if tt.origin != nil {
				r.Header["Origin"] = tt.origin
			}
			if have := p.Allows(r); have != tt.want {
				t.Fatalf("Allows: have %v, want %v", have, tt.want)
			}
			rec := httptest.NewRecorder()
			reached := false
			p.Guard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })).ServeHTTP(rec, r)
			if reached != tt.want || (!tt.want && rec.Code != http.StatusForbidden) {
				t.Fatalf("Guard: have reached %v, status %d; want reached %v", reached, rec.Code, tt.want)
			}
		})
	}
}

func TestNewRefusesNonOrigins(t *testing.T) {
	for _, bad := range []string{"", "example.org", "https://", "https://app.example/path", "https://app.example?q=1", "https://user@app.example", "mailto:x@example.org"} {
		t.Run(bad, func(t *testing.T) {
			if _, err := New([]string{bad}); !errors.Is(err, ErrBadOrigin) {
				t.Fatalf("New(%q): have %v, want %v", bad, err, ErrBadOrigin)
			}
		})
	}
}
