package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/edge/natsapi"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// natsCmd sends a command to grantlog.v1.cmd.<name> with the token ("":
// none) and request id, and returns the reply.
func natsCmd(t *testing.T, nc *nats.Conn, name, token, requestID string, body any) *nats.Msg {
	t.Helper()
	data, err := json.Marshal(body)
	require.NoError(t, err)
	msg := nats.NewMsg(natsapi.CommandSubjectPrefix + "." + name)
	msg.Data = data
	if token != "" {
		msg.Header.Set(natsapi.AuthorizationHeader, "Bearer "+token)
	}
	if requestID != "" {
		msg.Header.Set(natsapi.RequestIDHeader, requestID)
	}
	reply, err := nc.RequestMsg(msg, 10*time.Second)
	require.NoError(t, err)
	return reply
}

// mustCmd is natsCmd that must succeed.
func mustCmd(t *testing.T, nc *nats.Conn, name, token, requestID string, body any) map[string]any {
	t.Helper()
	reply := natsCmd(t, nc, name, token, requestID, body)
	require.Empty(t, reply.Header.Get(micro.ErrorCodeHeader), "%s: error %s", name, reply.Data)
	return decodeMap(t, reply.Data)
}

// cmdError asserts that the command fails with status and errorCode.
func cmdError(t *testing.T, nc *nats.Conn, name, token string, body any, status, code string) {
	t.Helper()
	reply := natsCmd(t, nc, name, token, "", body)
	assert.Equal(t, status, reply.Header.Get(micro.ErrorCodeHeader), "%s: %s", name, reply.Data)
	assert.Equal(t, code, reply.Header.Get(natsapi.ErrorCodeHeader), "%s", name)
	assert.Equal(t, code, decodeMap(t, reply.Data)["errorCode"], "%s", name)
	assert.NotEmpty(t, reply.Header.Get(natsapi.RequestIDHeader), "errors carry the request id")
}

// serviceInfos asks every grantlog micro service for its info.
func serviceInfos(t *testing.T, nc *nats.Conn) []micro.Info {
	t.Helper()
	subj, err := micro.ControlSubject(micro.InfoVerb, natsapi.ServiceName, "")
	require.NoError(t, err)
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	require.NoError(t, err)
	defer func() { _ = sub.Unsubscribe() }()
	require.NoError(t, nc.PublishRequest(subj, inbox, nil))
	var out []micro.Info
	for {
		msg, err := sub.NextMsg(500 * time.Millisecond)
		if err != nil {
			return out
		}
		var info micro.Info
		require.NoError(t, json.Unmarshal(msg.Data, &info))
		out = append(out, info)
	}
}

// TestNATSCommands: an all node runs commands over NATS
// (grantlog.v1.cmd.<name>) through the command service, with the HTTP
// API's replies and errors; a check over NATS sees them; a replica
// registers no command endpoint; the audit record says "via nats".
func TestNATSCommands(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, server.Config{DataDir: dir, NATSListen: "127.0.0.1:0"}, "")
	token := n.c.token
	url := n.srv.NATSURL()
	// An API client: the client user asks commands and checks.
	nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: url, CredsFile: filepath.Join(dir, eventlog.ClientCredsFile)})
	require.NoError(t, err)
	t.Cleanup(nc.Close)

	// Create a role and assign it, then check over NATS at that revision.
	role := mustCmd(t, nc, "role.create", token, "nats-req-1", map[string]any{
		"roleName": "Matchmaker", "reason": "ticket 7",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:MATCH", "action": 3}},
	})
	roleID, _ := role["roleId"].(string)
	require.NotEmpty(t, roleID)
	assert.Equal(t, "Matchmaker", role["roleName"])
	assert.Positive(t, num(role["revision"]))
	assert.Equal(t, role, n.c.must(http.StatusOK, "GET", "/v1/roles/"+roleID, nil), "the reply is the role, as over HTTP")

	out := mustCmd(t, nc, "assign", token, "", map[string]any{
		"namespace": "arena", "userId": "p1", "roleId": roleID, "assignedNamespaces": []string{"arena"},
	})
	rev := num(out["revision"])
	require.Greater(t, rev, num(role["revision"]))
	check := map[string]any{"subject": map[string]any{"type": "user", "id": "p1"}, "namespace": "arena",
		"resource": "NAMESPACE:arena:MATCH", "action": 2, "atLeastRevision": rev}
	reply := natsCheck(t, nc, natsapi.CheckSubject, token, check)
	require.Empty(t, reply.Header.Get(micro.ErrorCodeHeader), "%s", reply.Data)
	got := decodeMap(t, reply.Data)
	assert.Equal(t, true, got["allowed"])
	assert.GreaterOrEqual(t, num(got["revision"]), rev)

	upd := mustCmd(t, nc, "role.permissions.add", token, "", map[string]any{"roleId": roleID,
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:LOBBY", "action": 2}}})
	assert.Len(t, upd["permissions"], 2)
	ns := mustCmd(t, nc, "namespace.create", token, "", map[string]any{"namespace": "lobby"})
	assert.Equal(t, "lobby", ns["namespace"])
	assert.Positive(t, num(ns["revision"]))

	t.Run("errors", func(t *testing.T) {
		cmdError(t, nc, "role.create", token, map[string]any{"roleName": ""}, "400", "invalidRoleName")
		cmdError(t, nc, "role.create", "", map[string]any{"roleName": "X"}, "401", "unauthorized")
		cmdError(t, nc, "role.delete", token, map[string]any{"roleId": "no-such-role"}, "404", "roleNotFound")
		cmdError(t, nc, "role.create", token, map[string]any{"roleName": "Matchmaker"}, "409", "duplicateRoleName")
		cmdError(t, nc, "role.create", token, map[string]any{"roleName": "X", "bogus": 1}, "400", "malformedJson")
		cmdError(t, nc, "assign", token, map[string]any{"namespace": "arena", "userId": "p1"}, "400", "invalidRoleId")
		cmdError(t, nc, "role.permissions.add", token, map[string]any{"roleId": roleID}, "400", "invalidPermission")
	})

	t.Run("audit says via nats", func(t *testing.T) {
		recs := auditAll(t, n.c, "")
		var found bool
		for _, r := range recs {
			if r.RequestID != "nats-req-1" {
				continue
			}
			found = true
			assert.Equal(t, events.TypeRoleCreated, r.Type)
			assert.Equal(t, "ticket 7", r.Reason)
			require.NotNil(t, r.Source)
			assert.Equal(t, events.ViaNATS, r.Source.Via)
			assert.Equal(t, "nats-req-1", r.Source.RequestID)
		}
		assert.True(t, found, "no audit record with request id nats-req-1")
	})

	t.Run("replicas register no command endpoint", func(t *testing.T) {
		r := startNode(t, server.Config{DataDir: t.TempDir(), NodeRole: server.NodeRoleReplica, NATSURL: url,
			NATSCreds: filepath.Join(dir, eventlog.ReplicaCredsFile)}, token)
		cmds := map[string]bool{}
		for _, s := range natsapi.CommandSubjects() {
			cmds[s] = true
		}
		want := 0
		for _, o := range api.Table() {
			if o.Kind == api.Command && o.Subject != "" {
				want++
			}
		}
		assert.Len(t, cmds, want, "every command of the table has a subject")
		// Discovery collects the answers that come within a window: ask
		// until both nodes have answered (slow under the race detector).
		// Checks are served in the readers' account, where the replica
		// user sees the all node's check service and the replica's;
		// commands in the command account, where only the all node serves.
		rnc, err := eventlog.Connect(eventlog.ConnectConfig{URL: url, CredsFile: filepath.Join(dir, eventlog.ReplicaCredsFile)})
		require.NoError(t, err)
		defer rnc.Close()
		var infos []micro.Info
		require.Eventually(t, func() bool {
			infos = serviceInfos(t, rnc)
			return len(infos) == 2
		}, 10*time.Second, 50*time.Millisecond, "both nodes answer service discovery")
		cnc, err := eventlog.Connect(eventlog.ConnectConfig{URL: url, CredsFile: filepath.Join(dir, eventlog.CommandCredsFile)})
		require.NoError(t, err)
		defer cnc.Close()
		cmdInfos := serviceInfos(t, cnc)
		require.Len(t, cmdInfos, 1, "only the all node serves commands")
		assert.Equal(t, "all", cmdInfos[0].Metadata["role"])
		assert.Len(t, cmdInfos[0].Endpoints, len(cmds), "the all node lists every command endpoint")
		nodeRoles := map[string]int{}
		for _, info := range infos {
			nodeRole := info.Metadata["role"]
			nodeRoles[nodeRole]++
			var nCmd int
			for _, e := range info.Endpoints {
				if cmds[e.Subject] {
					nCmd++
				}
			}
			switch nodeRole {
			case "replica":
				assert.Equal(t, r.srv.NodeName(), info.Metadata["node"])
				assert.Zero(t, nCmd, "a replica lists no command endpoint")
				assert.Len(t, info.Endpoints, 2+len(natsapi.ReadSubjects()), "checks and reads")
			case "all":
				assert.Zero(t, nCmd, "the readers' account sees no command endpoint")
				assert.Len(t, info.Endpoints, 2+len(natsapi.ReadSubjects()), "checks and reads")
			}
		}
		assert.Equal(t, map[string]int{"all": 1, "replica": 1}, nodeRoles)
	})
}

// TestNATSTLSOptions: the TLS options are validated (a certificate without
// its key, files that do not exist, TLS without --nats-url) and built into
// nats options that load the files.
func TestNATSTLSOptions(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writeTestCert(t, dir)
	url := "nats://127.0.0.1:1"
	for name, c := range map[string]server.Config{
		"cert without key": {NATSURL: url, NATSTLSCert: cert},
		"key without cert": {NATSURL: url, NATSTLSKey: key},
		"missing file":     {NATSURL: url, NATSTLSCA: filepath.Join(dir, "nope.pem")},
		"no nats url":      {NATSTLSCA: ca},
	} {
		_, err := c.NATSTLSOptions()
		assert.Error(t, err, name)
		c.DataDir = dir
		assert.Error(t, c.Validate(), name)
	}

	none, err := (&server.Config{NATSURL: url}).NATSTLSOptions()
	require.NoError(t, err)
	assert.Empty(t, none)

	opts, err := (&server.Config{NATSURL: url, NATSTLSCA: ca, NATSTLSCert: cert, NATSTLSKey: key}).NATSTLSOptions()
	require.NoError(t, err)
	require.Len(t, opts, 2)
	o := nats.GetDefaultOptions()
	for _, opt := range opts {
		require.NoError(t, opt(&o))
	}
	require.NotNil(t, o.TLSConfig)
	assert.True(t, o.Secure)
	assert.NotNil(t, o.RootCAsCB, "the CAs are loaded")
	assert.NotNil(t, o.TLSCertCB, "the client certificate is loaded")
	c, err := o.TLSCertCB()
	require.NoError(t, err)
	assert.NotEmpty(t, c.Certificate)
}

// writeTestCert writes a self-signed CA certificate (also used as the
// client certificate) and its key as PEM files.
func writeTestCert(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "grantlog-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(k)
	require.NoError(t, err)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return cert, cert, key
}
