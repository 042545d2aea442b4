package soak_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// buildGrantlog builds cmd/grantlog of this tree into dir and returns the
// binary's path: the soak test runs the real `grantlog serve`.
func buildGrantlog(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "grantlog")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/grantlog/grantlog/cmd/grantlog")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), "go build cmd/grantlog: %s", out.String())
	return bin
}

// proc is one `grantlog serve` process that the soak kills and restarts:
// the same flags, data directory and ports on every start.
type proc struct {
	name    string
	bin     string
	args    []string
	dataDir string
	http    string // HOST:PORT
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	killing bool
	starts  int
	// unexpected records exits the soak did not cause.
	unexpected []string
}

func (p *proc) base() string { return "http://" + p.http }

// start runs the process once more; its output is appended to logPath.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s is already running", p.name)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	p.starts++
	fmt.Fprintf(logf, "==== soak: start %d of %s at %s\n", p.starts, p.name, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, append([]string{"serve"}, p.args...)...)
	cmd.Env = append(os.Environ(), "GRANTLOG_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.killing = cmd, done, false
	go func() {
		werr := cmd.Wait()
		_ = logf.Close()
		p.mu.Lock()
		if !p.killing {
			how := fmt.Sprint(werr)
			if werr == nil {
				// serve exits 0 only after a graceful stop (SIGTERM or
				// SIGINT), which the soak never sends during the load.
				how = "status 0, a graceful stop: a SIGTERM or SIGINT from outside the soak?"
			}
			p.unexpected = append(p.unexpected, fmt.Sprintf("%s (start %d) exited by itself: %s (log %s)", p.name, p.starts, how, p.logPath))
		}
		if p.cmd == cmd {
			p.cmd = nil
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// running reports whether the process is up (started and not exited).
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// signal sends sig (SIGKILL or SIGTERM) and waits up to wait for the exit;
// after that it kills. A process that is not running is left alone.
func (p *proc) signal(sig syscall.Signal, wait time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if cmd == nil {
		p.mu.Unlock()
		return nil
	}
	p.killing = true
	p.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(wait):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s did not exit within %v of %v; killed", p.name, wait, sig)
	}
}

func (p *proc) kill() error { return p.signal(syscall.SIGKILL, 10*time.Second) }

// waitReady polls /readyz until it answers 200, up to timeout.
func (p *proc) waitReady(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	hc := &http.Client{Timeout: time.Second}
	for time.Since(start) < timeout {
		if !p.running() {
			p.mu.Lock()
			why := strings.Join(p.unexpected, "; ")
			p.mu.Unlock()
			return time.Since(start), fmt.Errorf("%s is not running (log %s): %s", p.name, p.logPath, why)
		}
		resp, err := hc.Get(p.base() + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return time.Since(start), fmt.Errorf("%s not ready within %v (log %s)", p.name, timeout, p.logPath)
}

// nodeStatus is what GET /v1/status answers.
type nodeStatus struct {
	Role     string `json:"role"`
	Revision uint64 `json:"revision"`
	Head     uint64 `json:"head"`
	Lag      uint64 `json:"lag"`
}

func (p *proc) status() (nodeStatus, error) {
	var st nodeStatus
	hc := &http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get(p.base() + "/v1/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s: GET /v1/status: %s", p.name, resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// waitRevision waits until the node has applied rev.
func (p *proc) waitRevision(rev uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last nodeStatus
	var err error
	for time.Now().Before(deadline) {
		last, err = p.status()
		if err == nil && last.Revision >= rev {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("%s did not apply revision %d within %v: %w", p.name, rev, timeout, err)
	}
	return fmt.Errorf("%s did not apply revision %d within %v (at %d)", p.name, rev, timeout, last.Revision)
}
