package command_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/refmodel"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/projector"
	"github.com/grantlog/grantlog/query"
)

// batchAll makes every group of two or more events one atomic batch, so
// that tests exercise the batch path with a handful of writers.
func batchAll(c *command.Config) { c.GroupBatchMin = 2 }

// streamEvents reads every event of the stream in order, with its
// message id.
func streamEvents(t *testing.T, log *testutil.Log) ([]events.Event, []string) {
	t.Helper()
	ctx := context.Background()
	info, err := log.Stream.Info(ctx)
	require.NoError(t, err)
	reg := events.NewRegistry()
	var evs []events.Event
	var ids []string
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
		msg, err := log.Stream.GetMsg(ctx, seq)
		require.NoError(t, err)
		ev, err := reg.Decode(msg.Data)
		require.NoError(t, err)
		ev.Revision = seq
		evs = append(evs, ev)
		ids = append(ids, msg.Header.Get(jetstream.MsgIDHeader))
	}
	return evs, ids
}

// TestGroupCommitNoLostUpdate races eight writers on two command nodes
// (both appending in groups, every group of two or more as one atomic
// batch) over four namespaces: writers of one node land in the same
// batch when they write different namespaces, and the two nodes conflict
// on the same namespace. Every command is answered with its own
// revision (the stream holds its event there, once); every event was
// decided on the state the stream's order gives it (its "before" is the
// sequential replay's state: no lost update); and both indexes end as
// the reference model replaying the stream says.
func TestGroupCommitNoLostUpdate(t *testing.T) {
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	nodes := []*testutil.Node{
		testutil.StartNodeWith(t, log, t.TempDir(), batchAll),
		testutil.StartNodeWith(t, log, t.TempDir(), batchAll),
	}
	role, rev, err := nodes[0].Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleID: "r",
		RoleName: "R", Permissions: []perm.Permission{{Resource: "NAMESPACE:{namespace}:ITEM", Action: perm.Read}}})
	require.NoError(t, err)
	testutil.WaitApplied(t, nodes[1].Store, rev)

	nss := []string{"g1", "g2", "g3", "g4"}
	users := []string{"u1", "u2"}
	type answer struct {
		key string
		rev uint64
	}
	var (
		mu      sync.Mutex
		answers []answer
	)
	batches := func() int64 {
		return nodes[0].Commands.GroupCommitStats().Batched + nodes[1].Commands.GroupCommitStats().Batched
	}
	for round := 0; round < 10 && (round < 2 || batches() == 0); round++ {
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				n := nodes[w%2]
				for i := range 25 {
					m := testutil.Root()
					m.CommandID = fmt.Sprintf("r%dw%di%d", round, w, i)
					ns, user := nss[r.IntN(len(nss))], users[r.IntN(len(users))]
					var rev uint64
					var err error
					if r.IntN(3) == 0 {
						rev, err = n.Commands.UnassignRole(ctx, m, ns, user, role.RoleID)
						if err != nil {
							assert.ErrorIs(t, err, command.ErrNotFound)
							continue
						}
					} else {
						assigned := []string{ns}
						if r.IntN(2) == 0 {
							assigned = append(assigned, "extra"+fmt.Sprint(r.IntN(3)))
						}
						rev, err = n.Commands.AssignRole(ctx, m, ns, user, role.RoleID, assigned)
						if !assert.NoError(t, err) {
							return
						}
					}
					mu.Lock()
					answers = append(answers, answer{m.CommandID, rev})
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	for i, n := range nodes {
		t.Logf("node %d: %+v", i, n.Commands.GroupCommitStats())
	}
	require.Positive(t, batches(), "concurrent writers of one node must have shared an atomic batch")

	evs, ids := streamEvents(t, log)
	// Each command is answered with its own revision; its event is
	// stored once.
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	for _, a := range answers {
		id := command.DeriveCommandID(testutil.Root().Caller, a.key)
		require.Equal(t, id, ids[a.rev-1], "command %s answered with revision %d, which holds another event", a.key, a.rev)
		require.Equal(t, 1, seen[id], "command %s stored %d times", a.key, seen[id])
	}
	// Sequential replay: each event's "before" is the state the events
	// before it (in stream order) left.
	model := refmodel.New()
	for _, ev := range evs {
		switch p := ev.Data.(type) {
		case events.UserRoleAssigned:
			k := [3]string{ev.Namespace, p.UserID, p.RoleID}
			cur := model.Assigns[k]
			if p.Before == nil {
				require.Nil(t, cur, "revision %d assigned over an assignment it did not see: lost update", ev.Revision)
			} else {
				require.NotNil(t, cur, "revision %d replaced an assignment that no longer existed", ev.Revision)
				require.ElementsMatch(t, cur.Namespaces, p.Before.AssignedNamespaces, "revision %d decided on a stale assignment", ev.Revision)
			}
			model.Assign(ev.Namespace, p.UserID, p.RoleID, p.AssignedNamespaces)
		case events.UserRoleUnassigned:
			require.True(t, model.Unassign(ev.Namespace, p.UserID, p.RoleID), "revision %d ended an assignment that did not exist", ev.Revision)
		}
	}
	last := evs[len(evs)-1].Revision
	for _, n := range nodes {
		testutil.WaitApplied(t, n.Store, last)
		v := n.Store.Acquire()
		got := map[[3]string][]string{}
		for _, u := range users {
			for _, a := range v.Assignments(u) {
				got[[3]string{a.Namespace, a.UserID, a.RoleID()}] = slices.Sorted(slices.Values(a.AssignedNamespaces))
			}
		}
		v.Release()
		want := map[[3]string][]string{}
		for k, a := range model.Assigns {
			want[k] = a.Namespaces
		}
		require.Equal(t, want, got)
	}
	require.Equal(t, testutil.Dump(t, nodes[0].Store), testutil.Dump(t, nodes[1].Store))
}

// TestGroupCommitRetryInBatch: a command retried with its Idempotency-Key
// through a node whose index has not seen its event (so the retry
// reaches the stream) shares a group with other commands. The batch is
// refused whole (its message id is stored), its members are appended one
// by one: the retry is answered with its one stored event, the others
// are stored, each at its own revision.
func TestGroupCommitRetryInBatch(t *testing.T) {
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
	staleCommands := command.New(command.Config{ApplyWait: time.Millisecond, GroupBatchMin: 2}, log.JS, log.Stream, stale,
		auth.NewAuthorizer(query.New(query.Config{}, stale, nil)))

	m := testutil.Root()
	m.CommandID = "assign-alice"
	rev, err := node.Commands.AssignRole(ctx, m, "ns1", "alice", role.RoleID, []string{"ns1"})
	require.NoError(t, err)

	for round := 0; round < 30 && staleCommands.GroupCommitStats().Split == 0; round++ {
		var wg sync.WaitGroup
		start := make(chan struct{})
		revs := make([]uint64, 6)
		for i := range revs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if i == 0 {
					again, err := staleCommands.AssignRole(ctx, m, "ns1", "alice", role.RoleID, []string{"ns1"})
					assert.NoError(t, err)
					revs[i] = again
					return
				}
				mo := testutil.Root()
				mo.CommandID = fmt.Sprintf("other-%d-%d", round, i)
				ns := fmt.Sprintf("other%d-%d", round, i)
				r, err := staleCommands.AssignRole(ctx, mo, ns, "bob", role.RoleID, []string{ns})
				assert.NoError(t, err)
				revs[i] = r
			}()
		}
		close(start)
		wg.Wait()
		assert.Equal(t, rev, revs[0], "the retry is answered with its one event")
		slices.Sort(revs[1:])
		assert.Len(t, slices.Compact(slices.Clone(revs[1:])), len(revs)-1, "every other command has a revision of its own")
	}
	st := staleCommands.GroupCommitStats()
	t.Logf("stale node: %+v", st)
	require.Positive(t, st.Split, "the retry must have shared a batch with other commands at least once")

	_, ids := streamEvents(t, log)
	stored := 0
	for _, id := range ids {
		if id == command.DeriveCommandID(m.Caller, "assign-alice") {
			stored++
		}
	}
	require.Equal(t, 1, stored, "the retried command is stored once")
}
