package command_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
)

// TestRetryAfterRightRevokedRefused: a retry is answered from the stored
// event before any authorization, so a caller whose right to issue bob's
// tokens was taken away still receives a live token's secret again
// (Idempotency-Key retry within the window) instead of 403.
func TestRetryAfterRightRevokedRefused(t *testing.T) {
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	node := testutil.StartSignedNode(t, log, t.TempDir(), mustKey(t))
	bobRole, _, err := node.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleName: "Doc",
		Permissions: []perm.Permission{{Resource: "NAMESPACE:{namespace}:DOC", Action: perm.Read}}})
	require.NoError(t, err)
	for _, u := range []string{"bob", "carol"} {
		_, err = node.Commands.AssignRole(ctx, testutil.Root(), "ns1", u, bobRole.RoleID, []string{"ns1"})
		require.NoError(t, err)
	}
	adm, _, err := node.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleName: "BobTokens",
		Permissions: []perm.Permission{{Resource: auth.PermToken("ns1", "bob"), Action: perm.Create | perm.Read}}})
	require.NoError(t, err)
	_, err = node.Commands.AssignRole(ctx, testutil.Root(), "ns1", "carol", adm.RoleID, []string{"ns1"})
	require.NoError(t, err)

	carol := command.Meta{Caller: events.Caller{Actor: events.Actor{Type: events.ActorUser, ID: "carol"}}, CommandID: "k1"}
	in := command.IssueToken{Name: "bob-ci", Owner: &events.Actor{Type: events.ActorUser, ID: "bob"},
		Permissions: []perm.Permission{{Resource: "NAMESPACE:ns1:DOC", Action: perm.Read}}}
	first, err := node.Commands.IssueToken(ctx, carol, "ns1", in)
	require.NoError(t, err)

	rev, err := node.Commands.UnassignRole(ctx, testutil.Root(), "ns1", "carol", adm.RoleID)
	require.NoError(t, err)
	testutil.WaitApplied(t, node.Store, rev)
	carol.CommandID = "k2" // control: a new request is refused now
	_, err = node.Commands.IssueToken(ctx, carol, "ns1", in)
	require.Error(t, err)

	carol.CommandID = "k1"
	again, err := node.Commands.IssueToken(ctx, carol, "ns1", in)
	if err == nil && again.Token == first.Token {
		t.Fatalf("carol lost the right to issue bob's tokens, yet the retry answered the live token %s's secret again", again.TokenID)
	}
}

func mustKey(t *testing.T) *logsig.Key {
	t.Helper()
	k, err := logsig.Generate()
	require.NoError(t, err)
	return k
}
