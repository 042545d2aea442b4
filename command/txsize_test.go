package command_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
)

// TestTransactionSizeIsBounded: every role.permissions.add step of a
// transaction carries the role's whole state before it (Before), so K
// steps of P permissions on one role would append O(K²·P) permissions from
// an O(K·P) request (found by review: 150 steps stored 21 MB). The
// staged events are bounded (command.MaxTxBytes): such a transaction is
// refused whole, and nothing is stored.
func TestTransactionSizeIsBounded(t *testing.T) {
	ctx := context.Background()
	l := testutil.StartLog(t, t.TempDir())
	n := testutil.StartNode(t, l, t.TempDir())
	_, _, err := n.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleID: "big", RoleName: "Big"})
	require.NoError(t, err)
	const K, P = 150, 60
	var reqBytes int
	steps := make([]command.Step, 0, K)
	for k := range K {
		ps := make([]perm.Permission, 0, P)
		for p := range P {
			ps = append(ps, perm.Permission{Resource: fmt.Sprintf("R%d_%d", k, p), Action: perm.Read})
		}
		b, _ := json.Marshal(map[string]any{"op": "role.permissions.add", "request": map[string]any{"roleId": "big", "permissions": ps}})
		reqBytes += len(b)
		steps = append(steps, func(ctx context.Context, s *command.Service, m command.Meta) error {
			_, err := s.ChangePermissions(ctx, m, "big", command.AddPermissions, ps)
			return err
		})
	}
	before, err := l.Stream.Info(ctx)
	require.NoError(t, err)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	_, err = n.Commands.Transaction(ctx, testutil.Root(), "amplify", steps)
	runtime.ReadMemStats(&m1)
	var se *command.StepError
	require.ErrorAs(t, err, &se)
	var ce *command.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "transactionTooLarge", ce.Code)
	after, err := l.Stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, before.State.LastSeq, after.State.LastSeq, "nothing was stored")
	t.Logf("request ~%d KB, %d steps: refused at step %d, allocated %d MB", reqBytes>>10, K, se.Index, (m1.TotalAlloc-m0.TotalAlloc)>>20)
}
