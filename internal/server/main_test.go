package server_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/testutil"
)

// serveEnv, when set, makes the test binary run a Grantlog server on the
// data directory it names (used by the crash tests to get a real process to
// kill). The server writes its HTTP address to <dir>/http-addr.
const serveEnv = "GRANTLOG_TEST_SERVE_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(serveEnv); dir != "" {
		os.Exit(serveForTest(dir))
	}
	// nats-server's mirror setup waits up to 30s for a consumer-create
	// answer it may already have had, with no way to stop it at shutdown
	// (stream.go, setupMirrorConsumer): the readers' mirror leaves one.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*stream).setupMirrorConsumer.func3"))
}

func serveForTest(dir string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: testutil.Quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tmp := filepath.Join(dir, "http-addr.tmp")
	if err := os.WriteFile(tmp, []byte(srv.HTTPAddr()), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.Rename(tmp, filepath.Join(dir, "http-addr")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
