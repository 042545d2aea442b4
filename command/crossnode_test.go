package command_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/projector"
	"github.com/grantlog/grantlog/query"
)

// TestCommandsReadTheirWritesAcrossNodes (found by the soak test): a role
// made through command node A and assigned at once through command node B,
// whose index has not applied the role yet, is assigned — B catches up with
// the stream and decides again — instead of refused 404 roleNotFound. The
// same for a transaction.
func TestCommandsReadTheirWritesAcrossNodes(t *testing.T) {
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	a := testutil.StartNode(t, log, t.TempDir())

	// Node B: its projector starts only 300 ms after the role is made.
	key, err := logsig.LoadKey(ctx, log.JS, "")
	require.NoError(t, err)
	st, err := index.Open(index.Options{Dir: filepath.Join(t.TempDir(), "index"), Logger: testutil.Quiet})
	require.NoError(t, err)
	az := auth.NewAuthorizer(query.New(query.Config{}, st, nil))
	b := command.New(command.Config{ApplyWait: 5 * time.Second, Signer: key}, log.JS, log.Stream, st, az)
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	t.Cleanup(func() { cancel(); <-done; _ = st.Close() })

	for i, name := range []string{"Viewer", "Editor"} {
		id := "cross-" + name
		_, _, err := a.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleID: id, RoleName: name})
		require.NoError(t, err)
		if i == 0 {
			time.AfterFunc(300*time.Millisecond, func() {
				done <- projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, log.JS, st).Run(pctx)
			})
			_, err = b.AssignRole(ctx, testutil.Root(), "g1", "u1", id, []string{"g1"})
			require.NoError(t, err, "node B caught up and assigned the role node A had just made")
			continue
		}
		// The projector runs now, but B may still lag a moment: the
		// transaction catches up the same way.
		_, err = b.Transaction(ctx, testutil.Root(), "cross", []command.Step{
			func(ctx context.Context, s *command.Service, m command.Meta) error {
				_, err := s.AssignRole(ctx, m, "g1", "u2", id, []string{"g1"})
				return err
			}})
		require.NoError(t, err)
	}
}
