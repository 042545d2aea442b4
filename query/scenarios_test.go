package query_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/refmodel"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// scenario is one block of testdata/scenarios.txt, run step by step.
type scenario struct {
	t      *testing.T
	st     *index.Store
	eng    *query.Engine
	model  *refmodel.Model
	rev    uint64
	roles  map[string]string // name → id
	checks int
}

func (s *scenario) apply(ns, agg string, p events.Payload) {
	s.rev++
	ev := events.Event{Revision: s.rev, Data: p, Envelope: events.Envelope{
		Type: p.EventType(), Namespace: ns, AggregateID: agg, OccurredAt: time.Unix(0, 0).UTC(),
	}}
	require.NoError(s.t, s.st.Apply([]events.Event{ev}))
}

func (s *scenario) step(line string, lineNo int) {
	f := strings.Fields(line)
	where := fmt.Sprintf("scenarios.txt:%d: %s", lineNo, line)
	switch f[0] {
	case "role":
		name, rest := f[1], f[2:]
		wild := len(rest) > 0 && rest[0] == "wildcard"
		if wild {
			rest = rest[1:]
		}
		id := fmt.Sprintf("role-%d", len(s.roles))
		var ps []events.Permission
		mr := &refmodel.Role{ID: id, Name: name, Wildcard: wild, Perms: map[string]uint8{}}
		for _, p := range rest {
			res, act, ok := strings.Cut(p, "=")
			require.True(s.t, ok, where)
			a, err := strconv.Atoi(act)
			require.NoError(s.t, err, where)
			canon, err := perm.CanonicalTag(res)
			require.NoError(s.t, err, where)
			ps = append(ps, events.Permission{Resource: canon, Action: uint8(a)})
			mr.AddPerms([]string{res}, []uint8{uint8(a)})
		}
		s.roles[name] = id
		s.model.Roles[id] = mr
		s.apply(events.PlatformNamespace, id, events.RoleCreated{RoleID: id, RoleName: name, IsWildcard: wild, Permissions: ps})
	case "assign":
		var nss []string
		if len(f) > 4 {
			nss = strings.Split(f[4], ",")
		}
		id := s.roles[f[3]]
		require.NotEmpty(s.t, id, where)
		s.model.Assign(f[1], f[2], id, nss)
		s.apply(f[1], f[2], events.UserRoleAssigned{UserID: f[2], RoleID: id, AssignedNamespaces: nss})
	case "unassign":
		id := s.roles[f[3]]
		s.model.Unassign(f[1], f[2], id)
		s.apply(f[1], f[2], events.UserRoleUnassigned{UserID: f[2], RoleID: id})
	case "delete":
		id := s.roles[f[1]]
		s.model.DeleteRole(id)
		s.apply(events.PlatformNamespace, id, events.RoleDeleted{RoleID: id})
	case "check":
		require.Len(s.t, f, 6, where)
		act, err := strconv.Atoi(f[4])
		require.NoError(s.t, err, where)
		want := f[5] == "allow"
		require.True(s.t, want || f[5] == "deny", where)
		res, err := s.eng.Check(context.Background(), &query.CheckRequest{
			Subject: query.Subject{Type: "user", ID: f[1]}, Namespace: f[2], Resource: f[3], Action: perm.Action(act), Explain: true,
		})
		require.NoError(s.t, err, where)
		assert.Equal(s.t, want, res.Allowed, "%s (index): %s", where, res.Explanation.Summary)
		assert.Equal(s.t, want, s.model.Check(f[1], f[2], f[3], uint8(act)), "%s (reference model)", where)
		assert.Equal(s.t, s.rev, res.Revision, where)
		assert.Equal(s.t, res.Allowed, len(res.Explanation.Grants) > 0, "%s: explanation agrees with the answer", where)
		s.checks++
	default:
		s.t.Fatalf("%s: unknown directive %q", where, f[0])
	}
}

func TestGoldenScenarios(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "scenarios.txt"))
	require.NoError(t, err)
	defer f.Close()
	type block struct {
		name  string
		lines []string
		nos   []int
	}
	var blocks []*block
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if name, ok := strings.CutPrefix(line, "scenario "); ok {
			blocks = append(blocks, &block{name: name})
			continue
		}
		require.NotEmpty(t, blocks, "line %d before the first scenario", n)
		b := blocks[len(blocks)-1]
		b.lines = append(b.lines, line)
		b.nos = append(b.nos, n)
	}
	require.NoError(t, sc.Err())
	require.GreaterOrEqual(t, len(blocks), 10)
	total := 0
	for _, b := range blocks {
		t.Run(b.name, func(t *testing.T) {
			st, err := index.Open(index.Options{Dir: filepath.Join(t.TempDir(), "index"), Logger: testutil.Quiet})
			require.NoError(t, err)
			defer st.Close()
			s := &scenario{t: t, st: st, eng: query.New(query.Config{}, st, nil), model: refmodel.New(), roles: map[string]string{}}
			for i, line := range b.lines {
				s.step(line, b.nos[i])
			}
			require.Positive(t, s.checks, "a scenario must check something")
			total += s.checks
		})
	}
	t.Logf("%d scenarios, %d checks", len(blocks), total)
}

func TestCheckAllocatesNothing(t *testing.T) {
	st, err := index.Open(index.Options{Dir: filepath.Join(t.TempDir(), "index"), Logger: testutil.Quiet})
	require.NoError(t, err)
	defer st.Close()
	s := &scenario{t: t, st: st, eng: query.New(query.Config{}, st, nil), model: refmodel.New(), roles: map[string]string{}}
	s.step("role A NAMESPACE:{namespace}:USER:{userId}:ORDER=2 NAMESPACE:{namespace}:X=15", 1)
	s.step("role W wildcard NAMESPACE:{namespace}:Y=2", 2)
	s.step("assign ns u A a,b,c", 3)
	s.step("assign ns u W", 4)
	ctx := context.Background()
	for _, res := range []string{"NAMESPACE:c:USER:u:ORDER", "NAMESPACE:ns:Y", "NAMESPACE:d:X"} {
		req := &query.CheckRequest{Subject: query.Subject{Type: "user", ID: "u"}, Namespace: "ns", Resource: res, Action: perm.Read}
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := s.eng.Check(ctx, req); err != nil {
				t.Fatal(err)
			}
		})
		assert.Zero(t, allocs, "check of %s allocates", res)
	}
}
