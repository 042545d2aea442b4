package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
)

// TestEventsAppendedWhileDown: events stored while the server's projector
// was not running (appended, not projected) are applied exactly once when
// it starts again, and its index equals one built by another node.
func TestEventsAppendedWhileDown(t *testing.T) {
	dir := t.TempDir()
	var roleID string
	t.Run("first run", func(t *testing.T) {
		_, c := startServer(t, dir)
		out := c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Item",
			"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:ITEM", "action": 3}}})
		roleID = out["roleId"].(string)
		c.must(http.StatusCreated, "POST", "/v1/namespaces/g1/users/u1/roles", map[string]any{"roleId": roleID, "assignedNamespaces": []string{"g1"}})
	})

	// While the server is down, another command node appends to its stream.
	var want map[string]string
	var head uint64
	t.Run("another node writes", func(t *testing.T) {
		log := testutil.StartLog(t, dir)
		other := testutil.StartNode(t, log, t.TempDir())
		ctx := context.Background()
		testutil.WaitApplied(t, other.Store, 2)
		for i := range 20 {
			_, err := other.Commands.AssignRole(ctx, testutil.Root(), "g2", fmt.Sprintf("p%d", i), roleID, []string{"g2"})
			require.NoError(t, err)
		}
		_, err := other.Commands.ChangePermissions(ctx, testutil.Root(), roleID, command.AddPermissions,
			[]perm.Permission{{Resource: "NAMESPACE:{namespace}:ITEM", Action: perm.Update}})
		require.NoError(t, err)
		head = other.Store.Applied()
		want = testutil.Dump(t, other.Store)
		require.NoError(t, other.Stop())
	})

	t.Run("restart catches up", func(t *testing.T) {
		srv, c := startServer(t, dir)
		assert.Equal(t, head, srv.Store().Applied())
		assert.Equal(t, want, testutil.Dump(t, srv.Store()))
		assert.True(t, c.allowed("p7", "g2", "NAMESPACE:g2:ITEM", 4))
		assert.True(t, c.allowed("u1", "g1", "NAMESPACE:g1:ITEM", 6))
		assert.False(t, c.allowed("u1", "g2", "NAMESPACE:g2:ITEM", 2))
	})
}

// process is a Grantlog server running as a child process (this test
// binary, re-executed with serveEnv).
type process struct {
	cmd  *exec.Cmd
	addr string
}

func startProcess(t *testing.T, dir string) *process {
	t.Helper()
	_ = os.Remove(filepath.Join(dir, "http-addr"))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveEnv+"="+dir)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd}
	t.Cleanup(func() { p.kill() })
	require.Eventually(t, func() bool {
		raw, err := os.ReadFile(filepath.Join(dir, "http-addr"))
		if err != nil {
			return false
		}
		p.addr = string(raw)
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "server process did not become ready")
	return p
}

func (p *process) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

func (p *process) stop(t *testing.T) {
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.cmd.Wait())
}

// TestKillDuringWrites kills the server (SIGKILL) while writers are busy,
// restarts it, and requires that every acknowledged write is there, that
// the index is at the stream head, and that it equals an index rebuilt by
// replaying the stream from zero (nothing lost, nothing applied twice).
func TestKillDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
	dir := t.TempDir()
	p := startProcess(t, dir)
	token, err := os.ReadFile(filepath.Join(dir, auth.BootstrapTokenFile))
	require.NoError(t, err)
	c := newClient(t, p.addr, strings.TrimSpace(string(token)))
	out := c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Crash",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:USER:{userId}:SAVE", "action": 15}}})
	roleID := out["roleId"].(string)

	var (
		mu    sync.Mutex
		acked []string // "ns/user" whose assignment was acknowledged
		n     atomic.Int64
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ns, user := fmt.Sprintf("ns%d", w%2), fmt.Sprintf("w%d-%d", w, i)
				body := fmt.Sprintf(`{"roleId":%q,"assignedNamespaces":[%q]}`, roleID, ns)
				req, _ := http.NewRequest("POST", c.base+"/v1/namespaces/"+ns+"/users/"+user+"/roles", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+c.token)
				resp, err := hc.Do(req)
				if err != nil {
					return // the server is gone
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					mu.Lock()
					acked = append(acked, ns+"/"+user)
					mu.Unlock()
					n.Add(1)
				}
			}
		}()
	}
	require.Eventually(t, func() bool { return n.Load() >= 60 }, 30*time.Second, 5*time.Millisecond)
	p.kill()
	close(stop)
	wg.Wait()
	t.Logf("%d assignments acknowledged before SIGKILL", len(acked))

	p = startProcess(t, dir)
	c = newClient(t, p.addr, c.token)
	for _, a := range acked {
		ns, user, _ := strings.Cut(a, "/")
		require.True(t, c.allowed(user, ns, "NAMESPACE:"+ns+":USER:"+user+":SAVE", 15), "acknowledged assignment %s lost", a)
	}
	p.stop(t)

	// Replay the stream from zero into a fresh index and compare.
	log := testutil.StartLog(t, dir)
	fresh := testutil.StartNode(t, log, t.TempDir())
	info, err := log.Stream.Info(context.Background())
	require.NoError(t, err)
	testutil.WaitApplied(t, fresh.Store, info.State.LastSeq)
	want := testutil.Dump(t, fresh.Store)
	require.NoError(t, fresh.Stop())
	st, err := index.Open(index.Options{Dir: filepath.Join(dir, "index"), Logger: testutil.Quiet})
	require.NoError(t, err)
	defer st.Close()
	assert.Equal(t, info.State.LastSeq, st.Applied(), "the restarted server's index is at the stream head")
	assert.Equal(t, want, testutil.Dump(t, st), "the restarted server's index equals a replay from zero")
}
