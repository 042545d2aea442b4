package command_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/metrics"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
)

// TestRetriesCounted: two command nodes write one namespace at once; a
// command that loses the optimistic-concurrency race and is decided again
// counts each retry into its context's metrics.Retries (what makes the
// edge's outcome "retried"), and a command that won at once counts none.
func TestRetriesCounted(t *testing.T) {
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	nodes := []*testutil.Node{testutil.StartNode(t, log, t.TempDir()), testutil.StartNode(t, log, t.TempDir())}
	_, rev, err := nodes[0].Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleID: "r",
		RoleName: "R", Permissions: []perm.Permission{{Resource: "NAMESPACE:{namespace}:ITEM", Action: perm.Read}}})
	require.NoError(t, err)
	testutil.WaitApplied(t, nodes[1].Store, rev) // both nodes decide with the role

	var total atomic.Int32
	for round := 0; round < 20 && total.Load() == 0; round++ {
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for u := range 10 {
					var r metrics.Retries
					cctx := metrics.WithRetries(ctx, &r)
					user := fmt.Sprintf("r%dw%du%d", round, w, u)
					if _, err := nodes[w%2].Commands.AssignRole(cctx, testutil.Root(), "race", user, "r", []string{"race"}); err != nil {
						t.Error(err)
						return
					}
					total.Add(r.Load())
				}
			}()
		}
		wg.Wait()
	}
	require.Positive(t, total.Load(), "two nodes writing one namespace at once: some command must have been decided again")

	// Alone, with its index caught up, a command wins at once.
	info, err := log.Stream.Info(ctx)
	require.NoError(t, err)
	testutil.WaitApplied(t, nodes[0].Store, info.State.LastSeq)
	var r metrics.Retries
	_, err = nodes[0].Commands.AssignRole(metrics.WithRetries(ctx, &r), testutil.Root(), "race", "alone", "r", []string{"race"})
	require.NoError(t, err)
	require.Zero(t, r.Load())
}
