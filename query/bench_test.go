package query_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

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
