package server_test

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/testutil"
)

// standaloneNATS is a nats-server with JetStream run by a test, on a fixed
// port and store directory so that it can be stopped and started again.
type standaloneNATS struct {
	t    *testing.T
	port int
	dir  string
	srv  *natsserver.Server
}

const (
	natsTestUser     = "grantlog"
	natsTestPassword = "s3cret-for-tests"
)

func newStandaloneNATS(t *testing.T) *standaloneNATS {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	n := &standaloneNATS{t: t, port: port, dir: t.TempDir()}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *standaloneNATS) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

func (n *standaloneNATS) start() {
	n.t.Helper()
	opts := &natsserver.Options{
		ServerName: "standalone",
		Host:       "127.0.0.1",
		Port:       n.port,
		JetStream:  true,
		StoreDir:   n.dir,
		SyncAlways: true,
		NoSigs:     true,
		NoLog:      true,
		// Full permissions: the test is about restarts, not users.
		Users:      []*natsserver.User{{Username: natsTestUser, Password: natsTestPassword}},
		MaxPayload: 8 << 20,
	}
	var err error
	// The port was just released (by the previous run of this server):
	// retry briefly if it is not free yet.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n.srv, err = natsserver.NewServer(opts)
		require.NoError(n.t, err)
		go n.srv.Start()
		if n.srv.ReadyForConnections(5 * time.Second) {
			return
		}
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		require.True(n.t, time.Now().Before(deadline), "nats-server did not start on port %d", n.port)
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *standaloneNATS) stop() {
	if n.srv == nil {
		return
	}
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	n.srv = nil
}

// TestReplicaSurvivesNATSRestart: a command node and a replica against a
// standalone nats-server. While NATS is down the replica keeps answering
// checks from its index at the last revision; when NATS comes back on the
// same port and store, both nodes reconnect, writes go through again and
// the replica converges to the command node's index.
func TestReplicaSurvivesNATSRestart(t *testing.T) {
	ns := newStandaloneNATS(t)

	base := server.Config{NATSURL: ns.url(), NATSUser: natsTestUser, NATSPassword: natsTestPassword,
		MaxWait: 300 * time.Millisecond, ApplyWait: 2 * time.Second, StatusInterval: 100 * time.Millisecond}
	cmdCfg := base
	cmdCfg.DataDir, cmdCfg.NodeRole = t.TempDir(), server.NodeRoleCommand
	// The command node creates the stream and its bootstrap credential
	// (no role all node here); the replica reads it from the event log.
	cmd := startNode(t, cmdCfg, "")
	token := cmd.c.token
	repCfg := base
	repCfg.DataDir, repCfg.NodeRole = t.TempDir(), server.NodeRoleReplica
	rep := startNode(t, repCfg, token)

	role := cmd.c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Matchmaker",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:MATCH", "action": 3}}})
	assign := func(user string) (int, map[string]any) {
		return cmd.c.do("POST", "/v1/namespaces/arena/users/"+user+"/roles",
			map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"arena"}})
	}
	check := func(user string, atLeast uint64) map[string]any {
		return map[string]any{"subject": map[string]any{"type": "user", "id": user}, "namespace": "arena",
			"resource": "NAMESPACE:arena:MATCH", "action": 2, "atLeastRevision": atLeast}
	}
	code, out := assign("p1")
	require.Equal(t, http.StatusCreated, code, "%v", out)
	before := num(out["revision"])
	got := rep.c.must(http.StatusOK, "POST", "/v1/check", check("p1", before))
	require.Equal(t, true, got["allowed"])

	// NATS goes away.
	ns.stop()
	down := time.Now()
	// The replica keeps answering from its index at the last revision.
	for range 3 {
		got = rep.c.must(http.StatusOK, "POST", "/v1/check", check("p1", before))
		assert.Equal(t, true, got["allowed"])
		assert.Equal(t, before, num(got["revision"]))
		time.Sleep(100 * time.Millisecond)
	}
	st := rep.c.must(http.StatusOK, "GET", "/v1/status", nil)
	assert.Equal(t, before, num(st["revision"]), "status while NATS is down: %v", st)
	// A write cannot be acknowledged without NATS.
	downCode, out := assign("p-down")
	assert.NotEqual(t, http.StatusCreated, downCode, "a write was acknowledged while NATS was down: %v", out)
	t.Logf("NATS down for %s; a write while down answered %d %v", time.Since(down).Round(time.Millisecond), downCode, out["errorCode"])

	// NATS comes back on the same port and store.
	ns.start()
	back := time.Now()
	var first uint64
	for {
		code, out = assign("p2")
		if code == http.StatusCreated {
			first = num(out["revision"])
			break
		}
		require.Less(t, time.Since(back), 15*time.Second, "the command node did not get writes through after NATS came back: %d %v", code, out)
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("first write acknowledged %s after NATS came back (revision %d)", time.Since(back).Round(time.Millisecond), first)
	var last uint64
	for i := range 5 {
		code, out = assign(fmt.Sprintf("q%d", i))
		require.Equal(t, http.StatusCreated, code, "%v", out)
		last = num(out["revision"])
	}
	require.Greater(t, last, before)

	// The replica converges: read-your-writes with atLeastRevision, then
	// identical indexes.
	require.Eventually(t, func() bool {
		code, got := rep.c.do("POST", "/v1/check", check("q4", last))
		allowed, _ := got["allowed"].(bool)
		return code == http.StatusOK && allowed
	}, 10*time.Second, 50*time.Millisecond, "replica stuck at revision %d, want %d", rep.srv.Store().Applied(), last)
	t.Logf("replica caught up %s after NATS came back", time.Since(back).Round(time.Millisecond))
	assert.Equal(t, true, rep.c.must(http.StatusOK, "POST", "/v1/check", check("p2", first))["allowed"])
	testutil.WaitApplied(t, cmd.srv.Store(), last)
	// The write refused while NATS was down sat in the client's reconnect
	// buffer: it may have been appended once NATS came back (a timeout
	// means "outcome unknown"). Either way both nodes agree.
	t.Logf("write answered %d while NATS was down applied afterwards: %v", downCode, rep.c.allowed("p-down", "arena", "NAMESPACE:arena:MATCH", 2))
	assert.Equal(t, testutil.Dump(t, cmd.srv.Store()), testutil.Dump(t, rep.srv.Store()), "replica and command node indexes")
	require.Eventually(t, func() bool {
		st := rep.c.must(http.StatusOK, "GET", "/readyz", nil)
		ready, _ := st["ready"].(bool)
		return ready
	}, 5*time.Second, 50*time.Millisecond, "replica ready again")

	// Stop the nodes before the NATS server (cleanup runs in reverse order
	// of registration: nodes first, then NATS).
	rep.stop(t)
	cmd.stop(t)
}
