package command_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/projector"
	"github.com/grantlog/grantlog/query"
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

// TestIdempotencyKeyIsPerCaller: the same Idempotency-Key sent by two
// callers makes two commands. The key of one caller must never answer
// another's command with its own revision (that command would be lost).
func TestIdempotencyKeyIsPerCaller(t *testing.T) {
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	node := testutil.StartNode(t, log, t.TempDir())
	role, _, err := node.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{
		RoleName: "Reader", Permissions: []perm.Permission{{Resource: "NAMESPACE:{namespace}:DOC", Action: perm.Read}},
	})
	require.NoError(t, err)

	first := testutil.Root()
	first.CommandID = "same-key"
	second := command.Meta{Caller: auth.BootstrapCredential("another-admin-token"), CommandID: "same-key"}
	rev1, err := node.Commands.AssignRole(ctx, first, "ns1", "alice", role.RoleID, []string{"ns1"})
	require.NoError(t, err)
	rev2, err := node.Commands.AssignRole(ctx, second, "ns2", "bob", role.RoleID, []string{"ns2"})
	require.NoError(t, err)
	assert.NotEqual(t, rev1, rev2, "another caller's command must not be answered with the first caller's revision")

	info, err := log.Stream.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, rev2, info.State.LastSeq, "the second caller's command must be stored")
	v := node.Store.Acquire()
	defer v.Release()
	ns, ok := v.Namespace("ns2")
	assert.True(t, ok, "bob's assignment in ns2 was applied")
	assert.Equal(t, rev2, ns.LastRevision)

	// The event records the derived command id, not the raw key.
	msg, err := log.Stream.GetMsg(ctx, rev2)
	require.NoError(t, err)
	assert.Equal(t, command.DeriveCommandID(second.Caller, "same-key"), msg.Header.Get(jetstream.MsgIDHeader))
	assert.NotEqual(t, command.DeriveCommandID(first.Caller, "same-key"), command.DeriveCommandID(second.Caller, "same-key"))
	assert.NotEmpty(t, msg.Header.Get(command.RequestHashHeader))
}

// TestIdempotencyKeyReusedForAnotherRequest: a caller's key retried with a
// different request is refused (422 idempotencyKeyReused), whether the
// stream answers the append with a duplicate ack (index up to date) or
// with "wrong last sequence" (index behind: the retry trap, the head of the
// namespace is then inspected); the same request is answered with the
// revision of its one event either way.
func TestIdempotencyKeyReusedForAnotherRequest(t *testing.T) {
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	node := testutil.StartNode(t, log, t.TempDir())
	role, _, err := node.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{
		RoleName: "Reader", Permissions: []perm.Permission{{Resource: "NAMESPACE:{namespace}:DOC", Action: perm.Read}},
	})
	require.NoError(t, err)

	// A second command service on an index that stops before the command
	// below, as a lagging node's would be.
	stale, err := index.Open(index.Options{Dir: filepath.Join(t.TempDir(), "index"), Logger: testutil.Quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = stale.Close() })
	pctx, pcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, log.JS, stale).Run(pctx)
	}()
	testutil.WaitApplied(t, stale, node.Store.Applied())
	pcancel()
	require.NoError(t, <-done)
	staleCommands := command.New(command.Config{ApplyWait: 100 * time.Millisecond}, log.JS, log.Stream, stale,
		auth.NewAuthorizer(query.New(query.Config{}, stale, nil)))

	m := testutil.Root()
	m.CommandID = "assign-alice"
	rev, err := node.Commands.AssignRole(ctx, m, "ns1", "alice", role.RoleID, []string{"ns1"})
	require.NoError(t, err)
	head := func() uint64 {
		info, err := log.Stream.Info(ctx)
		require.NoError(t, err)
		return info.State.LastSeq
	}
	require.Equal(t, rev, head())

	reused := func(t *testing.T, err error) {
		t.Helper()
		require.ErrorIs(t, err, command.ErrKeyReused)
		var ce *command.Error
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "idempotencyKeyReused", ce.Code)
		assert.Contains(t, ce.Message, "assign-alice")
	}
	for name, svc := range map[string]*command.Service{"duplicate ack": node.Commands, "wrong last sequence": staleCommands} {
		t.Run(name, func(t *testing.T) {
			again, err := svc.AssignRole(ctx, m, "ns1", "alice", role.RoleID, []string{"ns1"})
			require.NoError(t, err)
			assert.Equal(t, rev, again, "the same request is answered with its one event")

			_, err = svc.AssignRole(ctx, m, "ns1", "bob", role.RoleID, []string{"ns1"})
			reused(t, err)
			_, err = svc.AssignRole(ctx, m, "ns1", "alice", role.RoleID, []string{"ns1", "ns2"})
			reused(t, err)
			mr := m
			mr.Reason = "another reason"
			_, err = svc.AssignRole(ctx, mr, "ns1", "alice", role.RoleID, []string{"ns1"})
			reused(t, err)
			assert.Equal(t, rev, head(), "nothing more was appended")
		})
	}
	// In another namespace the stream's duplicate check answers.
	_, err = node.Commands.AssignRole(ctx, m, "ns2", "alice", role.RoleID, []string{"ns2"})
	reused(t, err)
	assert.Equal(t, rev, head(), "nothing more was appended")
}
