package storeurl_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/dynamostore"
	"github.com/arbiter-chain/arbiter/offchain/bridge/pgstore"
	"github.com/arbiter-chain/arbiter/offchain/bridge/storetest"
	"github.com/arbiter-chain/arbiter/offchain/bridge/storeurl"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// TestOpen opens each kind of store by URL and writes through it.
func TestOpen(t *testing.T) {
	for _, tt := range []struct {
		name string
		url  func(t testing.TB) string
		want any // the concrete type
	}{
		{"memory", func(testing.TB) string { return "memory:" }, &bridge.MemStore{}},
		{"badger", func(t testing.TB) string { return "badger:" + filepath.Join(t.TempDir(), "db") }, &bridge.BadgerStore{}},
		{"postgres", storetest.PostgresDB, &pgstore.Store{}},
		{"postgresql", func(t testing.TB) string {
			return "postgresql" + strings.TrimPrefix(storetest.PostgresDB(t), "postgres")
		}, &pgstore.Store{}},
		{"dynamodb", storetest.DynamoURL, &dynamostore.Store{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := storeurl.Open(t.Context(), tt.url(t))
			if err != nil {
				t.Fatalf("Open: have %v, want nil", err)
			}
			defer s.Close()
			if have, want := fmt.Sprintf("%T", s), fmt.Sprintf("%T", tt.want); have != want {
				t.Fatalf("store type: have %s, want %s", have, want)
			}
			id := storetest.GameID("by url")
			if _, err := s.CreateGame(t.Context(), storetest.Game(id)); err != nil {
				t.Fatalf("CreateGame: have %v, want nil", err)
			}
			if err := s.Append(t.Context(), storetest.State(id, 1, 0)); err != nil {
				t.Fatalf("Append: have %v, want nil", err)
			}
		})
	}
}

// TestOpenRefuses checks the errors of URLs that name no usable store:
// malformed ones are ErrBadURL, unreachable ones fail promptly, and no
// error repeats a password.
func TestOpenRefuses(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, url string
		bad       bool // ErrBadURL
	}{
		{"empty", "", true},
		{"no scheme", "/var/lib/bridge", true},
		{"unknown scheme", "mysql://u:hunter2@h/db", true},
		{"memory with a path", "memory:/x", true},
		{"badger without a dir", "badger:", true},
		{"badger as a URL", "badger:///var/lib/bridge", true},
		{"postgres without //", "postgres:h/db", true},
		{"dynamodb with a typo", "dynamodb://table?regoin=eu-west-1", true},
		{"dynamodb without a table", "dynamodb://?region=eu-west-1", true},
		{"badger on a file", "badger:" + file, false},
		{"postgres nobody listening", "postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=5", false},
		{"postgres password parameter", "postgres://u@127.0.0.1:1/db?sslmode=disable&password=hunter2&connect_timeout=5", false},
		{"dynamodb nobody listening", "dynamodb://table?endpoint=http://127.0.0.1:1", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := storeurl.Open(ctx, tt.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q): have nil, want an error", tt.url)
			}
			if errors.Is(err, storeurl.ErrBadURL) != tt.bad {
				t.Fatalf("Open(%q): have %v; want ErrBadURL: %v", tt.url, err, tt.bad)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("Open(%q): the error repeats the password: %v", tt.url, err)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Open(%q): have a timeout, want a prompt refusal", tt.url)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"postgres://u:hunter2@h:5432/db", "postgres://u:xxxxx@h:5432/db"},
		{"postgres://u@h/db?password=hunter2&sslmode=disable", "postgres://u@h/db?password=xxxxx&sslmode=disable"},
		{"badger:/var/lib/bridge", "badger:/var/lib/bridge"},
		{"dynamodb://t?region=eu-west-1", "dynamodb://t?region=eu-west-1"},
		{"postgres://u:hunter2@%zz", "postgres:…"},
	} {
		if got := storeurl.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q): have %q, want %q", tt.in, got, tt.want)
		}
	}
}
