package rpc

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestConsoleRoutes checks that GET /console serves the console page and
// its assets from the embedded bundle, and /console/ redirects to it.
func TestConsoleRoutes(t *testing.T) {
	e := newTestEnv(t, Config{})
	tests := []struct {
		path, wantType, wantBody string
	}{
		{"/console", "text/html; charset=utf-8", "<title>Arbiter operator console</title>"},
		{"/console/", "text/html; charset=utf-8", "<title>Arbiter operator console</title>"},
		{"/console/console.js", "text/javascript; charset=utf-8", "arbiter_status"},
		{"/console/console.css", "text/css; charset=utf-8", ""},
		{"/console/LICENSES.txt", "text/plain; charset=utf-8", "MIT"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(e.http.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tt.wantType || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("have %d %q, want 200 %q containing %q", resp.StatusCode, resp.Header.Get("Content-Type"), tt.wantType, tt.wantBody)
			}
		})
	}
}
