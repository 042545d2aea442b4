package command_test

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/projector"
	"github.com/grantlog/grantlog/query"
)

// TestKeyReusedAfterWindowNeverGivesAnOldSecret: an Idempotency-Key used again once the
// index and JetStream have forgotten it (after --idempotency-window, 24h by
// default; here the "0" setting and a short duplicate window) derives the
// very same secret for a NEW credential, even for a different request. A
// revoked (leaked) token's secret then authenticates as the new token, with
// another owner and other permissions.
func TestKeyReusedAfterWindowNeverGivesAnOldSecret(t *testing.T) {
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	cfg := log.Stream.CachedInfo().Config
	cfg.Duplicates = 200 * time.Millisecond
	_, err := log.JS.UpdateStream(ctx, cfg)
	require.NoError(t, err)

	key, err := logsig.Generate()
	require.NoError(t, err)
	st, err := index.Open(index.Options{Dir: filepath.Join(t.TempDir(), "index"), Logger: testutil.Quiet,
		CacheSize: 8 << 20, MemTableSize: 8 << 20, IdempotencyWindow: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	proj := projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, log.JS, st)
	az := auth.NewAuthorizer(query.New(query.Config{}, st, nil))
	cmds := command.New(command.Config{ApplyWait: 5 * time.Second, Signer: key}, log.JS, log.Stream, st, az)
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- proj.Run(pctx) }()
	t.Cleanup(func() { cancel(); <-done })
	_, _, err = cmds.AnnounceSigningKey(ctx, testutil.Root())
	require.NoError(t, err)

	for _, u := range []struct {
		user string
		act  perm.Action
	}{{"alice", perm.Read}, {"bob", perm.Read | perm.Update | perm.Delete}} {
		role, _, err := cmds.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleName: "R" + u.user,
			Permissions: []perm.Permission{{Resource: "NAMESPACE:{namespace}:DOC", Action: u.act}}})
		require.NoError(t, err)
		_, err = cmds.AssignRole(ctx, testutil.Root(), "ns1", u.user, role.RoleID, []string{"ns1"})
		require.NoError(t, err)
	}

	m := testutil.Root()
	m.CommandID = "issue-ci-token"
	t1, err := cmds.IssueToken(ctx, m, "ns1", command.IssueToken{Name: "ci",
		Owner:       &events.Actor{Type: events.ActorUser, ID: "alice"},
		Permissions: []perm.Permission{{Resource: "NAMESPACE:ns1:DOC", Action: perm.Read}}})
	require.NoError(t, err)
	_, err = cmds.RevokeToken(ctx, testutil.Root(), "ns1", t1.TokenID) // T1 leaked: revoked
	require.NoError(t, err)
	// The key is forgotten once the window passed: nats-server drops a
	// message id on a timer, which runs late on a loaded machine (400 ms
	// was seen to be too short under a CI load of ~20).
	time.Sleep(1500 * time.Millisecond)

	t2, err := cmds.IssueToken(ctx, m, "ns1", command.IssueToken{Name: "deploy",
		Owner:       &events.Actor{Type: events.ActorUser, ID: "bob"},
		Permissions: []perm.Permission{{Resource: "NAMESPACE:ns1:DOC", Action: perm.Update | perm.Delete}}})
	require.NoError(t, err)
	testutil.WaitApplied(t, st, t2.Revision)

	v := st.Acquire()
	tok := v.TokenByHash(sha256.Sum256([]byte(t1.Token)))
	v.Release()
	if t2.Token == t1.Token || tok != nil {
		t.Fatalf("the revoked token %s's secret is the new token %s's secret (same=%v); it authenticates again (owner %v, permissions %v)",
			t1.TokenID, t2.TokenID, t2.Token == t1.Token, tok.Owner, tok.Permissions)
	}
}
