package index

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/catalogs"
	"github.com/grantlog/grantlog/perm"
)

// catalogRequests applies AccelByte's whole catalog to ts and returns one
// concrete request per endpoint (each parameter given a value).
func catalogRequests(tb testing.TB, ts *testStore) (methods, paths []string) {
	eps, err := catalogs.Endpoints("accelbyte")
	require.NoError(tb, err)
	var l log
	evs := make([]events.Event, 0, len(eps))
	param := regexp.MustCompile(`\{[A-Za-z0-9]+\}`)
	for i, e := range eps {
		evs = append(evs, l.next(events.PlatformNamespace, events.EndpointRegistered{Service: e.Service, Name: e.Name,
			Method: e.Method, Path: e.Path, Resource: e.Resource, Action: uint8(e.Action)}))
		methods = append(methods, e.Method)
		paths = append(paths, param.ReplaceAllString(e.Path, "v"+strconv.Itoa(i)))
	}
	require.NoError(tb, ts.Apply(evs))
	return methods, paths
}

// TestMatchRouteWholeCatalog: every endpoint of the catalog is found by a
// concrete request of its path, as itself or as the row its shape routes
// to first (AccelByte's alternatives of one endpoint).
func TestMatchRouteWholeCatalog(t *testing.T) {
	ts := newMemStore(t)
	methods, paths := catalogRequests(t, ts)
	v := ts.Acquire()
	defer v.Release()
	var m RouteMatch
	for i := range paths {
		require.True(t, v.MatchRoute(methods[i], paths[i], "", &m), "%s %s", methods[i], paths[i])
		require.Len(t, m.Params(nil), len(m.Endpoint.PathParams()), "%s %s", methods[i], paths[i])
	}
}

// BenchmarkMatchRoute: finding the endpoint of a raw request path among
// AccelByte's 1,840 and reading its parameters, cycling over one request
// per endpoint.
func BenchmarkMatchRoute(b *testing.B) {
	ts := newMemStore(b)
	methods, paths := catalogRequests(b, ts)
	v := ts.Acquire()
	defer v.Release()
	var m RouteMatch
	params := make([]perm.Param, 0, MaxRouteParams)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i % len(paths)
		if !v.MatchRoute(methods[k], paths[k], "", &m) {
			b.Fatal(paths[k])
		}
		params = m.Params(params)
		i++
	}
}

// FuzzMatchRoute: any request path is answered without panic, and a match
// is right: the endpoint's path with its parameters replaced by the
// matched values is the request path (without query, fragment and one
// trailing '/'). Its seeds run with every go test; .ci/run does not fuzz it.
func FuzzMatchRoute(f *testing.F) {
	ts := newMemStore(f)
	methods, paths := catalogRequests(f, ts)
	for i := 0; i < len(paths); i += 37 {
		f.Add(methods[i], paths[i])
	}
	f.Add("GET", "/iam/v3/admin/namespaces/foo/clients/abc/?x=1#y")
	f.Add("get", "//")
	f.Add("GET", "/")
	f.Fuzz(func(t *testing.T, method, path string) {
		v := ts.Acquire()
		defer v.Release()
		var m RouteMatch
		if !v.MatchRoute(method, path, "", &m) {
			return
		}
		want := path
		if i := strings.IndexAny(want, "?#"); i >= 0 {
			want = want[:i]
		}
		if len(want) > 1 && strings.HasSuffix(want, "/") {
			want = want[:len(want)-1]
		}
		ps := m.Params(nil)
		k := 0
		got := regexp.MustCompile(`\{[A-Za-z0-9]+\}`).ReplaceAllStringFunc(m.Endpoint.Path, func(string) string {
			k++
			return ps[k-1].Value
		})
		if got != want || k != len(ps) || !strings.EqualFold(m.Endpoint.Method, method) {
			t.Fatalf("%s %q matched %s %s with %v: rebuilt %q", method, path, m.Endpoint.Method, m.Endpoint.Path, ps, got)
		}
	})
}
