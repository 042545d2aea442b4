package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/testutil"
)

var requestID = regexp.MustCompile(`"requestId":"[^"]*"`)

// backupNode is a running node on a data directory.
type backupNode struct {
	srv *server.Server
	url string
}

func startNodeAt(t *testing.T, dir string) *backupNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: testutil.Quiet})
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
	require.Eventually(t, srv.Ready, 20*time.Second, 10*time.Millisecond)
	return &backupNode{srv: srv, url: "http://" + srv.HTTPAddr()}
}

// call sends an HTTP request with the Authorization header authz and
// returns the status and body.
func (n *backupNode) call(t *testing.T, authz, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, n.url+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", authz)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	// Each answer has its own request id.
	return resp.StatusCode, requestID.ReplaceAllString(string(raw), `"requestId":"…"`)
}

// must sends a request that must succeed and returns the decoded answer.
func (n *backupNode) must(t *testing.T, authz, method, path, body string) map[string]any {
	t.Helper()
	code, raw := n.call(t, authz, method, path, body)
	require.Less(t, code, 300, "%s %s: %s", method, path, raw)
	var out map[string]any
	if raw != "" {
		require.NoError(t, json.Unmarshal([]byte(raw), &out), raw)
	}
	return out
}

// TestBackupRestore backs up a running node with state in several
// namespaces, restores it into a new data directory, and compares the new
// node's answers, reads at the same revision and audit chains with the
// old node's; a tampered backup and the client credential are refused.
func TestBackupRestore(t *testing.T) {
	ctx := context.Background()
	dirA := t.TempDir()
	a := startNodeAt(t, dirA)
	tok, err := os.ReadFile(filepath.Join(dirA, auth.BootstrapTokenFile))
	require.NoError(t, err)
	root := "Bearer " + strings.TrimSpace(string(tok))

	// State: namespaces, roles (one deleted), assignments, a client, tokens.
	a.must(t, root, "POST", "/v1/namespaces", `{"namespace": "studio1"}`)
	a.must(t, root, "POST", "/v1/namespaces", `{"namespace": "racer", "parent": "studio1"}`)
	role := a.must(t, root, "POST", "/v1/roles", `{"roleName": "OrderManager",
	  "permissions": [{"resource": "NAMESPACE:{namespace}:USER:{userId}:ORDER", "action": 6}]}`)["roleId"].(string)
	gone := a.must(t, root, "POST", "/v1/roles", `{"roleName": "Temp",
	  "permissions": [{"resource": "NAMESPACE:{namespace}:SHOP", "action": 2}]}`)["roleId"].(string)
	a.must(t, root, "POST", "/v1/namespaces/foo/users/888/roles", `{"roleId": "`+role+`", "assignedNamespaces": ["foo", "baz"]}`)
	a.must(t, root, "POST", "/v1/namespaces/foo/users/777/roles", `{"roleId": "`+gone+`", "assignedNamespaces": ["foo"]}`)
	a.must(t, root, "DELETE", "/v1/roles/"+gone, "")
	cl := a.must(t, root, "POST", "/v1/namespaces/racer/clients", `{"clientName": "matchmaker",
	  "permissions": [{"resource": "NAMESPACE:{namespace}:MATCH", "action": 15}, {"resource": "ADMIN:NAMESPACE:racer:PERMISSION:CHECK", "action": 2}]}`)
	clientID := cl["clientId"].(string)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"+cl["clientSecret"].(string)))
	userTok := a.must(t, root, "POST", "/v1/namespaces/foo/tokens", `{"name": "orders",
	  "owner": {"type": "user", "id": "888"}, "permissions": [{"resource": "NAMESPACE:foo:USER:888:ORDER", "action": 2}]}`)["token"].(string)
	checker := "Bearer " + a.must(t, root, "POST", "/v1/namespaces/foo/tokens", `{"name": "checker",
	  "permissions": [{"resource": "ADMIN:NAMESPACE:foo:PERMISSION:CHECK", "action": 2}]}`)["token"].(string)
	// A checkpoint, then more events: the restored node starts from the
	// checkpoint and replays the tail.
	snap := a.must(t, root, "POST", "/v1/admin/snapshots", "")
	a.must(t, root, "POST", "/v1/namespaces/racer/users/999/roles", `{"roleId": "`+role+`", "assignedNamespaces": ["racer"]}`)
	head := uint64(a.must(t, root, "POST", "/v1/namespaces/foo/users/555/roles", `{"roleId": "`+role+`", "assignedNamespaces": ["foo"]}`)["revision"].(float64))

	// Backup with the client or replica credential: refused, nothing written.
	natsURL := a.srv.NATSURL()
	e := newCLIEnv(t)
	passFile := filepath.Join(t.TempDir(), "pass")
	require.NoError(t, os.WriteFile(passFile, []byte("correct horse battery staple\n"), 0o600))
	for _, creds := range []string{eventlog.ClientCredsFile, eventlog.ReplicaCredsFile} {
		to := filepath.Join(t.TempDir(), "refused")
		code, _, errOut := e.run(nil, "backup", "--to", to, "--nats-url", natsURL, "--nats-creds", filepath.Join(dirA, creds), "--passphrase-file", passFile)
		require.Equal(t, exitRefused, code, errOut)
		require.Contains(t, errOut, "this NATS credential cannot read the event stream")
		require.NoDirExists(t, to)
	}

	// Backup with the command credential.
	backupDir := filepath.Join(t.TempDir(), "backup")
	code, out, errOut := e.run(nil, "backup", "--to", backupDir, "--nats-url", natsURL, "--data-dir", dirA, "--passphrase-file", passFile, "-o", "json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "backup GRANTLOG (")
	var m eventlog.BackupManifest
	require.NoError(t, json.Unmarshal([]byte(out), &m), out)
	require.Equal(t, head, m.LastRevision)
	require.Equal(t, uint64(snap["revision"].(float64)), m.CheckpointRevision)

	// A tampered backup: refused, nothing restored.
	tampered := t.TempDir()
	entries, err := os.ReadDir(backupDir)
	require.NoError(t, err)
	for _, ent := range entries {
		raw, err := os.ReadFile(filepath.Join(backupDir, ent.Name()))
		require.NoError(t, err)
		if ent.Name() == "index-snapshots.snapshot" {
			raw[len(raw)-10] ^= 0x20
		}
		require.NoError(t, os.WriteFile(filepath.Join(tampered, ent.Name()), raw, 0o600))
	}
	dirB := filepath.Join(t.TempDir(), "restored")
	code, _, errOut = e.run(nil, "restore", "--from", tampered, "--data-dir", dirB, "--passphrase-file", passFile)
	require.Equal(t, exitRefused, code, errOut)
	require.Contains(t, errOut, "index-snapshots.snapshot")
	require.Contains(t, errOut, "nothing was restored")
	require.NoDirExists(t, dirB)

	// Restore into a new data directory and serve it.
	code, _, errOut = e.run(nil, "restore", "--from", backupDir, "--data-dir", dirB, "--passphrase-file", passFile)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "restore GRANTLOG (")
	b := startNodeAt(t, dirB)
	require.Equal(t, uint64(snap["revision"].(float64)), b.srv.RestoredFrom(), "the index starts from the backup's checkpoint")

	// Identical answers, at the same revision.
	checks := []struct{ authz, body string }{
		{root, `{"subject": {"type": "user", "id": "888"}, "namespace": "foo", "resource": "NAMESPACE:baz:USER:888:ORDER", "action": 2}`},
		{root, `{"subject": {"type": "user", "id": "888"}, "namespace": "foo", "resource": "NAMESPACE:bar:USER:888:ORDER", "action": 2}`},
		{root, `{"subject": {"type": "user", "id": "777"}, "namespace": "foo", "resource": "NAMESPACE:foo:SHOP", "action": 2}`},
		{root, `{"subject": {"type": "user", "id": "999"}, "namespace": "racer", "resource": "NAMESPACE:racer:USER:999:ORDER", "action": 4}`},
		{root, `{"subject": {"type": "client", "id": "` + clientID + `"}, "namespace": "racer", "resource": "NAMESPACE:racer:MATCH", "action": 1}`},
		{root, `{"subject": {"type": "token", "token": "` + userTok + `"}, "namespace": "foo", "resource": "NAMESPACE:foo:USER:888:ORDER", "action": 2}`},
		{root, `{"subject": {"type": "token", "token": "` + userTok + `"}, "namespace": "foo", "resource": "NAMESPACE:foo:USER:888:ORDER", "action": 4}`},
		{checker, `{"subject": {"type": "user", "id": "555"}, "namespace": "foo", "resource": "NAMESPACE:foo:USER:555:ORDER", "action": 2}`},
		{checker, `{"subject": {"type": "user", "id": "999"}, "namespace": "racer", "resource": "NAMESPACE:racer:USER:999:ORDER", "action": 2}`},
		{basic, `{"subject": {"type": "user", "id": "999"}, "namespace": "racer", "resource": "NAMESPACE:racer:USER:999:ORDER", "action": 2}`},
		{basic, `{"subject": {"type": "user", "id": "888"}, "namespace": "foo", "resource": "NAMESPACE:foo:USER:888:ORDER", "action": 2}`},
	}
	allowed := 0
	for _, c := range checks {
		body := strings.TrimSuffix(c.body, "}") + fmt.Sprintf(`, "atLeastRevision": %d}`, head)
		ca, ra := a.call(t, c.authz, "POST", "/v1/check", body)
		cb, rb := b.call(t, c.authz, "POST", "/v1/check", body)
		require.Equal(t, ca, cb, c.body)
		require.Equal(t, ra, rb, c.body)
		if strings.Contains(ra, `"allowed":true`) {
			allowed++
		}
	}
	require.Equal(t, 6, allowed, "the checks above mix allowed, denied and refused answers")
	reads := []string{"/v1/roles", "/v1/roles/" + role, "/v1/roles/" + gone, "/v1/roles/" + role + "/members",
		"/v1/namespaces", "/v1/namespaces/foo/users/888/roles", "/v1/namespaces/foo/users/777/roles",
		"/v1/namespaces/racer/clients", "/v1/namespaces/foo/tokens", "/v1/namespaces/racer/holders?resource=NAMESPACE:racer:MATCH&action=1",
		fmt.Sprintf("/v1/audit?limit=1000&atLeastRevision=%d", head)}
	for _, path := range reads {
		ca, ra := a.call(t, root, "GET", path, "")
		cb, rb := b.call(t, root, "GET", path, "")
		require.Equal(t, ca, cb, path)
		require.Equal(t, ra, rb, path)
	}
	status := b.must(t, root, "GET", "/v1/status", "")
	require.EqualValues(t, head, status["revision"], "the restored node's head is the backup's")

	// Identical audit hash chains, and they verify on the restored node.
	export := func(n *backupNode) string {
		var o, eo bytes.Buffer
		code := run(ctx, []string{"audit", "export", "--url", n.url, "--token-file", filepath.Join(dirA, auth.BootstrapTokenFile)}, &o, &eo)
		require.Equal(t, 0, code, eo.String())
		return o.String()
	}
	exA := export(a)
	require.NotEmpty(t, exA)
	require.Equal(t, exA, export(b))
	var vo, ve bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"audit", "verify", "--url", b.url, "--token-file", filepath.Join(dirA, auth.BootstrapTokenFile)}, &vo, &ve), ve.String())

	// The restored node writes on: its signing key is the log's.
	after := b.must(t, root, "POST", "/v1/namespaces/foo/users/556/roles", `{"roleId": "`+role+`", "assignedNamespaces": ["foo"]}`)
	require.EqualValues(t, head+1, after["revision"])
}
