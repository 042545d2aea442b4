package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/edge/natsapi"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/testutil"
)

// node is a server run by a test that may stop it before cleanup.
type node struct {
	srv    *server.Server
	c      *client
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startNode runs a server with cfg (HTTP on a free port, quiet) until stop
// or test cleanup; its client uses token ("": the data directory's
// bootstrap token).
// anyNATSPort gives a node with an embedded NATS server a free port, never
// the default 127.0.0.1:4222, which another server on the machine may hold
// (a test once failed so).
func anyNATSPort(cfg *server.Config) {
	if cfg.NATSURL == "" && cfg.NATSListen == "" {
		cfg.NATSListen = "127.0.0.1:0"
	}
}

func startNode(t *testing.T, cfg server.Config, token string) *node {
	t.Helper()
	cfg.HTTPAddr, cfg.Logger = "127.0.0.1:0", testutil.Quiet
	anyNATSPort(&cfg)
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		require.NoError(t, err)
	}
	if token == "" {
		raw, err := os.ReadFile(filepath.Join(cfg.DataDir, auth.BootstrapTokenFile))
		require.NoError(t, err)
		token = strings.TrimSpace(string(raw))
	}
	n := &node{srv: srv, c: newClient(t, srv.HTTPAddr(), token), cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- srv.Run(ctx) }()
	t.Cleanup(func() { n.stop(t) })
	require.Eventually(t, srv.Ready, 30*time.Second, 10*time.Millisecond, "%s node not ready", cfg.NodeRole)
	return n
}

func (n *node) stop(t *testing.T) {
	n.once.Do(func() {
		n.cancel()
		require.NoError(t, <-n.done)
	})
}

func num(v any) uint64 {
	f, _ := v.(float64)
	return uint64(f)
}

// natsCheck sends a request to a grantlog.v1 subject with the token and
// returns the reply.
func natsCheck(t *testing.T, nc *nats.Conn, subject, token string, body any) *nats.Msg {
	t.Helper()
	data, err := json.Marshal(body)
	require.NoError(t, err)
	msg := nats.NewMsg(subject)
	msg.Data = data
	if token != "" {
		msg.Header.Set(natsapi.AuthorizationHeader, "Bearer "+token)
	}
	reply, err := nc.RequestMsg(msg, 5*time.Second)
	require.NoError(t, err)
	return reply
}

func decodeMap(t *testing.T, data []byte) map[string]any {
	t.Helper()
	out := map[string]any{}
	require.NoError(t, json.Unmarshal(data, &out), "not JSON: %s", data)
	return out
}

// TestCluster: one all node (embedded NATS on 127.0.0.1), two replicas and
// a command node against its NATS. Writes through the command node are
// visible at every replica with atLeastRevision; the NATS API agrees with
// HTTP; the replica NATS user cannot write; a replica that was down
// converges.
func TestCluster(t *testing.T) {
	dir0 := t.TempDir()
	// Every node that answers checks waits at most 300ms for a revision, so
	// that "far ahead" is answered quickly by whichever node NATS picks.
	n0 := startNode(t, server.Config{DataDir: dir0, NATSListen: "127.0.0.1:0", MaxWait: 300 * time.Millisecond}, "")
	all, c0 := n0.srv, n0.c
	url := all.NATSURL()
	require.NotEmpty(t, url)
	replicaCfg := func(dir string) server.Config {
		return server.Config{DataDir: dir, NodeRole: server.NodeRoleReplica, NATSURL: url, MaxWait: 300 * time.Millisecond,
			NATSCreds:      filepath.Join(dir0, eventlog.ReplicaCredsFile),
			StatusInterval: 100 * time.Millisecond}
	}
	r1dir, r2dir := t.TempDir(), t.TempDir()
	r1 := startNode(t, replicaCfg(r1dir), c0.token)
	r2 := startNode(t, replicaCfg(r2dir), c0.token)
	cmd := startNode(t, server.Config{DataDir: t.TempDir(), NodeRole: server.NodeRoleCommand, NATSURL: url,
		NATSCreds: filepath.Join(dir0, eventlog.CommandCredsFile)}, c0.token)
	replicas := []*node{r1, r2}
	// The bootstrap credential is in the log: a node accepts it once it
	// has applied it.
	waitApplied(t, n0, r1, r2, cmd)

	// A client of the NATS API, as a service on NATS would be (the client
	// user, in the clients' account); the replica and command users see
	// the nodes of their own accounts (status, discovery).
	connectAs := func(file string) *nats.Conn {
		nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: url, CredsFile: filepath.Join(dir0, file)})
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		return nc
	}
	nc := connectAs(eventlog.ClientCredsFile)
	rnc, cnc := connectAs(eventlog.ReplicaCredsFile), connectAs(eventlog.CommandCredsFile)
	creds, err := os.ReadFile(filepath.Join(dir0, eventlog.ReplicaCredsFile))
	require.NoError(t, err)
	rc, err := eventlog.ParseCreds(creds)
	require.NoError(t, err)
	status, err := rnc.SubscribeSync(natsapi.StatusSubjectPrefix + "." + r1.srv.NodeName())
	require.NoError(t, err)

	// Write through the command node.
	role := cmd.c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Matchmaker",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:MATCH", "action": 3}}})
	out := cmd.c.must(http.StatusCreated, "POST", "/v1/namespaces/arena/users/p1/roles",
		map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"arena"}})
	rev := num(out["revision"])
	require.Positive(t, rev)

	check := func(user string, action int, atLeast uint64) map[string]any {
		return map[string]any{"subject": map[string]any{"type": "user", "id": user}, "namespace": "arena",
			"resource": "NAMESPACE:arena:MATCH", "action": action, "atLeastRevision": atLeast}
	}
	t.Run("read your writes at every replica", func(t *testing.T) {
		for i, r := range replicas {
			got := r.c.must(http.StatusOK, "POST", "/v1/check", check("p1", 2, rev))
			assert.Equal(t, true, got["allowed"], "replica %d", i)
			assert.GreaterOrEqual(t, num(got["revision"]), rev)
			assert.Equal(t, false, r.c.must(http.StatusOK, "POST", "/v1/check", check("p2", 2, rev))["allowed"])

			code, body := r.c.do("POST", "/v1/check", check("p1", 2, rev+1000))
			assert.Equal(t, http.StatusServiceUnavailable, code)
			assert.Equal(t, "revisionNotYetApplied", body["errorCode"])
			assert.Equal(t, r.srv.Store().Applied(), num(body["revision"]), "the 503 carries the replica's revision")
		}
	})

	t.Run("node roles refuse what they do not serve", func(t *testing.T) {
		code, body := r1.c.do("POST", "/v1/roles", map[string]any{"roleName": "Nope"})
		assert.Equal(t, http.StatusNotFound, code)
		assert.Equal(t, "notACommandNode", body["errorCode"])
		code, body = cmd.c.do("POST", "/v1/check", check("p1", 2, 0))
		assert.Equal(t, http.StatusNotFound, code)
		assert.Equal(t, "notACheckNode", body["errorCode"])
		// Reads work everywhere.
		r1.c.must(http.StatusOK, "GET", "/v1/roles/"+role["roleId"].(string)+"?atLeastRevision="+fmt.Sprint(rev), nil)
		cmd.c.must(http.StatusOK, "GET", "/v1/roles", nil)
	})

	t.Run("status", func(t *testing.T) {
		require.Eventually(t, func() bool {
			st := r1.c.must(http.StatusOK, "GET", "/v1/status", nil)
			return st["role"] == "replica" && num(st["head"]) >= rev && num(st["lag"]) == 0 && num(st["revision"]) >= rev
		}, 5*time.Second, 20*time.Millisecond)
		ready := r2.c.must(http.StatusOK, "GET", "/readyz", nil)
		assert.Equal(t, "replica", ready["role"])
		assert.Equal(t, true, ready["ready"])
		assert.Equal(t, "command", cmd.c.must(http.StatusOK, "GET", "/v1/status", nil)["role"])

		msg, err := status.NextMsg(5 * time.Second)
		require.NoError(t, err)
		st := decodeMap(t, msg.Data)
		assert.Equal(t, "replica", st["role"])
		assert.Equal(t, r1.srv.NodeName(), st["node"])
		assert.Contains(t, st, "lag")
	})

	t.Run("NATS API agrees with HTTP", func(t *testing.T) {
		for _, user := range []string{"p1", "p2"} {
			for _, action := range []int{2, 4} {
				req := check(user, action, rev)
				req["explain"] = true
				viaHTTP := r1.c.must(http.StatusOK, "POST", "/v1/check", req)
				reply := natsCheck(t, nc, natsapi.CheckSubject, c0.token, req)
				require.Empty(t, reply.Header.Get(micro.ErrorCodeHeader), "error: %s", reply.Data)
				viaNATS := decodeMap(t, reply.Data)
				assert.Equal(t, viaHTTP["allowed"], viaNATS["allowed"], "%s %d", user, action)
				assert.Equal(t, viaHTTP["revision"], viaNATS["revision"])
				ex, _ := viaHTTP["explanation"].(map[string]any)
				exN, _ := viaNATS["explanation"].(map[string]any)
				assert.Equal(t, ex["summary"], exN["summary"])
			}
		}

		batch := map[string]any{"atLeastRevision": rev, "checks": []any{
			check("p1", 2, 0), check("p2", 2, 0), check("p1", 8, 0),
			map[string]any{"subject": map[string]any{"type": "robot", "id": "x"}, "namespace": "arena", "resource": "X", "action": 1},
		}}
		reply := natsCheck(t, nc, natsapi.ChecksSubject, c0.token, batch)
		require.Empty(t, reply.Header.Get(micro.ErrorCodeHeader), "error: %s", reply.Data)
		got := decodeMap(t, reply.Data)
		results := got["results"].([]any)
		require.Len(t, results, 4)
		batchRev := num(got["revision"])
		assert.GreaterOrEqual(t, batchRev, rev)
		for i, want := range []bool{true, false, false} {
			res := results[i].(map[string]any)
			assert.Equal(t, want, res["allowed"], "batch item %d", i)
			assert.Equal(t, batchRev, num(res["revision"]), "one revision for the whole batch")
			req := batch["checks"].([]any)[i].(map[string]any)
			assert.Equal(t, r2.c.must(http.StatusOK, "POST", "/v1/check", req)["allowed"], res["allowed"], "batch item %d vs HTTP", i)
		}
		bad := results[3].(map[string]any)
		assert.Equal(t, "invalidSubject", bad["errorCode"])
		code, httpBad := r1.c.do("POST", "/v1/check", batch["checks"].([]any)[3])
		assert.Equal(t, http.StatusBadRequest, code)
		assert.Equal(t, httpBad["errorCode"], bad["errorCode"])

		// Errors: micro errors with the HTTP status and errorCode.
		reply = natsCheck(t, nc, natsapi.CheckSubject, c0.token, check("p1", 2, rev+1000))
		assert.Equal(t, "503", reply.Header.Get(micro.ErrorCodeHeader))
		assert.Equal(t, "revisionNotYetApplied", reply.Header.Get(natsapi.ErrorCodeHeader))
		body := decodeMap(t, reply.Data)
		assert.Equal(t, "revisionNotYetApplied", body["errorCode"])
		assert.GreaterOrEqual(t, num(body["revision"]), rev)

		reply = natsCheck(t, nc, natsapi.CheckSubject, "", check("p1", 2, 0))
		assert.Equal(t, "401", reply.Header.Get(micro.ErrorCodeHeader))
		assert.Equal(t, "unauthorized", reply.Header.Get(natsapi.ErrorCodeHeader))
		reply = natsCheck(t, nc, natsapi.CheckSubject, c0.token, "{")
		assert.Equal(t, "400", reply.Header.Get(micro.ErrorCodeHeader))

		// Discovery: every node serves grantlog: the all node and both
		// replicas with the check endpoints (in the readers' account), the
		// all and command nodes with the command endpoints (in the command
		// account).
		infoSubj, err := micro.ControlSubject(micro.InfoVerb, natsapi.ServiceName, "")
		require.NoError(t, err)
		nodeRoles := map[string]int{}
		for _, nc := range []*nats.Conn{rnc, cnc} {
			inbox := nc.NewRespInbox()
			sub, err := nc.SubscribeSync(inbox)
			require.NoError(t, err)
			require.NoError(t, nc.PublishRequest(infoSubj, inbox, nil))
			for {
				msg, err := sub.NextMsg(500 * time.Millisecond)
				if err != nil {
					break
				}
				var info micro.Info
				require.NoError(t, json.Unmarshal(msg.Data, &info))
				assert.Equal(t, natsapi.Version, info.Version)
				subjects := []string{}
				for _, e := range info.Endpoints {
					subjects = append(subjects, e.Subject)
					assert.Equal(t, micro.DefaultQueueGroup, e.QueueGroup)
				}
				var want []string
				if nc == rnc {
					want = append(want, natsapi.CheckSubject, natsapi.ChecksSubject)
					want = append(want, natsapi.ReadSubjects()...)
					nodeRoles["readers:"+info.Metadata["role"]]++
				} else {
					want = append(want, natsapi.CommandSubjects()...)
					nodeRoles["command:"+info.Metadata["role"]]++
				}
				assert.ElementsMatch(t, want, subjects, "node role %s", info.Metadata["role"])
			}
			require.NoError(t, sub.Unsubscribe())
		}
		assert.Equal(t, map[string]int{"readers:all": 1, "readers:replica": 2, "command:all": 1, "command:command": 1}, nodeRoles)
	})

	t.Run("replica NATS user cannot write", func(t *testing.T) {
		// The server refuses the publish and reports it asynchronously: the
		// request itself gets no answer.
		violations := make(chan error, 8)
		wc, err := eventlog.Connect(eventlog.ConnectConfig{URL: url, User: rc.User, Password: rc.Password,
			Options: []nats.Option{nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err })}})
		require.NoError(t, err)
		defer wc.Close()
		js, err := jetstream.New(wc)
		require.NoError(t, err)
		expectViolation := func(subject string) {
			t.Helper()
			select {
			case err := <-violations:
				require.ErrorIs(t, err, nats.ErrPermissionViolation)
				assert.Contains(t, err.Error(), subject)
			case <-time.After(5 * time.Second):
				t.Fatalf("no permissions violation for %s", subject)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err = js.Publish(ctx, "grantlog.ev.arena.role.forged", []byte(`{}`))
		require.Error(t, err, "the publish must not be acknowledged")
		expectViolation("grantlog.ev.arena.role.forged")

		ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel2()
		require.Error(t, js.DeleteStream(ctx2, eventlog.DefaultStream))
		expectViolation("$JS.API.STREAM.DELETE." + eventlog.DefaultStream)

		ctx3, cancel3 := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel3()
		st, err := all.JetStream().Stream(ctx3, eventlog.DefaultStream)
		require.NoError(t, err, "the stream still exists")
		assert.Equal(t, all.Store().Applied(), st.CachedInfo().State.LastSeq, "nothing was appended")
	})

	t.Run("a replica that was down converges", func(t *testing.T) {
		r2.stop(t)
		var last uint64
		for i := range 10 {
			out := cmd.c.must(http.StatusCreated, "POST", fmt.Sprintf("/v1/namespaces/arena/users/q%d/roles", i),
				map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"arena"}})
			last = num(out["revision"])
		}
		r2 = startNode(t, replicaCfg(r2dir), c0.token)
		got := r2.c.must(http.StatusOK, "POST", "/v1/check", check("q9", 2, last))
		assert.Equal(t, true, got["allowed"])
		for _, n := range []*server.Server{all, r1.srv, r2.srv, cmd.srv} {
			testutil.WaitApplied(t, n.Store(), last)
		}
		want := testutil.Dump(t, all.Store())
		assert.Equal(t, want, testutil.Dump(t, r1.srv.Store()), "replica 1")
		assert.Equal(t, want, testutil.Dump(t, r2.srv.Store()), "restarted replica 2")
		assert.Equal(t, want, testutil.Dump(t, cmd.srv.Store()), "command node")
	})
}
