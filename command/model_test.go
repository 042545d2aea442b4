package command_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/refmodel"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

var (
	grantSegs = []string{"NAMESPACE", "{namespace}", "USER", "{userId}", "{userid}", "*", "ns1", "ns2", "studio-", "u1", "ORDER", "PROFILE", "ADMIN"}
	reqSegs   = []string{"NAMESPACE", "USER", "ns1", "ns2", "ns3", "studio-a", "u1", "u2", "ORDER", "PROFILE", "*", "ADMIN", "{namespace}", "{userId}"}
	users     = []string{"u1", "u2", "u3"}
	nss       = []string{"ns1", "ns2", "ns3", "studio-a", "studio-"}
	roleNames = []string{"Alpha", "Beta", "Gamma", "Delta", "alpha"}
)

func randTag(r *rand.Rand, segs []string) string {
	n := 1 + r.IntN(5)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = segs[r.IntN(len(segs))]
	}
	return strings.Join(parts, ":")
}

func randPerms(r *rand.Rand, zeroOK bool) ([]perm.Permission, []string, []uint8) {
	n := 1 + r.IntN(4)
	ps := make([]perm.Permission, n)
	res := make([]string, n)
	acts := make([]uint8, n)
	for i := range ps {
		res[i] = randTag(r, grantSegs)
		acts[i] = uint8(1 + r.IntN(15))
		if zeroOK && r.IntN(3) == 0 {
			acts[i] = 0
		}
		ps[i] = perm.Permission{Resource: res[i], Action: perm.Action(acts[i])}
	}
	return ps, res, acts
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, command.ErrInvalid):
		return "invalid"
	case errors.Is(err, command.ErrNotFound):
		return "notFound"
	case errors.Is(err, command.ErrConflict):
		return "conflict"
	}
	return "error: " + err.Error()
}

// TestModelBased runs random command sequences through the real system
// (JetStream, projector, Pebble) and through the reference model, and
// compares random checks. Finally a second node replays the stream from zero
// and must hold an identical index and give identical answers.
func TestModelBased(t *testing.T) {
	steps := 400
	if testing.Short() {
		steps = 150
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			runModel(t, seed, steps)
		})
	}
}

func runModel(t *testing.T, seed uint64, steps int) {
	r := rand.New(rand.NewPCG(seed, 99))
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	node := testutil.StartNode(t, log, t.TempDir())
	model := refmodel.New()
	outcomes := map[string]int{}
	defer func() { t.Logf("command outcomes: %v", outcomes) }()
	var roleIDs []string // every id ever created, deleted ones too
	randRole := func() string {
		if len(roleIDs) == 0 || r.IntN(20) == 0 {
			return "00000000-0000-0000-0000-000000000000"
		}
		return roleIDs[r.IntN(len(roleIDs))]
	}

	for step := 0; step < steps; step++ {
		var got, want string
		switch op := r.IntN(10); op {
		case 0, 1: // create
			name := roleNames[r.IntN(len(roleNames))]
			ps, res, acts := randPerms(r, false)
			wild := r.IntN(3) == 0
			ev, _, err := node.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleName: name, IsWildcard: wild, Permissions: ps})
			got = outcome(err)
			want = "ok"
			if model.RoleByName(name) != nil {
				want = "conflict"
			}
			if err == nil {
				role := &refmodel.Role{ID: ev.RoleID, Name: name, Wildcard: wild, Perms: map[string]uint8{}}
				role.AddPerms(res, acts)
				model.Roles[ev.RoleID] = role
				roleIDs = append(roleIDs, ev.RoleID)
			}
		case 2: // update: toggle wildcard or rename
			id := randRole()
			wild := r.IntN(2) == 0
			name := roleNames[r.IntN(len(roleNames))]
			upd := command.UpdateRole{IsWildcard: &wild}
			rename := r.IntN(2) == 0
			if rename {
				upd.RoleName = &name
			}
			_, err := node.Commands.UpdateRole(ctx, testutil.Root(), id, upd)
			got = outcome(err)
			role := model.Roles[id]
			switch {
			case role == nil:
				want = "notFound"
			case rename && model.RoleByName(name) != nil && model.RoleByName(name) != role:
				want = "conflict"
			default:
				want = "ok"
			}
			if err == nil {
				role.Wildcard = wild
				if rename {
					role.Name = name
				}
			}
		case 3, 4: // add / remove / replace permissions
			id := randRole()
			op := command.PermissionOp(r.IntN(3))
			ps, res, acts := randPerms(r, op == command.RemovePermissions)
			_, err := node.Commands.ChangePermissions(ctx, testutil.Root(), id, op, ps)
			got = outcome(err)
			want = "ok"
			role := model.Roles[id]
			if role == nil {
				want = "notFound"
			}
			if err == nil {
				switch op {
				case command.AddPermissions:
					role.AddPerms(res, acts)
				case command.RemovePermissions:
					role.RemovePerms(res, acts)
				case command.ReplacePermissions:
					role.Perms = map[string]uint8{}
					role.AddPerms(res, acts)
				}
			}
		case 5: // delete (half as often as the others)
			if r.IntN(2) == 0 {
				continue
			}
			id := randRole()
			_, err := node.Commands.DeleteRole(ctx, testutil.Root(), id)
			got = outcome(err)
			want = "ok"
			if model.Roles[id] == nil {
				want = "notFound"
			}
			if err == nil {
				model.DeleteRole(id)
			}
		case 6, 7, 8: // assign
			id := randRole()
			ns, user := nss[r.IntN(3)], users[r.IntN(len(users))]
			var assigned []string
			for range r.IntN(3) {
				assigned = append(assigned, nss[r.IntN(len(nss))])
			}
			_, err := node.Commands.AssignRole(ctx, testutil.Root(), ns, user, id, assigned)
			got = outcome(err)
			role := model.Roles[id]
			switch {
			case role == nil:
				want = "notFound"
			case !role.Wildcard && len(assigned) == 0:
				want = "invalid"
			default:
				want = "ok"
			}
			if err == nil {
				model.Assign(ns, user, id, assigned)
			}
		case 9: // unassign
			id := randRole()
			ns, user := nss[r.IntN(3)], users[r.IntN(len(users))]
			_, err := node.Commands.UnassignRole(ctx, testutil.Root(), ns, user, id)
			got = outcome(err)
			want = "ok"
			if _, ok := model.Assigns[[3]string{ns, user, id}]; !ok {
				want = "notFound"
			}
			if err == nil {
				model.Unassign(ns, user, id)
			}
		}
		require.Equal(t, want, got, "step %d", step)
		outcomes[got]++
		if step%10 == 9 {
			compareChecks(t, r, node, model, 50)
		}
	}
	compareChecks(t, r, node, model, 500)

	// Replay from zero on a second node: identical index, identical answers.
	replica := testutil.StartNode(t, log, t.TempDir())
	testutil.WaitApplied(t, replica.Store, node.Store.Applied())
	assert.Equal(t, testutil.Dump(t, node.Store), testutil.Dump(t, replica.Store))
	compareChecks(t, r, replica, model, 500)
}

// deriveRequired makes a required tag and action near one of the role's grants.
func deriveRequired(r *rand.Rand, role *refmodel.Role, a *refmodel.Assignment, user, ctxNS string) (string, uint8) {
	if role == nil || len(role.Perms) == 0 {
		return randTag(r, reqSegs), uint8(1 + r.IntN(15))
	}
	keys := make([]string, 0, len(role.Perms))
	for k := range role.Perms {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	res := keys[r.IntN(len(keys))]
	act := role.Perms[res]
	ns := ctxNS
	if !role.Wildcard && len(a.Namespaces) > 0 {
		ns = a.Namespaces[r.IntN(len(a.Namespaces))]
	}
	if strings.HasSuffix(ns, "-") && r.IntN(2) == 0 {
		ns += "game1"
	}
	segs := strings.Split(res, ":")
	for i, s := range segs {
		switch {
		case s == "{namespace}":
			segs[i] = ns
		case s == "{userId}":
			segs[i] = user
		case s == "*" && r.IntN(2) == 0:
			segs[i] = reqSegs[r.IntN(len(reqSegs)-2)]
		case strings.HasSuffix(s, "-") && r.IntN(2) == 0:
			segs[i] = s + "x"
		}
	}
	switch r.IntN(4) {
	case 0:
		segs = append(segs, reqSegs[r.IntN(len(reqSegs)-2)])
	case 1:
		if len(segs) > 1 {
			segs = segs[:len(segs)-1]
		}
	}
	// A subset of the granted action bits, sometimes one bit more.
	want := act & uint8(1+r.IntN(15))
	if want == 0 || r.IntN(5) == 0 {
		want |= 1 << r.IntN(4)
	}
	return strings.Join(segs, ":"), want
}

func compareChecks(t *testing.T, r *rand.Rand, node *testutil.Node, model *refmodel.Model, n int) {
	t.Helper()
	ctx := context.Background()
	allowed := 0
	var assigns []*refmodel.Assignment
	for _, a := range model.Assigns {
		assigns = append(assigns, a)
	}
	sort.Slice(assigns, func(i, j int) bool { return fmt.Sprint(*assigns[i]) < fmt.Sprint(*assigns[j]) })
	for range n {
		user := users[r.IntN(len(users))]
		ctxNS := nss[r.IntN(4)]
		res := randTag(r, reqSegs)
		act := uint8(1 + r.IntN(15))
		if len(assigns) > 0 && r.IntN(2) == 0 {
			// Derive the check from a grant the user holds, so that about
			// half the checks probe near the edge of what is allowed.
			a := assigns[r.IntN(len(assigns))]
			user = a.UserID
			res, act = deriveRequired(r, model.Roles[a.RoleID], a, user, ctxNS)
		}
		want := model.Check(user, ctxNS, res, act)
		got, err := node.Query.Check(ctx, &query.CheckRequest{
			Subject: query.Subject{Type: "user", ID: user}, Namespace: ctxNS, Resource: res, Action: perm.Action(act),
		})
		require.NoError(t, err)
		if want != got.Allowed {
			ex, _ := node.Query.Check(ctx, &query.CheckRequest{
				Subject: query.Subject{Type: "user", ID: user}, Namespace: ctxNS, Resource: res, Action: perm.Action(act), Explain: true,
			})
			require.Failf(t, "check differs from the reference model", "user=%s ns=%s %s [%d]: model %v, index %v; explanation %+v",
				user, ctxNS, res, act, want, got.Allowed, ex.Explanation)
		}
		if want {
			allowed++
		}
	}
	t.Logf("%d/%d checks allowed", allowed, n)
}
