package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/edge/natsapi"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// natsRequest sends payload to subject with an Authorization value ("":
// none) and returns the reply.
func natsRequest(t *testing.T, nc *nats.Conn, subject, authorization string, payload any) *nats.Msg {
	t.Helper()
	data, err := json.Marshal(payload)
	require.NoError(t, err)
	msg := nats.NewMsg(subject)
	msg.Data = data
	if authorization != "" {
		msg.Header.Set(natsapi.AuthorizationHeader, authorization)
	}
	reply, err := nc.RequestMsg(msg, 10*time.Second)
	require.NoError(t, err)
	return reply
}

// TestLogsNeverHoldSecrets runs a node with JSON logs at debug through
// every way a secret travels (the bootstrap token, an issued token used as
// a credential and as a check's subject, an IAM client's Basic
// credentials, a rotated bootstrap token, wrong credentials, NATS requests
// with Authorization headers on connections authenticated by the creds
// files' passwords), then requires that every log line is JSON, that each
// request has its access log line, and that no secret appears anywhere in
// the log.
func TestLogsNeverHoldSecrets(t *testing.T) {
	dir := t.TempDir()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: logger})
	if err != nil {
		cancel()
		require.NoError(t, err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done)
		}
	}
	t.Cleanup(stop)
	require.Eventually(t, srv.Ready, 10*time.Second, 10*time.Millisecond)
	raw, err := os.ReadFile(filepath.Join(dir, auth.BootstrapTokenFile))
	require.NoError(t, err)
	bootstrap := strings.TrimSpace(string(raw))
	root := newClient(t, srv.HTTPAddr(), bootstrap)
	secrets := map[string]string{"bootstrap token": bootstrap}

	// HTTP: a role, a token, an IAM client; each credential used.
	role := root.mustWith(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "LogReader",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:THING", "action": 2}}},
		map[string]string{"X-Request-Id": "req-role-create"})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/logns/users/alice/roles",
		map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"logns"}})
	tok := root.must(http.StatusCreated, "POST", "/v1/namespaces/logns/tokens", map[string]any{"name": "logtok",
		"permissions": []map[string]any{{"resource": "ADMIN:NAMESPACE:logns:PERMISSION:CHECK", "action": 2}}})
	token, _ := tok["token"].(string)
	require.NotEmpty(t, token, "token.issue answers the token: %v", tok)
	secrets["issued token"] = token
	cl := root.must(http.StatusCreated, "POST", "/v1/namespaces/logns/clients", map[string]any{"clientName": "logclient",
		"permissions": []map[string]any{{"resource": "ADMIN:ROLE", "action": 2}}})
	clientSecret, _ := cl["clientSecret"].(string)
	require.NotEmpty(t, clientSecret, "client.create answers the secret: %v", cl)
	secrets["client secret"] = clientSecret
	basic := base64.StdEncoding.EncodeToString([]byte(cl["clientId"].(string) + ":" + clientSecret))
	secrets["client Basic credentials"] = basic

	asToken := newClient(t, srv.HTTPAddr(), token)
	asToken.must(http.StatusOK, "POST", "/v1/check", map[string]any{"subject": map[string]any{"type": "user", "id": "alice"},
		"namespace": "logns", "resource": "NAMESPACE:logns:THING", "action": 2})
	asClient := newClient(t, srv.HTTPAddr(), "")
	asClient.basicAuth = basic
	asClient.must(http.StatusOK, "GET", "/v1/roles", nil)
	// The token as a check's subject, allowed and refused.
	root.must(http.StatusOK, "POST", "/v1/check", map[string]any{"subject": map[string]any{"type": "token", "token": token},
		"namespace": "logns", "resource": "ADMIN:NAMESPACE:logns:PERMISSION:CHECK", "action": 2})
	root.must(http.StatusOK, "POST", "/v1/checks", map[string]any{"checks": []map[string]any{
		{"subject": map[string]any{"type": "token", "token": token}, "namespace": "logns", "resource": "NAMESPACE:logns:THING", "action": 2},
		{"subject": map[string]any{"type": "token", "token": "gltk_" + strings.Repeat("x", 40)}, "namespace": "logns", "resource": "NAMESPACE:logns:THING", "action": 2},
	}})
	// Wrong credentials: refused, and not logged either.
	wrong := "glt_" + strings.Repeat("W", 43)
	secrets["wrong bearer token"] = wrong
	newClient(t, srv.HTTPAddr(), wrong).must(http.StatusUnauthorized, "GET", "/v1/roles", nil)
	wrongBasic := base64.StdEncoding.EncodeToString([]byte(cl["clientId"].(string) + ":not-the-secret-" + strings.Repeat("z", 20)))
	secrets["wrong Basic credentials"] = wrongBasic
	bad := newClient(t, srv.HTTPAddr(), "")
	bad.basicAuth = wrongBasic
	bad.must(http.StatusUnauthorized, "GET", "/v1/roles", nil)

	// NATS, on a connection authenticated with the client creds file.
	creds := readCreds(t, dir)
	for user, c := range creds {
		require.NotEmpty(t, c.Password)
		secrets["NATS password of "+user] = c.Password
	}
	nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: srv.NATSURL(), CredsFile: filepath.Join(dir, eventlog.ClientCredsFile)})
	require.NoError(t, err)
	defer nc.Close()
	mustCmd(t, nc, "role.create", bootstrap, "req-nats-role", map[string]any{"roleName": "NatsLogRole"})
	natsRequest(t, nc, natsapi.CheckSubject, "Bearer "+token, map[string]any{"subject": map[string]any{"type": "token", "token": token},
		"namespace": "logns", "resource": "ADMIN:NAMESPACE:logns:PERMISSION:CHECK", "action": 2})
	natsRequest(t, nc, natsapi.ChecksSubject, "Bearer "+bootstrap, map[string]any{"checks": []map[string]any{
		{"subject": map[string]any{"type": "token", "token": token}, "namespace": "logns", "resource": "NAMESPACE:logns:THING", "action": 2}}})
	natsRequest(t, nc, natsapi.ReadSubjectPrefix+".role.list", "Basic "+basic, map[string]any{})
	reply := natsRequest(t, nc, natsapi.ReadSubjectPrefix+".role.list", "Bearer "+wrong, map[string]any{})
	assert.Equal(t, "unauthorized", reply.Header.Get(natsapi.ErrorCodeHeader))
	reply = natsRequest(t, nc, natsapi.CheckSubject, "Basic "+wrongBasic, map[string]any{})
	assert.Equal(t, "unauthorized", reply.Header.Get(natsapi.ErrorCodeHeader))

	// The bootstrap token rotated: the new one is a secret too.
	rot := root.must(http.StatusCreated, "POST", "/v1/admin/bootstrap-token:rotate", nil)
	newBootstrap, _ := rot["token"].(string)
	require.NotEmpty(t, newBootstrap, "rotate answers the new token: %v", rot)
	secrets["rotated bootstrap token"] = newBootstrap
	newClient(t, srv.HTTPAddr(), newBootstrap).must(http.StatusOK, "GET", "/v1/roles", nil)

	stop()
	out := logs.String()
	for what, secret := range secrets {
		require.NotEmpty(t, secret, what)
		assert.NotContains(t, out, secret, "the log holds the %s", what)
	}

	// Every line is one JSON object; each request has its access line.
	type line struct {
		Level, Msg, Transport, RequestID, Operation, ErrorCode, ActorType, ActorID string
		Status                                                                     int
		DurationMs                                                                 *float64
	}
	var access []line
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l line
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), "not JSON: %s", sc.Text())
		if l.Msg == "request" {
			require.NotNil(t, l.DurationMs, "%s", sc.Text())
			require.NotEmpty(t, l.Operation, "%s", sc.Text())
			require.NotZero(t, l.Status, "%s", sc.Text())
			access = append(access, l)
		}
	}
	find := func(transport, op string, status int) []line {
		var got []line
		for _, l := range access {
			if l.Transport == transport && l.Operation == op && l.Status == status {
				got = append(got, l)
			}
		}
		return got
	}
	created := find("http", "role.create", http.StatusCreated)
	require.Len(t, created, 1, "one access line for the HTTP role.create")
	assert.Equal(t, "req-role-create", created[0].RequestID)
	assert.Equal(t, "INFO", created[0].Level)
	assert.NotEmpty(t, created[0].ActorType)
	assert.Len(t, find("http", "token.issue", http.StatusCreated), 1)
	assert.Len(t, find("http", "client.create", http.StatusCreated), 1)
	checks := find("http", "check", http.StatusOK)
	require.Len(t, checks, 2, "checks log at debug")
	assert.Equal(t, "DEBUG", checks[0].Level)
	assert.Equal(t, "token", checks[0].ActorType, "the token caller's id, never its secret")
	assert.Len(t, find("http", "checks", http.StatusOK), 1)
	refused := find("http", "role.list", http.StatusUnauthorized)
	require.Len(t, refused, 2)
	assert.Equal(t, "unauthorized", refused[0].ErrorCode)
	assert.Empty(t, refused[0].ActorType, "no caller before authentication")
	natsRole := find("nats", "role.create", http.StatusCreated)
	require.Len(t, natsRole, 1)
	assert.Equal(t, "req-nats-role", natsRole[0].RequestID)
	assert.Len(t, find("nats", "check", http.StatusOK), 1)
	assert.Len(t, find("nats", "checks", http.StatusOK), 1)
	assert.Len(t, find("nats", "role.list", http.StatusOK), 1)
	assert.Len(t, find("nats", "role.list", http.StatusUnauthorized), 1)
	assert.Len(t, find("nats", "check", http.StatusUnauthorized), 1)
}
