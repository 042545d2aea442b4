package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/internal/testutil"
)

// forge appends, with the node's own full-permission connection (as
// anyone able to get a message into the stream could), an assignment of
// role to user in ns whose prevHash is the hash of the namespace's last
// event, and signature sig ("" for none). It returns the revision.
func forge(t *testing.T, srv *server.Server, ns, user, role, sig string) uint64 {
	t.Helper()
	ctx := context.Background()
	stream, err := srv.JetStream().Stream(ctx, eventlog.DefaultStream)
	require.NoError(t, err)
	last, err := stream.GetLastMsgForSubject(ctx, events.NamespaceFilter(events.DefaultSubjectPrefix, ns))
	require.NoError(t, err)
	h := sha256.Sum256(last.Data)
	data, err := events.Encode(events.Envelope{
		EventID: "forged-" + user, Namespace: ns, AggregateID: user, OccurredAt: time.Now(),
		Actor: events.Actor{Type: "user", ID: "grantlog-bootstrap-admin"}, CommandID: "forged-" + user,
		PrevHash: hex.EncodeToString(h[:]),
	}, events.UserRoleAssigned{UserID: user, RoleID: role, AssignedNamespaces: []string{ns}})
	require.NoError(t, err)
	msg := nats.NewMsg(events.Subject(events.DefaultSubjectPrefix, ns, events.KindUser))
	msg.Data = data
	if sig != "" {
		msg.Header.Set(logsig.Header, sig)
	}
	ack, err := srv.JetStream().PublishMsg(ctx, msg)
	require.NoError(t, err)
	return ack.Sequence
}

// TestForgedEventIsRefusedAndFailsVerify: a forged Super Admin assignment
// with a correct prevHash, published straight into the stream, is not
// applied (the node reports it in its status and keeps serving, and later
// commands in that namespace work), and audit verification names it.
func TestForgedEventIsRefusedAndFailsVerify(t *testing.T) {
	srv, root := startServer(t, t.TempDir())
	var superAdmin string
	for _, r := range root.must(http.StatusOK, "GET", "/v1/roles", nil)["data"].([]any) {
		if r.(map[string]any)["roleName"] == server.SuperAdminRole {
			superAdmin = r.(map[string]any)["roleId"].(string)
		}
	}
	require.NotEmpty(t, superAdmin)
	player := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Player"})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/foo/users/alice/roles",
		map[string]any{"roleId": player["roleId"], "assignedNamespaces": []string{"foo"}})

	forged := forge(t, srv, "foo", "mallory", superAdmin, "")
	other, err := logsig.Generate()
	require.NoError(t, err)
	forge(t, srv, "foo", "mallory2", superAdmin, other.SignEvent("x", nil))

	// Later commands in the namespace append and apply.
	out := root.must(http.StatusCreated, "POST", "/v1/namespaces/foo/users/bob/roles",
		map[string]any{"roleId": player["roleId"], "assignedNamespaces": []string{"foo"}})
	rev := uint64(out["revision"].(float64))
	assert.Greater(t, rev, forged)
	assert.False(t, root.allowed("mallory", "foo", "ADMIN:ROLE", 2), "the forged Super Admin assignment is not applied")
	ur := root.must(http.StatusOK, "GET", "/v1/namespaces/foo/users/bob/roles", nil)
	assert.Len(t, ur["data"], 1)

	st := srv.Status()
	require.NotNil(t, st.Refused)
	assert.EqualValues(t, 2, st.Refused.Count)
	assert.Contains(t, st.Refused.LastReason, "does not trust")
	assert.True(t, st.Ready)
	anon := newClient(t, strings.TrimPrefix(root.base, "http://"), "")
	ready := anon.must(http.StatusOK, "GET", "/readyz", nil)
	assert.EqualValues(t, 2, ready["refused"].(map[string]any)["count"])

	// Verification names the forged events, and only them: the chain
	// goes on from the last authentic event.
	v := audit.NewVerifier()
	var breaks []*audit.Break
	for _, r := range auditAll(t, root, "") {
		if b := v.Add(r); b != nil {
			breaks = append(breaks, b)
		}
	}
	require.Len(t, breaks, 2)
	assert.Equal(t, forged, breaks[0].Revision)
	assert.Contains(t, breaks[0].Reason, "no signature")
	assert.Contains(t, breaks[0].Error(), fmt.Sprintf("revision %d", forged))
	assert.Contains(t, breaks[1].Reason, "does not trust")
	assert.True(t, v.Signed())

	// Namespace-filtered verification reads the keys first.
	v = audit.NewVerifier()
	keys := auditAll(t, root, "namespace=_platform&type="+events.TypeLogSigningKeyAdded)
	require.Len(t, keys, 1)
	v.PreloadKeys(keys)
	breaks = nil
	for _, r := range auditAll(t, root, "namespace=foo") {
		if b := v.Add(r); b != nil {
			breaks = append(breaks, b)
		}
	}
	require.Len(t, breaks, 2)
	assert.Equal(t, forged, breaks[0].Revision)
}

// TestLegacyStreamIsSigned: a node of this version started on a stream
// written before events were signed announces its signing key; the old
// events still apply, and unsigned events after the key do not.
func TestLegacyStreamIsSigned(t *testing.T) {
	dir := t.TempDir()
	e, err := eventlog.StartEmbedded(eventlog.EmbeddedConfig{DataDir: dir, NoListen: true})
	require.NoError(t, err)
	js, err := jetstream.New(e.StoreConn)
	require.NoError(t, err)
	ctx := context.Background()
	stream, err := eventlog.EnsureStream(ctx, js, eventlog.StreamConfig(eventlog.DefaultStream, events.DefaultSubjectPrefix, 1))
	require.NoError(t, err)
	log := &testutil.Log{Embedded: e, JS: js, Stream: stream}
	d := testutil.GenerateDataset(testutil.Shape{Namespaces: 3, Roles: 5, PermsPerRole: 2, Users: 20,
		MaxRolesPerUse: 2, MaxNSPerAssign: 2, Seed: 5})
	log.Publish(t, d.Events) // unsigned: an old stream
	e.Close()
	secret, _, err := auth.NewBootstrapSecret()
	require.NoError(t, err)
	require.NoError(t, auth.WriteTokenFile(dir, secret))

	srv, root := startServer(t, dir)
	keyMsg, err := srvStream(t, srv).GetLastMsgForSubject(ctx, events.DefaultSubjectPrefix+"."+events.PlatformNamespace+"."+events.KindLog+".>")
	require.NoError(t, err, "the node announced its signing key")
	assert.Greater(t, keyMsg.Sequence, uint64(len(d.Events)))
	got := root.must(http.StatusOK, "GET", "/v1/roles/"+testutil.RoleID(0), nil)
	assert.Equal(t, testutil.RoleID(0), got["roleId"], "events before the key still apply")

	forge(t, srv, testutil.NSName(0), "mallory", testutil.RoleID(0), "")
	// (testutil.Publish writes events under kind "x": assign a role made
	// through the API, whose subject the command reads.)
	player := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Player"})
	out := root.must(http.StatusCreated, "POST", "/v1/namespaces/"+testutil.NSName(0)+"/users/bob/roles",
		map[string]any{"roleId": player["roleId"], "assignedNamespaces": []string{testutil.NSName(0)}})
	assert.Positive(t, out["revision"])
	assert.Empty(t, root.must(http.StatusOK, "GET", "/v1/namespaces/"+testutil.NSName(0)+"/users/mallory/roles", nil)["data"])
	require.NotNil(t, srv.Status().Refused)
	assert.EqualValues(t, 1, srv.Status().Refused.Count)
}

func srvStream(t *testing.T, srv *server.Server) jetstream.Stream {
	t.Helper()
	s, err := srv.JetStream().Stream(context.Background(), eventlog.DefaultStream)
	require.NoError(t, err)
	return s
}
