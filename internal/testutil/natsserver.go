package testutil

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// natsServerBin caches the nats-server binary built for this test binary.
var natsServerBin struct {
	once sync.Once
	path string
	err  error
}

// NATSServerBinary builds the real nats-server at the version go.mod pins
// (the one the embedded server is) and returns its path. The build runs
// once per test binary; Go's build cache makes later runs quick.
func NATSServerBinary(t testing.TB) string {
	t.Helper()
	natsServerBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "grantlog-nats-server-")
		if err != nil {
			natsServerBin.err = err
			return
		}
		path := filepath.Join(dir, "nats-server")
		cmd := exec.Command("go", "build", "-o", path, "github.com/nats-io/nats-server/v2")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			natsServerBin.err = fmt.Errorf("go build nats-server: %w\n%s", err, out.String())
			return
		}
		natsServerBin.path = path
	})
	require.NoError(t, natsServerBin.err)
	return natsServerBin.path
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr, ok := l.Addr().(*net.TCPAddr)
	require.True(t, ok)
	port := addr.Port
	require.NoError(t, l.Close())
	return port
}

// NATSServer is a real nats-server process started by a test.
type NATSServer struct {
	URL  string
	cmd  *exec.Cmd
	logs *SyncBuffer
	done chan struct{}
}

// SyncBuffer is a bytes.Buffer safe for a writer (a process, a server)
// and a test's reads at once.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Logs returns what the server has logged so far.
func (s *NATSServer) Logs() string { return s.logs.String() }

// Kill ends the server at once (SIGKILL), as a crash would.
func (s *NATSServer) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// StartNATSServer runs the real nats-server with the configuration file
// conf and env (NAME=value, for the $NAME references in conf), listening
// on a free port of 127.0.0.1, with JetStream storing under storeDir
// instead of the store_dir conf names. It stops at test cleanup; its log
// is printed when the test failed.
func StartNATSServer(t testing.TB, conf, storeDir string, env ...string) *NATSServer {
	t.Helper()
	return StartNATSServerOpts(t, NATSServerOpts{Conf: conf, StoreDir: storeDir, Env: env})
}

// NATSServerOpts configures StartNATSServerOpts.
type NATSServerOpts struct {
	// Conf is the configuration file; StoreDir replaces its store_dir.
	Conf, StoreDir string
	// Port is the client port (0: a free one).
	Port int
	// Replace maps lines of Conf (after trimming spaces) to their
	// replacement, e.g. "port: 7422" to "port: 17422" in a leafnodes block.
	Replace map[string]string
	// Args are more command line arguments (--routes, --cluster).
	Args []string
	// Env are NAME=value settings for the $NAME references in Conf.
	Env []string
}

// StartNATSServerOpts runs the real nats-server as StartNATSServer does,
// with the options of o.
func StartNATSServerOpts(t testing.TB, o NATSServerOpts) *NATSServer {
	t.Helper()
	conf, storeDir, env := o.Conf, o.StoreDir, o.Env
	bin := NATSServerBinary(t)
	raw, err := os.ReadFile(conf)
	require.NoError(t, err)
	re := regexp.MustCompile(`(?m)^(\s*store_dir:).*$`)
	require.True(t, re.Match(raw), "%s has no store_dir", conf)
	raw = re.ReplaceAll(raw, []byte("${1} "+strconv.Quote(storeDir)))
	for from, to := range o.Replace {
		lre := regexp.MustCompile(`(?m)^(\s*)` + regexp.QuoteMeta(from) + `\s*$`)
		require.True(t, lre.Match(raw), "%s has no line %q", conf, from)
		raw = lre.ReplaceAll(raw, []byte("${1}"+to))
	}
	local := filepath.Join(t.TempDir(), filepath.Base(conf))
	require.NoError(t, os.WriteFile(local, raw, 0o600))
	port := o.Port
	if port == 0 {
		port = FreePort(t)
	}
	logs := &SyncBuffer{}
	cmd := exec.Command(bin, append([]string{"-c", local, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "0"}, o.Args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	s := &NATSServer{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := s.done
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("nats-server log:\n%s", logs.String())
		}
	})
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}, 20*time.Second, 20*time.Millisecond, "nats-server did not listen: %s", logs)
	return s
}
