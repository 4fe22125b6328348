package storeurl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/dynamostore"
	"github.com/arbiter-chain/arbiter/offchain/bridge/pgstore"
)

// ErrBadURL: the store URL has none of the forms in the package doc.
var ErrBadURL = errors.New("storeurl: bad store URL")

// forms lists the URL forms for error messages.
const forms = "memory:, badger:DIR, postgres://…, dynamodb://TABLE?region=…&endpoint=…"

// Open opens the store raw names and checks that it is usable: the
// directory opens, the database answers, the table exists with the right
// keys. Errors name the store without its password.
func Open(ctx context.Context, raw string) (bridge.ClosableStore, error) {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return nil, fmt.Errorf("%w %q: want one of %s", ErrBadURL, Redact(raw), forms)
	}
	var (
		s   bridge.ClosableStore
		err error
	)
	switch scheme {
	case "memory":
		if rest != "" {
			return nil, fmt.Errorf("%w %q: memory: takes nothing after the colon", ErrBadURL, raw)
		}
		return bridge.NewMemStore(), nil
	case "badger":
		if rest == "" || strings.HasPrefix(rest, "//") {
			return nil, fmt.Errorf("%w %q: want badger:DIR, such as badger:/var/lib/arbiter/bridge", ErrBadURL, raw)
		}
		s, err = bridge.OpenBadger(rest)
	case "postgres", "postgresql":
		if !strings.HasPrefix(rest, "//") {
			return nil, fmt.Errorf("%w %q: want postgres://USER@HOST:PORT/DATABASE", ErrBadURL, Redact(raw))
		}
		s, err = pgstore.Open(ctx, raw)
	case dynamostore.Scheme:
		o, perr := dynamostore.ParseURL(raw)
		if perr != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadURL, perr)
		}
		s, err = dynamostore.Open(ctx, o)
	default:
		return nil, fmt.Errorf("%w %q: unknown scheme %q; want one of %s", ErrBadURL, Redact(raw), scheme, forms)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", Redact(raw), err)
	}
	return s, nil
}

// Redact returns raw with any password (in the user info or a password
// parameter) replaced by xxxxx, for logs and errors; a URL it cannot
// parse is cut to its scheme.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		scheme, _, _ := strings.Cut(raw, ":")
		return scheme + ":…"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
