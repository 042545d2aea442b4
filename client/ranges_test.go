package client_test

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
)

// TestRangeConstraintsEveryTransport (issue 10, item 6): a token issued
// with params ["100","200"] over {"id": {"gte": "$1", "lte": "$2"}}
// compares ids as numbers over HTTP, over NATS and in an embedded
// follower, in single and batch checks.
func TestRangeConstraintsEveryTransport(t *testing.T) {
	s := startServer(t)
	c := s.client(t, s.token)
	ctx := testCtx(t)
	role, err := c.CreateRole(ctx, client.CreateRole{RoleName: "InstanceReader",
		Permissions: []client.Permission{{Resource: "NAMESPACE:{namespace}:USER:{userId}:INSTANCE:*", Action: perm.Read}}})
	require.NoError(t, err)
	_, err = c.AssignRole(ctx, "acct", "sam", role.RoleID, []string{"acct"})
	require.NoError(t, err)
	var tmpl client.Permission
	require.NoError(t, json.Unmarshal([]byte(`{"resource": "NAMESPACE:{namespace}:USER:{userId}:INSTANCE:LOGS", "action": 2,
		"constraints": {"id": {"gte": "$1", "lte": "$2"}}}`), &tmpl))
	tok, err := c.IssueToken(ctx, "acct", client.IssueToken{Name: "logs", Owner: &events.Actor{Type: "user", ID: "sam"},
		Params: []perm.Value{perm.Str("100"), perm.Str("200")}, Permissions: []client.Permission{tmpl}})
	require.NoError(t, err)

	ids := map[string]bool{`150`: true, `"150"`: true, `100`: true, `"200"`: true,
		`"1500"`: false, `"2"`: false, `"1a"`: false, `1500`: false, `2`: false}
	var checks []client.CheckRequest
	var want []bool
	for id, allowed := range ids {
		var v perm.Value
		require.NoError(t, json.Unmarshal([]byte(id), &v))
		checks = append(checks, client.CheckRequest{Subject: client.Subject{Type: "token", Token: tok.Token}, Namespace: "acct",
			Resource: "NAMESPACE:acct:USER:sam:INSTANCE:LOGS", Action: perm.Read, Attributes: map[string]perm.Value{"id": v},
			AtLeastRevision: tok.Revision})
		want = append(want, allowed)
	}

	nc := s.natsConn(t)
	waitNATSAPI(t, nc)
	f, err := client.NewFollower(ctx, client.FollowerConfig{URL: s.srv.NATSURL(), CredsFile: s.followerCreds(),
		Dir: filepath.Join(t.TempDir(), "follower"), MaxWait: 2 * time.Second, CacheSize: 4 << 20, MemTableSize: 4 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	require.NoError(t, f.WaitReady(ctx))

	transports := map[string]struct {
		check func(*client.CheckRequest) (client.CheckResult, error)
		batch func(*client.BatchRequest) (client.BatchResult, error)
	}{
		"http": {func(r *client.CheckRequest) (client.CheckResult, error) { return c.Check(ctx, r) },
			func(b *client.BatchRequest) (client.BatchResult, error) { return c.CheckBatch(ctx, b) }},
		"nats": {func(r *client.CheckRequest) (client.CheckResult, error) {
			return client.NewNATS(nc, s.token).Check(ctx, r)
		},
			func(b *client.BatchRequest) (client.BatchResult, error) {
				return client.NewNATS(nc, s.token).CheckBatch(ctx, b)
			}},
		"follower": {func(r *client.CheckRequest) (client.CheckResult, error) { return f.Check(ctx, r) },
			func(b *client.BatchRequest) (client.BatchResult, error) { return f.CheckBatch(ctx, b) }},
	}
	for name, tr := range transports {
		for i := range checks {
			res, err := tr.check(&checks[i])
			require.NoError(t, err, name)
			assert.Equal(t, want[i], res.Allowed, "%s: id %s", name, checks[i].Attributes["id"])
		}
		res, err := tr.batch(&client.BatchRequest{Checks: checks, AtLeastRevision: tok.Revision})
		require.NoError(t, err, name)
		require.Len(t, res.Results, len(checks), name)
		for i, r := range res.Results {
			assert.Equal(t, want[i], r.Allowed, "%s batch: id %s", name, checks[i].Attributes["id"])
		}
	}
}
