package command_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

func TestAssignBatch(t *testing.T) {
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	node := testutil.StartNode(t, log, t.TempDir())
	role, _, err := node.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleName: "Player",
		Permissions: []perm.Permission{{Resource: "NAMESPACE:{namespace}:USER:{userId}:SAVE", Action: perm.CRUD}}})
	require.NoError(t, err)

	batch := make([]command.BatchAssignment, command.MaxBatchAssignments)
	for i := range batch {
		batch[i] = command.BatchAssignment{UserID: fmt.Sprintf("player%05d", i), RoleID: role.RoleID, AssignedNamespaces: []string{"game1"}}
	}
	before, err := log.Stream.Info(ctx)
	require.NoError(t, err)

	// All or nothing: one bad assignment refuses the whole batch.
	bad := append([]command.BatchAssignment(nil), batch...)
	bad[9_999].RoleID = "no-such-role"
	_, err = node.Commands.AssignBatch(ctx, testutil.Root(), "game1", bad)
	require.ErrorIs(t, err, command.ErrNotFound)
	bad[9_999] = batch[0]
	_, err = node.Commands.AssignBatch(ctx, testutil.Root(), "game1", bad)
	require.ErrorIs(t, err, command.ErrInvalid, "a repeated assignment is refused")
	_, err = node.Commands.AssignBatch(ctx, testutil.Root(), "game1", append(batch, batch[0]))
	require.ErrorIs(t, err, command.ErrInvalid, "more than the limit is refused")
	mid, err := log.Stream.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, before.State.LastSeq, mid.State.LastSeq, "refused batches append nothing")

	rev, err := node.Commands.AssignBatch(ctx, testutil.Root(), "game1", batch)
	require.NoError(t, err)
	after, err := log.Stream.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, before.State.LastSeq+1, after.State.LastSeq, "10,000 assignments are one event")
	assert.Equal(t, after.State.LastSeq, rev)

	for _, i := range []int{0, 4_242, 9_999} {
		user := fmt.Sprintf("player%05d", i)
		res, err := node.Query.Check(ctx, &query.CheckRequest{Subject: query.Subject{Type: "user", ID: user}, Namespace: "game1",
			Resource: "NAMESPACE:game1:USER:" + user + ":SAVE", Action: perm.Update, AtLeastRevision: rev})
		require.NoError(t, err)
		assert.True(t, res.Allowed, user)
		assert.Equal(t, rev, res.Revision)
	}
}
