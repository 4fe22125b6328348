package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jackc/pgx/v5"

	"github.com/arbiter-chain/arbiter/offchain/bridge/dynamostore"
)

// Environment variables naming the servers tests use.
const (
	// EnvPostgres is a postgres:// URL of a role that may create databases.
	EnvPostgres = "ARBITER_TEST_POSTGRES"
	// EnvDynamo is the http:// endpoint of a DynamoDB-compatible server.
	EnvDynamo = "ARBITER_TEST_DYNAMODB"
	// EnvCI set to 1 makes a missing server fail the test, not skip it.
	EnvCI = "ARBITER_CI"
)

// DynamoRegion is the region tests sign requests for.
const DynamoRegion = "us-east-1"

// readyDeadline bounds the wait for a server this package starts.
const readyDeadline = 60 * time.Second

// service is a server found in the environment or started here, once
// per test binary.
type service struct {
	once sync.Once
	addr string // URL or endpoint
	err  error  // why there is none
	stop func()
}

var (
	pgService  service
	dynService service
)

// Main runs the tests and then stops the servers this package started;
// call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	for _, s := range []*service{&pgService, &dynService} {
		if s.stop != nil {
			s.stop()
		}
	}
	return code
}

// unavailable skips the test, or fails it under ARBITER_CI=1.
func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv(EnvCI) == "1" {
		t.Fatalf("%s unavailable (%s=1, so this fails instead of skipping): %v", what, EnvCI, err)
	}
	t.Skipf("%s unavailable: %v", what, err)
}

// randomName returns prefix and 16 random hex digits.
func randomName(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// PostgresServer returns the URL of the PostgreSQL server tests use,
// skipping (or, under ARBITER_CI=1, failing) the test if there is none.
func PostgresServer(t testing.TB) string {
	t.Helper()
	pgService.once.Do(func() {
		if u := os.Getenv(EnvPostgres); u != "" {
			pgService.addr = u
			return
		}
		pgService.addr, pgService.stop, pgService.err = startPostgres()
	})
	if pgService.err != nil {
		unavailable(t, "PostgreSQL", pgService.err)
	}
	return pgService.addr
}

// PostgresDB creates a fresh database on the test server and returns its
// URL; the database is dropped at the end of the test, after the
// cleanups registered later (closing the stores on it) have run.
func PostgresDB(t testing.TB) string {
	t.Helper()
	server := PostgresServer(t)
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	name := randomName("arbiter_test_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		unavailable(t, "PostgreSQL", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("CREATE DATABASE: have %v, want nil", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("drop test database: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("DROP DATABASE: have %v, want nil", err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// DynamoServer returns the endpoint of the DynamoDB-compatible server
// tests use, skipping (or, under ARBITER_CI=1, failing) the test if there
// is none.
func DynamoServer(t testing.TB) string {
	t.Helper()
	dynService.once.Do(func() {
		if e := os.Getenv(EnvDynamo); e != "" {
			dynService.addr = e
			return
		}
		dynService.addr, dynService.stop, dynService.err = startDynalite()
	})
	if dynService.err != nil {
		unavailable(t, "DynamoDB-compatible server", dynService.err)
	}
	return dynService.addr
}

// DynamoTable creates a fresh table on the test server and returns the
// options that reach it; the table is deleted at the end of the test.
func DynamoTable(t testing.TB) dynamostore.Options {
	t.Helper()
	o := dynamostore.Options{
		Table:        randomName("arbiter-test-"),
		Region:       DynamoRegion,
		Endpoint:     DynamoServer(t),
		PollInterval: 20 * time.Millisecond,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dynamostore.CreateTable(ctx, o); err != nil {
		t.Fatalf("CreateTable: have %v, want nil", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dynamostore.DeleteTable(ctx, o); err != nil {
			t.Errorf("DeleteTable: have %v, want nil", err)
		}
	})
	return o
}

// DynamoURL returns the store URL of a fresh table (see DynamoTable).
func DynamoURL(t testing.TB) string {
	t.Helper()
	o := DynamoTable(t)
	return fmt.Sprintf("dynamodb://%s?region=%s&endpoint=%s&poll=%s", o.Table, o.Region, o.Endpoint, o.PollInterval)
}

// freePort returns a loopback TCP port free at the time of the call.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitTCP waits until addr accepts connections or the process exits.
func waitTCP(addr string, exited <-chan struct{}) error {
	for deadline := time.Now().Add(readyDeadline); time.Now().Before(deadline); {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("server exited while starting")
		case <-time.After(20 * time.Millisecond): // polling a starting process
		}
	}
	return fmt.Errorf("%s not accepting connections within %v", addr, readyDeadline)
}

// repoRoot returns the directory of the module's go.mod above the working
// directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// startDynalite starts dynalite with .ci/dynalite/server.js on a free
// port.
func startDynalite() (string, func(), error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", nil, fmt.Errorf("node not found (install Node.js, then run npm ci in .ci/dynalite, or set %s): %w", EnvDynamo, err)
	}
	root, err := repoRoot()
	if err != nil {
		return "", nil, err
	}
	dir := filepath.Join(root, ".ci", "dynalite")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "dynalite")); err != nil {
		return "", nil, fmt.Errorf("dynalite not installed: run npm ci in .ci/dynalite (or .ci/services start), or set %s", EnvDynamo)
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(node, filepath.Join(dir, "server.js"), "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stop, exited, err := startProcess(cmd)
	if err != nil {
		return "", nil, fmt.Errorf("start dynalite: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := waitTCP(addr, exited); err != nil {
		stop()
		return "", nil, fmt.Errorf("dynalite: %w", err)
	}
	return "http://" + addr, stop, nil
}

// spawner runs functions on one goroutine locked to its OS thread for
// the life of the process. Linux sends a child's parent-death signal when
// the thread that started it exits, not the process, and the Go runtime
// may retire threads; starting servers from this thread makes their
// Pdeathsig mean "the test binary died".
var spawner = sync.OnceValue(func() chan<- func() {
	ch := make(chan func())
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the process
		for f := range ch {
			f()
		}
	}()
	return ch
})

// startProcess starts cmd and returns a function that stops it and waits,
// and a channel closed when it exits.
func startProcess(cmd *exec.Cmd) (stop func(), exited <-chan struct{}, err error) {
	started := make(chan error)
	spawner() <- func() { started <- cmd.Start() }
	if err := <-started; err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	return func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}, done, nil
}

// pgBinDir finds the directory of PostgreSQL's initdb and postgres.
func pgBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.Reverse(dirs) // the newest version first, for versions of equal digit count
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL's initdb not found (apt-get install postgresql, or set %s)", EnvPostgres)
}

// startPostgres initialises a throwaway cluster in a temporary directory
// and starts it on a free loopback port with trust authentication. As
// root it runs the server as the postgres user, since PostgreSQL refuses
// to run as root.
func startPostgres() (string, func(), error) {
	bin, err := pgBinDir()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "arbiter-pg-")
	if err != nil {
		return "", nil, err
	}
	fail := func(err error) (string, func(), error) {
		os.RemoveAll(dir)
		return "", nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fail(fmt.Errorf("running as root and no postgres user to run PostgreSQL as: %w", err))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return fail(err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %w: %s", err, strings.TrimSpace(string(out))))
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	// A throwaway cluster: durability against power loss is not under
	// test, so fsync is off.
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT}
	stop, exited, err := startProcess(cmd)
	if err != nil {
		return fail(fmt.Errorf("start postgres: %w", err))
	}
	stopAll := func() {
		stop()
		os.RemoveAll(dir)
	}
	addr := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	for deadline := time.Now().Add(readyDeadline); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, addr)
		if err == nil {
			conn.Close(ctx)
			cancel()
			return addr, stopAll, nil
		}
		cancel()
		select {
		case <-exited:
			stopAll()
			return "", nil, fmt.Errorf("postgres exited while starting: %w", err)
		case <-time.After(50 * time.Millisecond): // polling a starting process
		}
		if time.Now().After(deadline) {
			stopAll()
			return "", nil, fmt.Errorf("postgres not ready within %v: %w", readyDeadline, err)
		}
	}
}
