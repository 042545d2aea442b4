package query_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

func TestCheckBatch(t *testing.T) {
	st, err := index.Open(index.Options{Dir: filepath.Join(t.TempDir(), "index"), Logger: testutil.Quiet})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	at := time.Unix(0, 0).UTC()
	apply := func(rev uint64, ns, agg string, p events.Payload) {
		require.NoError(t, st.Apply([]events.Event{{Revision: rev, Data: p, Envelope: events.Envelope{
			Type: p.EventType(), Namespace: ns, AggregateID: agg, OccurredAt: at}}}))
	}
	apply(1, events.PlatformNamespace, "r1", events.RoleCreated{RoleID: "r1", RoleName: "Match",
		Permissions: []events.Permission{{Resource: "NAMESPACE:{namespace}:MATCH", Action: 3}}})
	apply(2, "arena", "p1", events.UserRoleAssigned{UserID: "p1", RoleID: "r1", AssignedNamespaces: []string{"arena"}})
	eng := query.New(query.Config{MaxWait: 50 * time.Millisecond}, st, nil)
	ctx := context.Background()
	chk := func(user string, action int) query.CheckRequest {
		return query.CheckRequest{Subject: query.Subject{Type: query.SubjectUser, ID: user}, Namespace: "arena",
			Resource: "NAMESPACE:arena:MATCH", Action: perm.Action(action)}
	}

	res, err := eng.CheckBatch(ctx, &query.BatchRequest{AtLeastRevision: 2, Checks: []query.CheckRequest{
		chk("p1", 2), chk("p2", 2), chk("p1", 8),
		{Subject: query.Subject{Type: "robot"}, Namespace: "arena"},
		{Subject: query.Subject{Type: query.SubjectUser, ID: "p1"}, Namespace: "arena", Endpoint: &query.EndpointRef{Service: "s", Name: "none"}},
	}})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), res.Revision)
	require.Len(t, res.Results, 5)
	for i, want := range []bool{true, false, false, false, false} {
		assert.Equal(t, want, res.Results[i].Allowed, "item %d", i)
		assert.Equal(t, uint64(2), res.Results[i].Revision, "item %d", i)
		single, err := eng.Check(ctx, &[]query.CheckRequest{chk("p1", 2), chk("p2", 2), chk("p1", 8)}[min(i, 2)])
		if i < 3 {
			require.NoError(t, err)
			assert.Equal(t, single.Allowed, res.Results[i].Allowed, "batch agrees with Check, item %d", i)
		}
	}
	assert.Empty(t, res.Results[0].ErrorCode)
	assert.Equal(t, "invalidSubject", res.Results[3].ErrorCode)
	assert.Equal(t, "endpointNotFound", res.Results[4].ErrorCode)

	// A check's own atLeastRevision counts for the whole batch.
	ahead := chk("p1", 2)
	ahead.AtLeastRevision = 9
	_, err = eng.CheckBatch(ctx, &query.BatchRequest{Checks: []query.CheckRequest{chk("p1", 2), ahead}})
	var qe *query.Error
	require.ErrorAs(t, err, &qe)
	assert.ErrorIs(t, err, query.ErrNotYet)
	assert.Equal(t, uint64(2), qe.Revision)

	_, err = eng.CheckBatch(ctx, &query.BatchRequest{})
	require.ErrorIs(t, err, query.ErrInvalid)
	_, err = eng.CheckBatch(ctx, &query.BatchRequest{Checks: make([]query.CheckRequest, query.MaxBatch+1)})
	require.ErrorIs(t, err, query.ErrInvalid)
	require.ErrorAs(t, err, &qe)
	assert.Equal(t, "batchTooLarge", qe.Code)
}

// TestCheckBatchLarge: a batch large enough to be evaluated on several
// goroutines answers every check as Check does, in order, with refusals
// in place; CheckBatchInto reuses (and overwrites) the results it is
// given.
func TestCheckBatchLarge(t *testing.T) {
	shape := testutil.Shape{Namespaces: 10, Roles: 30, PermsPerRole: 8, Users: 300,
		MaxRolesPerUse: 3, MaxNSPerAssign: 3, WildcardEvery: 7, Seed: 3}
	d := testutil.GenerateDataset(shape)
	st, err := index.Open(index.Options{Dir: filepath.Join(t.TempDir(), "index"), Logger: testutil.Quiet})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.Apply(d.Events))
	eng := query.New(query.Config{}, st, nil)
	ctx := context.Background()

	checks := d.Checks(query.MaxBatch, 9)
	req := &query.BatchRequest{}
	for i, c := range checks {
		cr := query.CheckRequest{Subject: query.Subject{Type: query.SubjectUser, ID: c.User}, Namespace: c.Namespace,
			Resource: c.Resource, Action: perm.Action(c.Action)}
		switch i % 97 {
		case 5:
			cr.Subject.Type = "robot"
		case 11:
			cr.Action = 0
		}
		req.Checks = append(req.Checks, cr)
	}
	out := query.BatchResult{Results: make([]query.BatchItem, 7, query.MaxBatch)}
	out.Results[3] = query.BatchItem{ErrorCode: "stale", CheckResult: query.CheckResult{Allowed: true}}
	for _, n := range []int{query.MaxBatch, 129, 300} {
		require.NoError(t, eng.CheckBatchInto(ctx, &query.BatchRequest{Checks: req.Checks[:n]}, &out))
		require.Len(t, out.Results, n)
		allowed := 0
		for i := range req.Checks[:n] {
			single, err := eng.Check(ctx, &req.Checks[i])
			got := out.Results[i]
			assert.Equal(t, out.Revision, got.Revision, "item %d", i)
			if err != nil {
				var qe *query.Error
				require.ErrorAs(t, err, &qe)
				assert.Equal(t, qe.Code, got.ErrorCode, "item %d", i)
				assert.Equal(t, qe.Message, got.ErrorMessage, "item %d", i)
				assert.False(t, got.Allowed, "item %d", i)
				continue
			}
			assert.Empty(t, got.ErrorCode, "item %d", i)
			assert.Equal(t, single.Allowed, got.Allowed, "item %d", i)
			if got.Allowed {
				allowed++
			}
		}
		assert.Positive(t, allowed)
		assert.Less(t, allowed, n)
	}
}
