package origin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ErrBadOrigin is returned by New for an allow-list entry that is not an
// origin (scheme://host[:port], nothing after it) or "*".
var ErrBadOrigin = errors.New("origin: not an origin")

// Policy is the set of origins allowed to open a WebSocket besides the
// server's own. The zero Policy allows the server's own origin only.
type Policy struct {
	any     bool
	allowed map[string]struct{}
}

// New returns the policy that also allows each origin of allowed, given
// as "scheme://host" or "scheme://host:port" and compared without regard
// to case or a default port; "*" allows every origin. Nil or empty
// allows the server's own origin only.
func New(allowed []string) (Policy, error) {
	p := Policy{allowed: make(map[string]struct{}, len(allowed))}
	for _, a := range allowed {
		if a == "*" {
			p.any = true
			continue
		}
		n, ok := normalize(a)
		if !ok {
			return Policy{}, fmt.Errorf("%w: %q (want scheme://host[:port] or *)", ErrBadOrigin, a)
		}
		p.allowed[n] = struct{}{}
	}
	return p, nil
}

// normalize returns the lower-case scheme://host[:port] of an origin,
// without its scheme's default port; ok is false if s is not one.
func normalize(s string) (string, bool) {
	u, err := url.Parse(strings.ToLower(strings.TrimSpace(s)))
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", false
	}
	host := u.Host
	if port := u.Port(); (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		host = strings.TrimSuffix(host, ":"+port)
	}
	return u.Scheme + "://" + host, true
}

// Allows reports whether r may proceed: it has no Origin header, its
// Origin is the server's own (its host is r.Host), or the policy allows
// it.
func (p Policy) Allows(r *http.Request) bool {
	values, ok := r.Header["Origin"]
	if !ok {
		return true
	}
	if p.any {
		return true
	}
	if len(values) != 1 {
		return false
	}
	n, ok := normalize(values[0])
	if !ok {
		return false // "null" (a sandboxed or file page) among others
	}
	if u, err := url.Parse(n); err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	_, ok = p.allowed[n]
	return ok
}

// Guard wraps h: a request the policy does not allow gets 403 Forbidden
// and never reaches h.
func (p Policy) Guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.Allows(r) {
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
