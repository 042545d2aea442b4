package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// bootstrapCreds lists GET /v1/admin/bootstrap-token as seen by c.
func bootstrapCreds(t *testing.T, c *client) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range c.must(http.StatusOK, "GET", "/v1/admin/bootstrap-token", nil)["data"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}

// caughtUp waits until the node behind c has applied rev (a read with
// atLeastRevision, by a credential it accepts).
func caughtUp(t *testing.T, c *client, rev uint64) {
	t.Helper()
	require.Eventually(t, func() bool {
		code, _ := c.do("GET", "/v1/roles?limit=1&atLeastRevision="+strconv.FormatUint(rev, 10), nil)
		return code == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "%s did not reach revision %d", c.base, rev)
}

// waitApplied waits until every node has applied what writer has (replicas
// may read a mirror of the stream, which follows it asynchronously).
func waitApplied(t *testing.T, writer *node, nodes ...*node) {
	t.Helper()
	rev := writer.srv.Store().Applied()
	for _, n := range nodes {
		require.Eventually(t, func() bool { return n.srv.Store().Applied() >= rev }, 10*time.Second, 10*time.Millisecond,
			"%s node did not reach revision %d", n.srv.NodeRole(), rev)
	}
}

func readToken(t *testing.T, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, auth.BootstrapTokenFile))
	require.NoError(t, err)
	return strings.TrimSpace(string(raw))
}

// TestBootstrapCredentialInEventLog: a new stream's bootstrap credential is
// an event-logged credential: its token is written once (0600) and no hash
// file; a replica and a command node with no file of the first node accept
// it; the stream holds its hash, never the token. Rotating it (through the
// command node) revokes it and the tokens it issued, directly and through a
// token it issued, on every node at once; revoking it without replacement
// is refused to a caller that would lose its own credential and allowed to
// another administrator; a restart never brings an old token back from a
// file; --reset-bootstrap-token is the way back in.
func TestBootstrapCredentialInEventLog(t *testing.T) {
	dir0 := t.TempDir()
	n0 := startNode(t, server.Config{DataDir: dir0, NATSListen: "127.0.0.1:0", MaxWait: 2 * time.Second}, "")
	url := n0.srv.NATSURL()
	s0 := n0.c.token
	require.True(t, strings.HasPrefix(s0, auth.BootstrapTokenPrefix))
	fi, err := os.Stat(filepath.Join(dir0, auth.BootstrapTokenFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	assert.NoFileExists(t, filepath.Join(dir0, auth.BootstrapHashFile), "no hash file: the hash is in the event log")

	// Other nodes join with their NATS credential alone.
	rep := startNode(t, server.Config{DataDir: t.TempDir(), NodeRole: server.NodeRoleReplica, NATSURL: url, MaxWait: 2 * time.Second,
		NATSCreds: filepath.Join(dir0, eventlog.ReplicaCredsFile)}, s0)
	cmd := startNode(t, server.Config{DataDir: t.TempDir(), NodeRole: server.NodeRoleCommand, NATSURL: url,
		NATSCreds: filepath.Join(dir0, eventlog.CommandCredsFile)}, s0)
	waitApplied(t, n0, rep, cmd)
	for _, n := range []*node{n0, rep, cmd} {
		n.c.must(http.StatusOK, "GET", "/v1/roles", nil)
	}
	creds := bootstrapCreds(t, rep.c)
	require.Len(t, creds, 1)
	b0 := creds[0]["tokenId"].(string)
	assert.Equal(t, true, creds[0]["live"])
	assert.NoFileExists(t, cmd.srv.Bootstrap.Path, "a command node joining a stream makes no token")

	// Tokens: t1 issued by the bootstrap credential, t2 by t1; an IAM client
	// holding ADMIN:BOOTSTRAP is another administrator.
	perms := []map[string]any{{"resource": "ADMIN:ROLE", "action": 2}}
	t1 := cmd.c.must(http.StatusCreated, "POST", "/v1/namespaces/ops/tokens", map[string]any{"name": "t1",
		"permissions": append(perms, map[string]any{"resource": "NAMESPACE:ops:USER:grantlog-bootstrap-admin:TOKEN", "action": 15})})
	assert.Equal(t, map[string]any{"type": "user", "id": "grantlog-bootstrap-admin"}, t1["owner"])
	t2 := cmd.c.as(t1["token"].(string)).must(http.StatusCreated, "POST", "/v1/namespaces/ops/tokens", map[string]any{"name": "t2", "permissions": perms})
	cl := cmd.c.must(http.StatusCreated, "POST", "/v1/namespaces/ops/clients", map[string]any{"clientName": "ops-admin",
		"permissions": []map[string]any{{"resource": "ADMIN:BOOTSTRAP", "action": 15}, {"resource": "ADMIN:ROLE", "action": 2}}})
	caughtUp(t, rep.c, num(cl["revision"]))
	waitApplied(t, cmd, n0, rep) // every node asked below has the tokens (n0 lagged under -race once)
	tok1, tok2 := t1["token"].(string), t2["token"].(string)
	for _, n := range []*node{n0, rep, cmd} {
		n.c.as(tok1).must(http.StatusOK, "GET", "/v1/roles", nil)
		n.c.as(tok2).must(http.StatusOK, "GET", "/v1/roles", nil)
	}
	admin := func(c *client) *client { return c.basic(cl["clientId"].(string), cl["clientSecret"].(string)) }

	// Who may rotate: ADMIN:BOOTSTRAP Update, on a node that writes.
	assert.Equal(t, "forbidden", rep.c.as(tok1).must(http.StatusForbidden, "GET", "/v1/admin/bootstrap-token", nil)["errorCode"])
	assert.Equal(t, "forbidden", cmd.c.as(tok1).must(http.StatusForbidden, "POST", "/v1/admin/bootstrap-token:rotate", nil)["errorCode"])
	assert.Equal(t, "notACommandNode", rep.c.must(http.StatusNotFound, "POST", "/v1/admin/bootstrap-token:rotate", nil)["errorCode"])

	// Rotate through the command node.
	rot := cmd.c.must(http.StatusCreated, "POST", "/v1/admin/bootstrap-token:rotate?reason=scheduled", nil)
	s1 := rot["token"].(string)
	require.True(t, strings.HasPrefix(s1, auth.BootstrapTokenPrefix))
	assert.Equal(t, []any{b0}, rot["revoked"])
	assert.ElementsMatch(t, []any{t1["tokenId"], t2["tokenId"]}, rot["endedTokens"])
	rev := num(rot["revision"])
	for _, n := range []*node{n0, rep, cmd} {
		caughtUp(t, n.c.as(s1), rev)
		for name, old := range map[string]string{"the old bootstrap token": s0, "t1": tok1, "t2": tok2} {
			code, out := n.c.as(old).do("GET", "/v1/roles", nil)
			assert.Equal(t, http.StatusUnauthorized, code, "%s on %s node: %v", name, n.srv.NodeRole(), out)
		}
		admin(n.c).must(http.StatusOK, "GET", "/v1/roles", nil)
	}
	creds = bootstrapCreds(t, rep.c.as(s1))
	require.Len(t, creds, 2)
	assert.Equal(t, false, creds[0]["live"])
	assert.InDelta(t, float64(rev), creds[0]["revokedRevision"], 0)
	assert.Equal(t, true, creds[1]["live"])
	b1 := creds[1]["tokenId"].(string)

	// The stream holds hashes, never a bootstrap token.
	assertNoSecretInStream(t, n0.srv, secrets{s0, s1})
	h := sha256.Sum256([]byte(s1))
	assert.True(t, streamContains(t, n0.srv, hex.EncodeToString(h[:])), "the new credential's hash is in the log")

	// Revoke without replacement: not by the credential itself...
	out := cmd.c.as(s1).must(http.StatusConflict, "DELETE", "/v1/admin/bootstrap-token", nil)
	assert.Equal(t, "wouldRevokeCaller", out["errorCode"])
	// ...by another administrator.
	out = admin(cmd.c).must(http.StatusOK, "DELETE", "/v1/admin/bootstrap-token?reason=handover", nil)
	assert.Equal(t, b1, out["revoked"])
	for _, n := range []*node{n0, rep, cmd} { // the revocation reached every node
		caughtUp(t, admin(n.c), num(out["revision"]))
	}
	for _, n := range []*node{n0, rep, cmd} {
		n.c.as(s1).must(http.StatusUnauthorized, "GET", "/v1/roles", nil)
	}
	assert.Equal(t, "bootstrapCredentialNotFound", admin(cmd.c).must(http.StatusNotFound, "DELETE", "/v1/admin/bootstrap-token", nil)["errorCode"])

	// A restart of the first node, whose data directory still holds the
	// first token, registers nothing: the stream has had a credential.
	n0.stop(t)
	n0 = startNode(t, server.Config{DataDir: dir0, NATSListen: strings.TrimPrefix(url, "nats://"), MaxWait: 2 * time.Second}, s0)
	n0.c.must(http.StatusUnauthorized, "GET", "/v1/roles", nil)
	assert.Len(t, bootstrapCreds(t, admin(n0.c)), 2)

	// The administrator issues a new one (rotation with nothing to replace).
	rot = admin(cmd.c).must(http.StatusCreated, "POST", "/v1/admin/bootstrap-token:rotate", nil)
	assert.Equal(t, []any{}, rot["revoked"])
	caughtUp(t, rep.c.as(rot["token"].(string)), num(rot["revision"]))

	// Lost it? A node that writes, started with ResetBootstrapToken,
	// replaces it and writes the new token to its data directory.
	cmdDir := t.TempDir()
	reset := startNode(t, server.Config{DataDir: cmdDir, NodeRole: server.NodeRoleCommand, NATSURL: url,
		NATSCreds: filepath.Join(dir0, eventlog.CommandCredsFile), ResetBootstrapToken: true}, "-")
	s3 := readToken(t, cmdDir)
	reset.c.as(s3).must(http.StatusOK, "GET", "/v1/roles", nil)
	reset.c.as(rot["token"].(string)).must(http.StatusUnauthorized, "GET", "/v1/roles", nil)
	creds = bootstrapCreds(t, reset.c.as(s3))
	require.Len(t, creds, 4)
	assert.Equal(t, map[string]any{"type": "user", "id": "grantlog-bootstrap-admin"}, creds[3]["issuer"])
}

// streamContains reports whether some event of the stream contains s.
func streamContains(t *testing.T, srv *server.Server, s string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := srv.JetStream().Stream(ctx, eventlog.DefaultStream)
	require.NoError(t, err)
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err == nil && strings.Contains(string(msg.Data), s) {
			return true
		}
	}
	return false
}

// publishOld appends an event to the stream as a version before the
// bootstrap credential lived in the event log wrote it.
func publishOld(t *testing.T, js jetstream.JetStream, ns, kind, aggregate string, p events.Payload) {
	t.Helper()
	data, err := events.Encode(events.Envelope{
		EventID: "old-" + aggregate, Namespace: ns, AggregateID: aggregate, OccurredAt: time.Now(),
		Actor: events.Actor{Type: events.ActorUser, ID: "grantlog-bootstrap-admin"}, CommandID: "old-" + aggregate,
	}, p)
	require.NoError(t, err)
	msg := nats.NewMsg(events.Subject(events.DefaultSubjectPrefix, ns, kind))
	msg.Data = data
	msg.Header.Set("Grantlog-Event-Type", p.EventType())
	_, err = js.PublishMsg(context.Background(), msg)
	require.NoError(t, err)
}

// TestBootstrapMigratesOldDataDir: a stream written by a version before the
// bootstrap credential lived in the event log (default roles, the bootstrap
// admin's Super Admin assignment, a token minted with the bootstrap token)
// and a command node's data directory holding that version's
// bootstrap-token.sha256. The node registers that hash in the log, once
// (restarts and a second node with the deprecated flag add nothing), so the
// old token keeps working, now also on a replica that has no file; the
// token minted with it too, until the bootstrap credential is rotated.
func TestBootstrapMigratesOldDataDir(t *testing.T) {
	ns := newStandaloneNATS(t)
	nc, err := nats.Connect(ns.url(), nats.UserInfo(natsTestUser, natsTestPassword))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = eventlog.EnsureStream(ctx, js, eventlog.StreamConfig(eventlog.DefaultStream, events.DefaultSubjectPrefix, 1))
	require.NoError(t, err)

	oldSecret, oldToken := "glt_"+strings.Repeat("o", 43), "gltk_"+strings.Repeat("m", 43)
	hashOf := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	publishOld(t, js, events.PlatformNamespace, events.KindRole, "role-super", events.RoleCreated{RoleID: "role-super",
		RoleName: "SuperAdmin", AdminRole: true, IsWildcard: true, Permissions: []events.Permission{{Resource: "*", Action: 15}}})
	publishOld(t, js, "grantlog", events.KindUser, "grantlog-bootstrap-admin", events.UserRoleAssigned{
		UserID: "grantlog-bootstrap-admin", RoleID: "role-super", AssignedNamespaces: []string{}})
	publishOld(t, js, "ops", events.KindToken, "old-token", events.TokenIssued{TokenID: "old-token", Name: "ci",
		Owner:       events.Actor{Type: events.ActorUser, ID: "grantlog-bootstrap-admin"},
		Issuer:      events.Actor{Type: events.ActorUser, ID: "grantlog-bootstrap-admin"},
		Permissions: []events.Permission{{Resource: "ADMIN:ROLE", Action: 2}}, SecretHash: hashOf(oldToken)})

	// The old version's files: the token and its hash.
	cmdDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(cmdDir, auth.BootstrapTokenFile), []byte(oldSecret+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(cmdDir, auth.BootstrapHashFile), []byte(hashOf(oldSecret)+"\n"), 0o600))
	hashFile := filepath.Join(t.TempDir(), auth.BootstrapHashFile)
	require.NoError(t, os.WriteFile(hashFile, []byte(hashOf(oldSecret)+"\n"), 0o600))

	base := server.Config{NATSURL: ns.url(), NATSUser: natsTestUser, NATSPassword: natsTestPassword, MaxWait: 2 * time.Second}
	cmdCfg := base
	cmdCfg.DataDir, cmdCfg.NodeRole = cmdDir, server.NodeRoleCommand
	cmd := startNode(t, cmdCfg, oldSecret)
	repCfg := base
	repCfg.DataDir, repCfg.NodeRole = t.TempDir(), server.NodeRoleReplica
	rep := startNode(t, repCfg, oldSecret)
	waitApplied(t, cmd, rep)
	for _, n := range []*node{cmd, rep} {
		n.c.must(http.StatusOK, "GET", "/v1/roles", nil)
		n.c.as(oldToken).must(http.StatusOK, "GET", "/v1/roles", nil)
	}
	creds := bootstrapCreds(t, rep.c)
	require.Len(t, creds, 1)
	assert.Equal(t, true, creds[0]["live"])

	// Once: a restart, and a second command node given the same hash with
	// the deprecated flag, register nothing more.
	cmd.stop(t)
	cmd = startNode(t, cmdCfg, oldSecret)
	cmd2Cfg := base
	cmd2Cfg.DataDir, cmd2Cfg.NodeRole, cmd2Cfg.BootstrapTokenHashFile = t.TempDir(), server.NodeRoleCommand, hashFile
	cmd2 := startNode(t, cmd2Cfg, oldSecret)
	cmd2.c.must(http.StatusOK, "GET", "/v1/roles", nil)
	assert.Len(t, bootstrapCreds(t, cmd.c), 1)

	// Rotation ends the old token and the token minted with it, everywhere,
	// and the old data directory's files never bring it back.
	rot := cmd.c.must(http.StatusCreated, "POST", "/v1/admin/bootstrap-token:rotate", nil)
	assert.Equal(t, []any{"old-token"}, rot["endedTokens"])
	s1 := rot["token"].(string)
	for _, n := range []*node{cmd, rep, cmd2} {
		caughtUp(t, n.c.as(s1), num(rot["revision"]))
		n.c.must(http.StatusUnauthorized, "GET", "/v1/roles", nil)
		n.c.as(oldToken).must(http.StatusUnauthorized, "GET", "/v1/roles", nil)
	}
	cmd.stop(t)
	cmd = startNode(t, cmdCfg, oldSecret)
	cmd.c.must(http.StatusUnauthorized, "GET", "/v1/roles", nil)
	assert.Len(t, bootstrapCreds(t, cmd.c.as(s1)), 2)
}
