package client_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/perm"
)

// TestFollowerCollector: the follower's collector counts its checks by
// decision (transport follower) and batches, and shows its applied
// revision, once registered by the caller.
func TestFollowerCollector(t *testing.T) {
	s := startServer(t)
	c := s.client(t, s.token)
	ctx := testCtx(t)
	role, err := c.CreateRole(ctx, client.CreateRole{RoleName: "Things",
		Permissions: []client.Permission{{Resource: "NAMESPACE:{namespace}:THING", Action: perm.Read}}})
	require.NoError(t, err)
	rev, err := c.AssignRole(ctx, "ns", "alice", role.RoleID, []string{"ns"})
	require.NoError(t, err)

	f, err := client.NewFollower(ctx, client.FollowerConfig{URL: s.srv.NATSURL(), CredsFile: s.followerCreds(),
		Dir: filepath.Join(t.TempDir(), "follower"), MaxWait: 5 * time.Second, CacheSize: 4 << 20, MemTableSize: 4 << 20})
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	require.NoError(t, f.WaitFor(ctx, rev))

	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(f.Collector()))
	check := func(user string) client.CheckRequest {
		return client.CheckRequest{Subject: client.Subject{Type: "user", ID: user}, Namespace: "ns",
			Resource: "NAMESPACE:ns:THING", Action: perm.Read}
	}
	for range 3 {
		req := check("alice")
		res, err := f.Check(ctx, &req)
		require.NoError(t, err)
		require.True(t, res.Allowed)
	}
	req := check("bob")
	res, err := f.Check(ctx, &req)
	require.NoError(t, err)
	require.False(t, res.Allowed)
	_, err = f.CheckBatch(ctx, &client.BatchRequest{Checks: []client.CheckRequest{check("alice"), check("bob"), check("bob")}})
	require.NoError(t, err)

	fams, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, fam := range fams {
		for _, m := range fam.GetMetric() {
			key := fam.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.Histogram != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			case m.Counter != nil:
				got[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				got[key] = m.GetGauge().GetValue()
			}
		}
	}
	assert.InDelta(t, 3.0, got["grantlog_check_duration_seconds,decision=allowed,transport=follower"], 0)
	assert.InDelta(t, 1.0, got["grantlog_check_duration_seconds,decision=denied,transport=follower"], 0)
	assert.InDelta(t, 0.0, got["grantlog_check_duration_seconds,decision=error,transport=follower"], 0)
	assert.InDelta(t, 1.0, got["grantlog_check_batch_size,transport=follower"], 0)
	assert.InDelta(t, 1.0, got["grantlog_check_batch_items_total,decision=allowed,transport=follower"], 0)
	assert.InDelta(t, 2.0, got["grantlog_check_batch_items_total,decision=denied,transport=follower"], 0)
	assert.GreaterOrEqual(t, got["grantlog_applied_revision"], float64(rev))
	assert.InDelta(t, 1.0, got["grantlog_nats_connected"], 0)
	assert.Positive(t, testutil.CollectAndCount(f.Collector()), "a second collector of the same follower collects too")
}
