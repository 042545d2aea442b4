package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/edge/natsapi"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// TestIdempotentRetriesOfEveryCreate: a retry of every create command with
// the same Idempotency-Key and request, over HTTP and over NATS, answers the
// first outcome — the same ids, the same revision, and for a credential
// the same secret, which works — and appends nothing; the key with another
// request is refused with 422 idempotencyKeyReused. The retries also come
// after the index has applied the first (answered from the index's keyed
// commands, not JetStream's two-minute duplicate window alone).
func TestIdempotentRetriesOfEveryCreate(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, server.Config{DataDir: dir, NATSListen: "127.0.0.1:0"}, "")
	root := n.c
	nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: n.srv.NATSURL(), CredsFile: filepath.Join(dir, eventlog.ClientCredsFile)})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	roleID := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Reader",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:STATS", "action": 2}}})["roleId"].(string)

	type create struct {
		op, method, path string
		body             map[string]any
		ids              []string // fields that must be equal on the retry
		secret           string   // the credential's secret field, if any
		status           int
	}
	creates := func(sfx string) []create {
		return []create{
			{"role.create", "POST", "/v1/roles", map[string]any{"roleName": "Idem" + sfx}, []string{"roleId", "revision"}, "", 201},
			{"namespace.create", "POST", "/v1/namespaces", map[string]any{"namespace": "idem" + sfx}, []string{"namespace", "revision"}, "", 201},
			{"assign", "POST", "/v1/namespaces/idem" + sfx + "/users/u1/roles", map[string]any{"namespace": "idem" + sfx, "userId": "u1",
				"roleId": roleID, "assignedNamespaces": []string{"idem" + sfx}}, []string{"revision"}, "", 201},
			{"client.create", "POST", "/v1/namespaces/idem" + sfx + "/clients", map[string]any{"namespace": "idem" + sfx, "clientName": "bot",
				"permissions": []map[string]any{{"resource": "NAMESPACE:idem" + sfx + ":STATS", "action": 2}}}, []string{"clientId", "clientSecret", "revision"}, "clientSecret", 201},
			{"token.issue", "POST", "/v1/namespaces/idem" + sfx + "/tokens", map[string]any{"namespace": "idem" + sfx, "name": "ci",
				"permissions": []map[string]any{{"resource": "NAMESPACE:idem" + sfx + ":STATS", "action": 2}}}, []string{"tokenId", "token", "revision"}, "token", 201},
			{"transaction", "POST", "/v1/transactions", map[string]any{"steps": []any{
				map[string]any{"op": "assign", "request": map[string]any{"namespace": "idem" + sfx, "userId": "u2", "roleId": roleID, "assignedNamespaces": []string{"idem" + sfx}}}}},
				[]string{"revision"}, "", 200},
		}
	}
	natsKeyed := func(op, key string, body map[string]any) (string, map[string]any) {
		data, err := json.Marshal(body)
		require.NoError(t, err)
		msg := nats.NewMsg(natsapi.CommandSubjectPrefix + "." + op)
		msg.Data = data
		msg.Header.Set(natsapi.AuthorizationHeader, "Bearer "+root.token)
		msg.Header.Set("Idempotency-Key", key)
		reply, err := nc.RequestMsg(msg, 10*time.Second)
		require.NoError(t, err)
		return reply.Header.Get(micro.ErrorCodeHeader), decodeMap(t, reply.Data)
	}
	for _, transport := range []string{"http", "nats"} {
		for _, c := range creates(transport) {
			t.Run(transport+"/"+c.op, func(t *testing.T) {
				root := newClient(t, strings.TrimPrefix(root.base, "http://"), root.token)
				key := fmt.Sprintf("%s-%s", transport, c.op)
				send := func(key string, body map[string]any) (int, map[string]any) {
					if transport == "http" {
						return root.keyed(key, c.method, c.path, body)
					}
					status, out := natsKeyed(c.op, key, body)
					if status == "" {
						return c.status, out
					}
					var code int
					_, _ = fmt.Sscan(status, &code)
					return code, out
				}
				status, first := send(key, c.body)
				require.Equal(t, c.status, status, "%v", first)
				head := streamHead(t, n.srv)
				waitRead(t, root, head)
				status, again := send(key, c.body)
				require.Equal(t, c.status, status, "%v", again)
				for _, f := range c.ids {
					assert.Equal(t, first[f], again[f], "%s on the retry", f)
				}
				assert.Equal(t, head, streamHead(t, n.srv), "a retry appends nothing")
				if c.secret != "" {
					switch c.op {
					case "token.issue":
						root.as(again[c.secret].(string)).must(http.StatusOK, "GET", "/v1/namespaces/idem"+transport+"/tokens", nil)
					case "client.create":
						// Authenticated (403 for lacking the right to ask checks, not 401).
						out := root.basic(again["clientId"].(string), again[c.secret].(string)).must(http.StatusForbidden, "POST", "/v1/check", map[string]any{
							"subject": map[string]any{"type": "client", "id": again["clientId"]}, "namespace": "idem" + transport,
							"resource": "NAMESPACE:idem" + transport + ":STATS", "action": 2})
						assert.Equal(t, "forbidden", out["errorCode"])
					}
				}
				// The key with another request: refused, nothing appended.
				other := map[string]any{}
				for k, v := range c.body {
					other[k] = v
				}
				other["reason"] = "another request"
				status, out := send(key, other)
				assert.Equal(t, http.StatusUnprocessableEntity, status, "%v", out)
				assert.Equal(t, "idempotencyKeyReused", out["errorCode"])
				assert.Equal(t, head, streamHead(t, n.srv))
			})
		}
	}
}

// waitRead waits until the node answers reads at rev.
func waitRead(t *testing.T, c *client, rev uint64) {
	t.Helper()
	c.must(http.StatusOK, "GET", fmt.Sprintf("/v1/roles?atLeastRevision=%d", rev), nil)
}
