package command_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
)

// TestConcurrentCommandNodes races two command nodes, each with its own
// index, on one stream: role names stay unique, no assignment is lost, no
// assignment of a deleted role survives, and both indexes end identical.
func TestConcurrentCommandNodes(t *testing.T) {
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	nodes := []*testutil.Node{testutil.StartNode(t, log, t.TempDir()), testutil.StartNode(t, log, t.TempDir())}

	// 1. Both nodes create the same role names at once: exactly one wins each name.
	const names = 10
	var mu sync.Mutex
	winners := map[string][]string{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := nodes[w%2]
			for i := range names {
				name := fmt.Sprintf("Role%d", i)
				ev, _, err := n.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{
					RoleName:    name,
					Permissions: []perm.Permission{{Resource: "NAMESPACE:{namespace}:ITEM" + fmt.Sprint(i), Action: perm.Read}},
				})
				if err != nil {
					assert.ErrorIs(t, err, command.ErrConflict)
					continue
				}
				mu.Lock()
				winners[name] = append(winners[name], ev.RoleID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, winners, names)
	for name, ids := range winners {
		require.Len(t, ids, 1, "role name %s created %d times", name, len(ids))
	}

	// 2. Both nodes assign roles in the same namespace at once: none is lost.
	roleIDs := make([]string, 0, names)
	for i := range names {
		roleIDs = append(roleIDs, winners[fmt.Sprintf("Role%d", i)][0])
	}
	const usersPerWriter = 15
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := nodes[w%2]
			for u := range usersPerWriter {
				user := fmt.Sprintf("w%du%d", w, u)
				_, err := n.Commands.AssignRole(ctx, testutil.Root(), "game1", user, roleIDs[u%names], []string{"game1"})
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()

	// 3. One node deletes roles while the other assigns them.
	victims := roleIDs[:5]
	wg.Add(2)
	go func() {
		defer wg.Done()
		for _, id := range victims {
			_, err := nodes[0].Commands.DeleteRole(ctx, testutil.Root(), id)
			assert.NoError(t, err)
		}
	}()
	raced := 0
	go func() {
		defer wg.Done()
		for i := range 40 {
			id := victims[i%len(victims)]
			user := fmt.Sprintf("late%d", i)
			_, err := nodes[1].Commands.AssignRole(ctx, testutil.Root(), "game2", user, id, []string{"game2"})
			var ce *command.Error
			switch {
			case err == nil:
			case errors.As(err, &ce) && ce.Code == "roleDeleted":
				raced++ // appended after the delete: reported, and the index ignores it
			default:
				assert.ErrorIs(t, err, command.ErrNotFound, "assign racing a delete: %v", err)
			}
		}
	}()
	wg.Wait()

	head, err := log.Stream.Info(ctx)
	require.NoError(t, err)
	for _, n := range nodes {
		testutil.WaitApplied(t, n.Store, head.State.LastSeq)
	}
	require.Equal(t, testutil.Dump(t, nodes[0].Store), testutil.Dump(t, nodes[1].Store))

	v := nodes[0].Store.Acquire()
	defer v.Release()
	for w := range 4 {
		for u := range usersPerWriter {
			user := fmt.Sprintf("w%du%d", w, u)
			as := v.Assignments(user)
			if idx := u % names; idx < len(victims) {
				assert.Empty(t, as, "user %s holds an assignment of deleted role", user)
			} else {
				require.Len(t, as, 1, "assignment of %s lost", user)
				assert.Equal(t, roleIDs[idx], as[0].RoleID())
			}
		}
	}
	for i := range 40 {
		assert.Empty(t, v.Assignments(fmt.Sprintf("late%d", i)), "assignment of a deleted role survived")
	}
	for _, id := range victims {
		assert.Nil(t, v.Role(id))
	}
	t.Logf("%d assignments lost the race with a delete and were refused after append", raced)
}
