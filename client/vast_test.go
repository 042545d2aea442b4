package client_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
)

// TestIssueTokenVastPermissions: the SDK issues a token from Vast.ai's own
// permission document with params, and the token allows exactly the range
// its params bound (checked over HTTP and NATS alike).
func TestIssueTokenVastPermissions(t *testing.T) {
	s := startServer(t)
	c := s.client(t, s.token)
	ctx := testCtx(t)
	role, err := c.CreateRole(ctx, client.CreateRole{RoleName: "VastUser",
		Permissions: []client.Permission{{Resource: "NAMESPACE:{namespace}:*", Action: perm.CRUD}}})
	require.NoError(t, err)
	_, err = c.AssignRole(ctx, "vast", "alice", role.RoleID, []string{"vast"})
	require.NoError(t, err)

	doc := json.RawMessage(`{"api": {"instance_read": {"api.instance.request_logs": {"constraints": {"id": {"gte": "$1", "lte": "$2"}}}}}}`)
	tok, err := c.IssueToken(ctx, "vast", client.IssueToken{Name: "logs", Owner: &events.Actor{Type: "user", ID: "alice"},
		VastPermissions: doc, Params: []perm.Value{perm.Str("100"), perm.Num(200)}})
	require.NoError(t, err)
	require.Len(t, tok.Permissions, 1)
	assert.Equal(t, "NAMESPACE:{namespace}:USER:{userId}:INSTANCE:LOGS", tok.Permissions[0].Resource)

	nc := s.natsConn(t)
	waitNATSAPI(t, nc)
	nt := client.NewNATS(nc, s.token)
	for id, want := range map[string]bool{"99": false, "100": true, "150": true, "200": true, "201": false, "x": false} {
		req := &client.CheckRequest{Subject: client.Subject{Type: "token", Token: tok.Token}, Namespace: "vast",
			Resource: "NAMESPACE:vast:USER:alice:INSTANCE:LOGS", Action: perm.Read, AtLeastRevision: tok.Revision,
			Attributes: map[string]perm.Value{"id": perm.Str(id)}}
		res, err := c.Check(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, want, res.Allowed, "id %s over HTTP", id)
		res, err = nt.Check(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, want, res.Allowed, "id %s over NATS", id)
	}

	_, err = c.IssueToken(ctx, "vast", client.IssueToken{Name: "bad", VastPermissions: json.RawMessage(`{"api": {"gpu_read": {}}}`)})
	require.ErrorIs(t, err, client.ErrInvalid)
	var ae *client.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "invalidVastPermissions", ae.Code)
}
