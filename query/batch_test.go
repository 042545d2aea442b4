package query_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/index"
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
