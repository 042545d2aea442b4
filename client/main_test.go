package client_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
)

func TestMain(m *testing.M) {
	// nats-server's mirror setup waits up to 30s for a consumer-create
	// answer it may already have had, with no way to stop it at shutdown
	// (stream.go, setupMirrorConsumer): the readers' mirror leaves one.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*stream).setupMirrorConsumer.func3"))
}

// testServer is a real Grantlog node (role all, embedded NATS on
// 127.0.0.1) run for one test.
type testServer struct {
	srv   *server.Server
	dir   string
	token string
	base  string
}

// startServer runs a node until test cleanup. Checks with atLeastRevision
// wait at most 300ms, so that "far ahead" answers quickly.
func startServer(t *testing.T) *testServer {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		MaxWait: 300 * time.Millisecond, Logger: testutil.Quiet})
	if err != nil {
		cancel()
		require.NoError(t, err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, srv.Ready, 10*time.Second, 10*time.Millisecond, "server not ready")
	raw, err := os.ReadFile(filepath.Join(dir, auth.BootstrapTokenFile))
	require.NoError(t, err)
	return &testServer{srv: srv, dir: dir, token: strings.TrimSpace(string(raw)), base: "http://" + srv.HTTPAddr()}
}

// client returns an SDK client of the server with token; its idle
// connections close at test cleanup.
func (s *testServer) client(t *testing.T, token string) *client.Client {
	t.Helper()
	c := client.New(s.base, token)
	t.Cleanup(c.HTTP.CloseIdleConnections)
	return c
}

// followerCreds is the follower NATS user's credentials file.
func (s *testServer) followerCreds() string { return filepath.Join(s.dir, eventlog.FollowerCredsFile) }

// natsConn connects to the server's NATS as the API client user until
// test cleanup.
func (s *testServer) natsConn(t *testing.T) *nats.Conn {
	t.Helper()
	nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: s.srv.NATSURL(), CredsFile: filepath.Join(s.dir, eventlog.ClientCredsFile), Name: "client-test"})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

// followerConn connects to the server's NATS as the follower user until
// test cleanup.
func (s *testServer) followerConn(t *testing.T) *nats.Conn {
	t.Helper()
	nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: s.srv.NATSURL(), CredsFile: s.followerCreds(), Name: "follower-test"})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

// waitNATSAPI waits until the server's micro service answers on nc (the
// server registers it when it starts serving, after it is ready).
func waitNATSAPI(t *testing.T, nc *nats.Conn) {
	t.Helper()
	require.Eventually(t, func() bool {
		// Any answer (even a 401) means the check endpoint is registered.
		_, err := nc.Request(client.CheckSubject, []byte("{}"), 200*time.Millisecond)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "the grantlog NATS service does not answer")
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func userCheck(user, ns, resource string, action uint8) *client.CheckRequest {
	return &client.CheckRequest{Subject: client.Subject{Type: "user", ID: user}, Namespace: ns,
		Resource: resource, Action: perm.Action(action)}
}
