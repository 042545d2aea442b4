package query_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// BenchmarkCheck measures a check on a warm index of 100k users, 1k roles of
// 20 permissions, 100 namespaces, each user holding 1-3 roles in 1-5
// namespaces; about half the checks are allowed.
func BenchmarkCheck(b *testing.B) {
	shape := testutil.Shape{Namespaces: 100, Roles: 1000, PermsPerRole: 20, Users: 100_000,
		MaxRolesPerUse: 3, MaxNSPerAssign: 5, WildcardEvery: 50, Seed: 1}
	if testing.Short() {
		shape.Users = 10_000
	}
	eng, d := warmEngine(b, shape)
	checks := d.Checks(4096, 2)
	reqs := make([]query.CheckRequest, len(checks))
	for i, c := range checks {
		reqs[i] = query.CheckRequest{Subject: query.Subject{Type: "user", ID: c.User}, Namespace: c.Namespace,
			Resource: c.Resource, Action: perm.Action(c.Action)}
	}
	ctx := context.Background()
	allowed := 0
	for i := range reqs {
		res, err := eng.Check(ctx, &reqs[i])
		require.NoError(b, err)
		if res.Allowed {
			allowed++
		}
	}
	b.Logf("%d users, %d of %d sampled checks allowed", shape.Users, allowed, len(reqs))
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := eng.Check(ctx, &reqs[i%len(reqs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := eng.Check(ctx, &reqs[i%len(reqs)]); err != nil {
					b.Error(err)
					return
				}
				i += 7
			}
		})
	})
}

var (
	warmMu    sync.Mutex
	warmCache = map[testutil.Shape]*warm{}
)

type warm struct {
	eng *query.Engine
	d   *testutil.Dataset
}

// warmEngine builds (once per shape and process) an index of the dataset.
func warmEngine(b *testing.B, shape testutil.Shape) (*query.Engine, *testutil.Dataset) {
	b.Helper()
	warmMu.Lock()
	defer warmMu.Unlock()
	if w := warmCache[shape]; w != nil {
		return w.eng, w.d
	}
	d := testutil.GenerateDataset(shape)
	dir, err := filepathTemp()
	require.NoError(b, err)
	st, err := index.Open(index.Options{Dir: filepath.Join(dir, "index"), Logger: testutil.Quiet})
	require.NoError(b, err)
	for i := 0; i < len(d.Events); i += 5000 {
		require.NoError(b, st.Apply(d.Events[i:min(i+5000, len(d.Events))]))
	}
	w := &warm{eng: query.New(query.Config{}, st, nil), d: d}
	warmCache[shape] = w
	return w.eng, w.d
}

// BenchmarkCheckBatch measures a batch of query.MaxBatch checks (ns/op is
// per batch) on the index of BenchmarkCheck: random users ("mixed"), and
// one user's checks of many resources ("oneUser"), as a gateway asks them.
func BenchmarkCheckBatch(b *testing.B) {
	shape := testutil.Shape{Namespaces: 100, Roles: 1000, PermsPerRole: 20, Users: 100_000,
		MaxRolesPerUse: 3, MaxNSPerAssign: 5, WildcardEvery: 50, Seed: 1}
	if testing.Short() {
		shape.Users = 10_000
	}
	eng, d := warmEngine(b, shape)
	checks := d.Checks(query.MaxBatch, 4)
	mixed := &query.BatchRequest{}
	one := &query.BatchRequest{}
	for _, c := range checks {
		mixed.Checks = append(mixed.Checks, query.CheckRequest{Subject: query.Subject{Type: "user", ID: c.User},
			Namespace: c.Namespace, Resource: c.Resource, Action: perm.Action(c.Action)})
		u := checks[0]
		one.Checks = append(one.Checks, query.CheckRequest{Subject: query.Subject{Type: "user", ID: u.User},
			Namespace: c.Namespace, Resource: c.Resource, Action: perm.Action(c.Action)})
	}
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		req  *query.BatchRequest
	}{{"mixed", mixed}, {"oneUser", one}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var out query.BatchResult
			for b.Loop() {
				if err := eng.CheckBatchInto(ctx, bc.req, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheckByRawPath: a check naming an AGS endpoint by its raw
// request path (route lookup among AccelByte's 1,840 endpoints, binding,
// evaluation) against a user holding a role of 20 permissions, one of them
// the endpoint's; allowed and denied alternate. For comparison: the same
// checks naming the endpoint by service and name, and by resource.
func BenchmarkCheckByRawPath(b *testing.B) {
	dir := b.TempDir()
	l := testutil.StartLog(b, dir)
	n := testutil.StartNode(b, l, dir)
	ctx := context.Background()
	_, err := n.Commands.LoadEndpointCatalog(ctx, testutil.Root(), "accelbyte")
	require.NoError(b, err)
	ps := []perm.Permission{{Resource: "ADMIN:NAMESPACE:{namespace}:CLIENT", Action: perm.Read}}
	for i := range 19 {
		ps = append(ps, perm.Permission{Resource: "ADMIN:NAMESPACE:{namespace}:OBJ" + string(rune('A'+i)), Action: perm.CRUD})
	}
	role, _, err := n.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleName: "Bench", Permissions: ps})
	require.NoError(b, err)
	rev, err := n.Commands.AssignRole(ctx, testutil.Root(), "foo", "u1", role.RoleID, []string{"foo"})
	require.NoError(b, err)
	testutil.WaitApplied(b, n.Store, rev)
	u1 := query.Subject{Type: "user", ID: "u1"}
	for _, bc := range []struct {
		name string
		reqs [2]query.CheckRequest // allowed, denied
	}{
		{"rawPath", [2]query.CheckRequest{
			{Subject: u1, Namespace: "foo", Endpoint: &query.EndpointRef{Method: "GET", Path: "/iam/v3/admin/namespaces/foo/clients/abc"}},
			{Subject: u1, Namespace: "foo", Endpoint: &query.EndpointRef{Method: "DELETE", Path: "/iam/v3/admin/namespaces/foo/clients/abc"}},
		}},
		{"name", [2]query.CheckRequest{
			{Subject: u1, Namespace: "foo", Endpoint: &query.EndpointRef{Service: "iam", Name: "AdminGetClientsbyNamespacebyIDV3",
				Params: map[string]string{"namespace": "foo", "clientId": "abc"}}},
			{Subject: u1, Namespace: "foo", Endpoint: &query.EndpointRef{Service: "iam", Name: "AdminDeleteClientV3",
				Params: map[string]string{"namespace": "foo", "clientId": "abc"}}},
		}},
		{"resource", [2]query.CheckRequest{
			{Subject: u1, Namespace: "foo", Resource: "ADMIN:NAMESPACE:foo:CLIENT", Action: perm.Read},
			{Subject: u1, Namespace: "foo", Resource: "ADMIN:NAMESPACE:foo:CLIENT", Action: perm.Delete},
		}},
	} {
		for i, want := range []bool{true, false} {
			res, err := n.Query.Check(ctx, &bc.reqs[i])
			require.NoError(b, err, bc.name)
			require.Equal(b, want, res.Allowed, bc.name)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := n.Query.Check(ctx, &bc.reqs[i&1]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
