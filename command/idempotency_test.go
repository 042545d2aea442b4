package command_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
)

// TestCommandIDIsIdempotent: a command retried with the same command id is
// stored once and answers with the first revision.
func TestCommandIDIsIdempotent(t *testing.T) {
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	node := testutil.StartNode(t, log, t.TempDir())
	role, _, err := node.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{
		RoleName: "Reader", Permissions: []perm.Permission{{Resource: "NAMESPACE:{namespace}:DOC", Action: perm.Read}},
	})
	require.NoError(t, err)

	m := testutil.Root()
	m.CommandID = "assign-once"
	rev1, err := node.Commands.AssignRole(ctx, m, "ns1", "alice", role.RoleID, []string{"ns1"})
	require.NoError(t, err)
	rev2, err := node.Commands.AssignRole(ctx, m, "ns1", "alice", role.RoleID, []string{"ns1"})
	require.NoError(t, err)
	assert.Equal(t, rev1, rev2, "a retried command must answer with the revision of its one event")

	info, err := log.Stream.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, rev1, info.State.LastSeq, "the retry must not append a second event")
}

// TestValidationChangesNothing: refused commands append nothing.
func TestValidationChangesNothing(t *testing.T) {
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	node := testutil.StartNode(t, log, t.TempDir())
	role, _, err := node.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleName: "Plain"})
	require.NoError(t, err)
	before, err := log.Stream.Info(ctx)
	require.NoError(t, err)

	cases := []struct {
		name string
		run  func() error
		kind error
		code string
	}{
		{"non-alphanumeric name", func() error {
			_, _, err := node.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleName: "Game Admin"})
			return err
		}, command.ErrInvalid, "invalidRoleName"},
		{"empty name", func() error {
			_, _, err := node.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{})
			return err
		}, command.ErrInvalid, "invalidRoleName"},
		{"duplicate name, other case", func() error {
			_, _, err := node.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleName: "PLAIN"})
			return err
		}, command.ErrConflict, "duplicateRoleName"},
		{"bad tag", func() error {
			_, _, err := node.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleName: "X",
				Permissions: []perm.Permission{{Resource: "NAMESPACE::X", Action: 1}}})
			return err
		}, command.ErrInvalid, "invalidPermission"},
		{"unknown placeholder", func() error {
			_, err := node.Commands.ChangePermissions(ctx, testutil.Root(), role.RoleID, command.AddPermissions,
				[]perm.Permission{{Resource: "NAMESPACE:{game}:X", Action: 1}})
			return err
		}, command.ErrInvalid, "invalidPermission"},
		{"action 0", func() error {
			_, err := node.Commands.ChangePermissions(ctx, testutil.Root(), role.RoleID, command.AddPermissions,
				[]perm.Permission{{Resource: "X", Action: 0}})
			return err
		}, command.ErrInvalid, "invalidPermission"},
		{"action 16", func() error {
			_, err := node.Commands.ChangePermissions(ctx, testutil.Root(), role.RoleID, command.ReplacePermissions,
				[]perm.Permission{{Resource: "X", Action: 16}})
			return err
		}, command.ErrInvalid, "invalidPermission"},
		{"unknown role", func() error {
			_, err := node.Commands.DeleteRole(ctx, testutil.Root(), "no-such-role")
			return err
		}, command.ErrNotFound, "roleNotFound"},
		{"no assigned namespaces", func() error {
			_, err := node.Commands.AssignRole(ctx, testutil.Root(), "ns1", "bob", role.RoleID, nil)
			return err
		}, command.ErrInvalid, "invalidAssignedNamespaces"},
		{"bad namespace", func() error {
			_, err := node.Commands.AssignRole(ctx, testutil.Root(), "ns.1", "bob", role.RoleID, []string{"ns1"})
			return err
		}, command.ErrInvalid, "invalidNamespace"},
		{"platform namespace", func() error {
			_, err := node.Commands.AssignRole(ctx, testutil.Root(), "_platform", "bob", role.RoleID, []string{"ns1"})
			return err
		}, command.ErrInvalid, "invalidNamespace"},
		{"bad user id", func() error {
			_, err := node.Commands.AssignRole(ctx, testutil.Root(), "ns1", "bob>", role.RoleID, []string{"ns1"})
			return err
		}, command.ErrInvalid, "invalidUserId"},
		{"unassign missing", func() error {
			_, err := node.Commands.UnassignRole(ctx, testutil.Root(), "ns1", "bob", role.RoleID)
			return err
		}, command.ErrNotFound, "assignmentNotFound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			require.ErrorIs(t, err, tc.kind)
			var ce *command.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.code, ce.Code)
			assert.NotEmpty(t, ce.Message)
		})
	}
	after, err := log.Stream.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, before.State.LastSeq, after.State.LastSeq, "refused commands must append nothing")
}
