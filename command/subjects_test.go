package command_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
)

// TestNamespaceSubjectsStayFew: a namespace's events about many users
// are stored on one subject per kind, so the stream's check of each
// command's namespace expectation looks at a handful of subjects. With a
// subject per aggregate (the layout before events.Subject) this namespace
// held a subject per user, and the check walked them all on every command.
func TestNamespaceSubjectsStayFew(t *testing.T) {
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	n := testutil.StartNode(t, log, t.TempDir())
	role, _, err := n.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleName: "Player",
		Permissions: []perm.Permission{{Resource: "NAMESPACE:{namespace}:ITEM", Action: perm.Read}}})
	require.NoError(t, err)
	const users = 50
	for i := range users {
		_, err := n.Commands.AssignRole(ctx, testutil.Root(), "game1", fmt.Sprintf("u%d", i), role.RoleID, []string{"game1"})
		require.NoError(t, err)
	}
	_, err = n.Commands.UnassignRole(ctx, testutil.Root(), "game1", "u0", role.RoleID)
	require.NoError(t, err)
	info, err := log.Stream.Info(ctx, jetstream.WithSubjectFilter(events.NamespaceFilter(events.DefaultSubjectPrefix, "game1")))
	require.NoError(t, err)
	var msgs uint64
	for subj, count := range info.State.Subjects {
		assert.Equal(t, events.Subject(events.DefaultSubjectPrefix, "game1", events.KindUser), subj)
		msgs += count
	}
	assert.Len(t, info.State.Subjects, 1, "subjects of namespace game1: %v", info.State.Subjects)
	assert.Equal(t, uint64(users+1), msgs)
}

// TestRoleDeletedBeforeAssignment: an assignment stored after its role's
// deletion is reported (409 roleDeleted, naming the deletion's revision),
// whether the index has applied it (it knows when the role was deleted) or
// not (the role events after the decision are read from the stream); a
// deletion after the assignment, or of another role, is not.
func TestRoleDeletedBeforeAssignment(t *testing.T) {
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	n := testutil.StartNode(t, log, t.TempDir())
	mk := func(name string) string {
		r, _, err := n.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleName: name,
			Permissions: []perm.Permission{{Resource: "NAMESPACE:{namespace}:ITEM", Action: perm.Read}}})
		require.NoError(t, err)
		return r.RoleID
	}
	a, b := mk("A"), mk("B")
	decided := head(t, log)
	revB, err := n.Commands.DeleteRole(ctx, testutil.Root(), b)
	require.NoError(t, err)
	revA, err := n.Commands.DeleteRole(ctx, testutil.Root(), a)
	require.NoError(t, err)
	mk("C")
	last := head(t, log)
	testutil.WaitApplied(t, n.Store, last)

	deletedAt := func(err error, rev uint64) {
		t.Helper()
		var ce *command.Error
		require.ErrorAs(t, err, &ce, "want roleDeleted")
		assert.Equal(t, "roleDeleted", ce.Code)
		assert.ErrorIs(t, err, command.ErrConflict)
		assert.Contains(t, err.Error(), fmt.Sprintf("deleted (revision %d)", rev))
	}
	// The index has applied the assignment's revision.
	deletedAt(n.Commands.CheckRoleAlive(ctx, a, decided, last), revA)
	deletedAt(n.Commands.CheckRoleAlive(ctx, b, decided, last), revB)
	require.NoError(t, n.Commands.CheckRoleAlive(ctx, a, decided, revA-1), "deleted after the assignment")
	deletedAt(n.Commands.CheckRoleAlive(ctx, a, 0, last), revA) // a replayed command
	// The index has not (a revision beyond its head): the stream is read.
	beyond := last + 100
	deletedAt(n.Commands.CheckRoleAlive(ctx, a, decided, beyond), revA)
	deletedAt(n.Commands.CheckRoleAlive(ctx, b, decided, beyond), revB)
	deletedAt(n.Commands.CheckRoleAlive(ctx, a, 0, beyond), revA)
	require.NoError(t, n.Commands.CheckRoleAlive(ctx, a, revA, beyond), "decided after the deletion: the index knew")
	require.NoError(t, n.Commands.CheckRoleAlive(ctx, b, revB, beyond), "only another role was deleted after the decision")
}

func head(t *testing.T, log *testutil.Log) uint64 {
	t.Helper()
	info, err := log.Stream.Info(context.Background())
	require.NoError(t, err)
	return info.State.LastSeq
}
