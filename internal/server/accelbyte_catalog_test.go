package server_test

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/catalogs"
)

var pathParam = regexp.MustCompile(`\{[A-Za-z0-9]+\}`)

// agsSample is one catalog row checked by endpoint, with the values its
// path parameters are given.
type agsSample struct {
	e      catalogs.Endpoint
	i      int
	user   string            // the subject, also the path's {userId}
	vals   map[string]string // path parameter values
	path   string            // the concrete request path
	routed bool              // the raw path routes to this row (see agsRouteWinners)
}

// fill replaces every {param} of s by its value in vals.
func fill(s string, vals map[string]string) string {
	return pathParam.ReplaceAllStringFunc(s, func(p string) string {
		if v, ok := vals[p[1:len(p)-1]]; ok {
			return v
		}
		return p
	})
}

// agsRouteWinners: for each method and path shape (parameters blanked),
// the row a raw request path routes to: the first by service, then name
// (rows of one shape differ only in parameter names, or are AccelByte's
// alternative permissions of one deprecated endpoint).
func agsRouteWinners(eps []catalogs.Endpoint) map[[2]string]bool {
	best := map[string]catalogs.Endpoint{}
	for _, e := range eps {
		k := e.Method + " " + pathParam.ReplaceAllString(e.Path, "{}")
		if b, ok := best[k]; !ok || e.Service < b.Service || e.Service == b.Service && e.Name < b.Name {
			best[k] = e
		}
	}
	out := map[[2]string]bool{}
	for _, e := range best {
		out[[2]string{e.Service, e.Name}] = true
	}
	return out
}

// TestAccelByteCatalogWhole: the whole AccelByte catalog loads on a real
// server (again: nothing appended), and a deterministic sample of over 500
// rows spread over every service is checked by endpoint, by name and by raw
// request path: allowed for a user holding a role with exactly the bound
// permission, denied for one holding the same resource with other actions,
// in another namespace, and for another value of a path parameter.
func TestAccelByteCatalogWhole(t *testing.T) {
	srv, c := startServer(t, t.TempDir())
	eps, err := catalogs.Endpoints("accelbyte")
	require.NoError(t, err)
	require.Len(t, eps, 1840)

	// A caller without ADMIN:ENDPOINT Create|Update is refused and changes nothing.
	low := c.must(http.StatusCreated, "POST", "/v1/namespaces/lowns/tokens", obj{"name": "low",
		"permissions": []obj{{"resource": "NAMESPACE:{namespace}:MATCH", "action": 2}}})
	before := srv.Store().Applied()
	lc := newClient(t, srv.HTTPAddr(), low["token"].(string))
	code, body := lc.do("POST", "/v1/catalogs/endpoints/accelbyte", nil)
	assert.Equal(t, http.StatusForbidden, code, "%v", body)
	code, _ = lc.do("PUT", "/v1/endpoints/mine/X", obj{"method": "GET", "path": "/x/{id}", "resource": "ADMIN:X:{id}", "action": 2})
	assert.Equal(t, http.StatusForbidden, code)
	assert.Equal(t, before, srv.Store().Applied(), "refused: nothing appended")

	start := time.Now()
	out := c.must(http.StatusOK, "POST", "/v1/catalogs/endpoints/accelbyte", nil)
	t.Logf("loading %d endpoints took %v", len(eps), time.Since(start))
	assert.InDelta(t, 1840, out["endpoints"], 0)
	applied := srv.Store().Applied()
	again := c.must(http.StatusOK, "POST", "/v1/catalogs/endpoints/accelbyte", nil)
	assert.Equal(t, out["revision"], again["revision"])
	assert.Equal(t, applied, srv.Store().Applied(), "loading again appends nothing")
	list := c.must(http.StatusOK, "GET", "/v1/endpoints", nil)
	assert.Len(t, list["data"], 1840)

	for _, ns := range []string{"agsns", "otherns"} {
		c.must(http.StatusCreated, "POST", "/v1/namespaces", obj{"namespace": ns, "defaultRoles": []string{}})
	}
	winners := agsRouteWinners(eps)
	seen := map[string]bool{}
	var samples []agsSample
	for i, e := range eps {
		if i%3 != 0 && seen[e.Service] {
			continue
		}
		seen[e.Service] = true
		s := agsSample{e: e, i: i, user: fmt.Sprintf("u%d", i), vals: map[string]string{}, routed: winners[[2]string{e.Service, e.Name}]}
		for _, p := range pathParam.FindAllString(e.Path, -1) {
			s.vals[p[1:len(p)-1]] = fmt.Sprintf("p%dz", i)
		}
		s.vals["namespace"], s.vals["userId"] = "agsns", s.user
		s.path = fill(e.Path, s.vals)
		samples = append(samples, s)
	}
	require.GreaterOrEqual(t, len(samples), 500)
	assert.Len(t, seen, 23, "every service is sampled")

	// Roles: R<i> holds exactly the row's permission, with its path
	// parameters given their values ({namespace} and {userId} stay: the
	// assignment and the subject bind them); W<i> the same resource with
	// every other action.
	var assignments []obj
	for _, s := range samples {
		res := fill(s.e.Resource, mapWithout(s.vals, "namespace", "userId"))
		for _, r := range []struct {
			name   string
			action int
			user   string
		}{{"R", int(s.e.Action), s.user}, {"W", 15 &^ int(s.e.Action), "w" + s.user}} {
			role := c.must(http.StatusCreated, "POST", "/v1/roles", obj{"roleName": fmt.Sprintf("%s%d", r.name, s.i),
				"permissions": []obj{{"resource": res, "action": r.action}}})
			assignments = append(assignments, obj{"userId": r.user, "roleId": role["roleId"], "assignedNamespaces": []string{"agsns"}})
		}
	}
	as := c.must(http.StatusCreated, "POST", "/v1/namespaces/agsns/assignments:batch", obj{"assignments": assignments})

	type want struct {
		check   obj
		allowed bool
		what    string
	}
	var checks []want
	user := func(id string) obj { return obj{"type": "user", "id": id} }
	for _, s := range samples {
		named := obj{"service": s.e.Service, "name": s.e.Name, "params": s.vals}
		raw := obj{"method": s.e.Method, "path": s.path}
		tag := fmt.Sprintf("row %d %s/%s %s %s", s.i, s.e.Service, s.e.Name, s.e.Method, s.path)
		checks = append(checks,
			want{obj{"subject": user(s.user), "namespace": "agsns", "endpoint": named}, true, "allowed by name: " + tag},
			want{obj{"subject": user("w" + s.user), "namespace": "agsns", "endpoint": named}, false, "other actions, by name: " + tag})
		if s.routed {
			checks = append(checks,
				want{obj{"subject": user(s.user), "namespace": "agsns", "endpoint": raw}, true, "allowed by raw path: " + tag},
				want{obj{"subject": user("w" + s.user), "namespace": "agsns", "endpoint": raw}, false, "other actions, by raw path: " + tag})
		}
		if strings.Contains(s.e.Resource, "{namespace}") {
			other := mapWith(s.vals, "namespace", "otherns")
			checks = append(checks, want{obj{"subject": user(s.user), "namespace": "agsns",
				"endpoint": obj{"service": s.e.Service, "name": s.e.Name, "params": other}}, false, "another namespace: " + tag})
			if s.routed && strings.Contains(s.e.Path, "{namespace}") {
				checks = append(checks, want{obj{"subject": user(s.user), "namespace": "agsns",
					"endpoint": obj{"method": s.e.Method, "path": fill(s.e.Path, other)}}, false, "another namespace, by raw path: " + tag})
			}
		}
		for _, p := range pathParam.FindAllString(s.e.Resource, -1) {
			if name := p[1 : len(p)-1]; name != "namespace" && name != "userId" {
				other := mapWith(s.vals, name, "otherval")
				checks = append(checks, want{obj{"subject": user(s.user), "namespace": "agsns",
					"endpoint": obj{"method": s.e.Method, "path": fill(s.e.Path, other)}}, false, "another " + name + ": " + tag})
			}
		}
	}
	t.Logf("%d samples, %d checks", len(samples), len(checks))
	for lo := 0; lo < len(checks); lo += 1000 {
		hi := min(lo+1000, len(checks))
		batch := make([]obj, 0, hi-lo)
		for _, w := range checks[lo:hi] {
			batch = append(batch, w.check)
		}
		res := c.must(http.StatusOK, "POST", "/v1/checks", obj{"checks": batch, "atLeastRevision": as["revision"]})
		results, _ := res["results"].([]any)
		require.Len(t, results, hi-lo)
		for k, r := range results {
			item, _ := r.(map[string]any)
			assert.Empty(t, item["errorCode"], "%s: %v", checks[lo+k].what, item)
			assert.Equal(t, checks[lo+k].allowed, item["allowed"], checks[lo+k].what)
		}
	}
}

func mapWith(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m))
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

func mapWithout(m map[string]string, ks ...string) map[string]string {
	out := make(map[string]string, len(m))
	for a, b := range m {
		out[a] = b
	}
	for _, k := range ks {
		delete(out, k)
	}
	return out
}

// TestAccelByteParamTemplates: the four required templates naming a path
// parameter other than {namespace} and {userId} register (they are in the
// catalog, and as new registrations), bind from the path, and a
// placeholder the path lacks is refused at registration.
func TestAccelByteParamTemplates(t *testing.T) {
	_, c := startServer(t, t.TempDir())
	c.must(http.StatusOK, "POST", "/v1/catalogs/endpoints/accelbyte", nil)
	for _, ns := range []string{"foo", "bar"} {
		c.must(http.StatusCreated, "POST", "/v1/namespaces", obj{"namespace": ns, "defaultRoles": []string{}})
	}
	cases := []struct {
		resource, method, path, raw, other string
		action                             int
	}{
		{"ADMIN:NAMESPACE:{namespace}:CLIENT:{clientId}", "DELETE", "/iam/namespaces/{namespace}/clients/{clientId}",
			"/iam/namespaces/foo/clients/abc", "/iam/namespaces/foo/clients/abd", 8},
		{"ADMIN:NAMESPACE:{namespace}:PLATFORM:{platformId}:CLIENT", "GET", "/iam/v3/admin/namespaces/{namespace}/platforms/{platformId}/clients",
			"/iam/v3/admin/namespaces/foo/platforms/steam/clients", "/iam/v3/admin/namespaces/foo/platforms/epic/clients", 2},
		{"ADMIN:NAMESPACE:{namespace}:PLATFORM:{platformId}:SSO", "POST", "/iam/v3/admin/namespaces/{namespace}/platforms/{platformId}/sso",
			"/iam/v3/admin/namespaces/foo/platforms/azure/sso", "/iam/v3/admin/namespaces/bar/platforms/azure/sso", 1},
		{"ADMIN:NAMESPACE:{namespace}:GROUP:{groupId}", "PUT", "/mygroup/admin/namespaces/{namespace}/groups/{groupId}",
			"/mygroup/admin/namespaces/foo/groups/g-1", "/mygroup/admin/namespaces/foo/groups/g-2", 4},
	}
	for i, cs := range cases {
		name := fmt.Sprintf("Ep%d", i)
		c.must(http.StatusOK, "PUT", "/v1/endpoints/mine/"+name, obj{"method": cs.method, "path": cs.path, "resource": cs.resource, "action": cs.action})
		bound := fill(cs.resource, map[string]string{"clientId": "abc", "platformId": "", "groupId": "g-1"})
		switch {
		case strings.Contains(cs.raw, "steam"):
			bound = strings.Replace(cs.resource, "{platformId}", "steam", 1)
		case strings.Contains(cs.raw, "azure"):
			bound = strings.Replace(cs.resource, "{platformId}", "azure", 1)
		}
		role := c.must(http.StatusCreated, "POST", "/v1/roles", obj{"roleName": fmt.Sprintf("P%d", i),
			"permissions": []obj{{"resource": bound, "action": cs.action}}})
		as := c.must(http.StatusCreated, "POST", fmt.Sprintf("/v1/namespaces/foo/users/pu%d/roles", i), obj{"roleId": role["roleId"], "assignedNamespaces": []string{"foo"}})
		check := func(ep obj) bool {
			return c.check(obj{"subject": obj{"type": "user", "id": fmt.Sprintf("pu%d", i)}, "namespace": "foo", "endpoint": ep, "atLeastRevision": as["revision"]})
		}
		assert.True(t, check(obj{"method": cs.method, "path": cs.raw}), cs.resource)
		assert.True(t, check(obj{"service": "mine", "method": cs.method, "path": cs.raw}), cs.resource)
		assert.False(t, check(obj{"method": cs.method, "path": cs.other}), cs.resource)
		vals := map[string]string{"namespace": "foo", "clientId": "abc", "groupId": "g-1", "platformId": "steam"}
		if strings.Contains(cs.raw, "azure") {
			vals["platformId"] = "azure"
		}
		assert.True(t, check(obj{"service": "mine", "name": name, "params": vals}), cs.resource)
		// A parameter not given: a clear error, not an answer.
		code, body := c.do("POST", "/v1/check", obj{"subject": obj{"type": "user", "id": "pu0"}, "namespace": "foo",
			"endpoint": obj{"service": "mine", "name": name, "params": obj{"namespace": "foo"}}})
		assert.Equal(t, http.StatusBadRequest, code, "%s: %v", cs.resource, body)
		assert.Contains(t, body["errorMessage"], "cannot be bound")
	}
	// A placeholder that is not a parameter of the path is refused, and
	// changes nothing.
	code, body := c.do("PUT", "/v1/endpoints/mine/Bad", obj{"method": "GET", "path": "/iam/v3/admin/namespaces/{namespace}/clients",
		"resource": "ADMIN:NAMESPACE:{namespace}:CLIENT:{clientId}", "action": 2})
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "invalidPermission", body["errorCode"])
	assert.Contains(t, body["errorMessage"], "not a path parameter of the endpoint's path (it has {namespace})")
	code, _ = c.do("PUT", "/v1/endpoints/mine/Bad", obj{"resource": "ADMIN:CLIENT:{clientId}", "action": 2})
	assert.Equal(t, http.StatusBadRequest, code, "a template with path parameters needs the path")
	code, _ = c.do("PUT", "/v1/endpoints/mine/Bad", obj{"method": "GET", "path": "/a/x{id}", "resource": "ADMIN:X", "action": 2})
	assert.Equal(t, http.StatusBadRequest, code, "a parameter is a whole segment")
	// Granted permissions keep AccelByte's rule.
	code, body = c.do("POST", "/v1/roles", obj{"roleName": "Bad", "permissions": []obj{{"resource": "ADMIN:NAMESPACE:{namespace}:CLIENT:{clientId}", "action": 2}}})
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body["errorMessage"], "only {namespace} and {userId} are allowed")
	code, _ = c.do("GET", "/v1/endpoints", nil)
	require.Equal(t, http.StatusOK, code)
	list := c.must(http.StatusOK, "GET", "/v1/endpoints", nil)
	var names []string
	for _, e := range list["data"].([]any) {
		if m := e.(map[string]any); m["service"] == "mine" {
			names = append(names, m["name"].(string))
		}
	}
	sort.Strings(names)
	assert.Equal(t, []string{"Ep0", "Ep1", "Ep2", "Ep3"}, names)
}

// TestCheckByRawPathSeveralParams: a raw request path with several
// parameters binds each; literal segments beat parameters.
func TestCheckByRawPathSeveralParams(t *testing.T) {
	_, c := startServer(t, t.TempDir())
	c.must(http.StatusOK, "POST", "/v1/catalogs/endpoints/accelbyte", nil)
	c.must(http.StatusCreated, "POST", "/v1/namespaces", obj{"namespace": "foo", "defaultRoles": []string{}})
	role := c.must(http.StatusCreated, "POST", "/v1/roles", obj{"roleName": "Ach",
		"permissions": []obj{{"resource": "ADMIN:NAMESPACE:{namespace}:USER:{userId}:ACHIEVEMENT", "action": 8}}})
	as := c.must(http.StatusCreated, "POST", "/v1/namespaces/foo/users/888/roles", obj{"roleId": role["roleId"], "assignedNamespaces": []string{"foo"}})
	ck := func(subject, path string) map[string]any {
		return c.must(http.StatusOK, "POST", "/v1/check", obj{"subject": obj{"type": "user", "id": subject}, "namespace": "foo", "explain": true,
			"atLeastRevision": as["revision"], "endpoint": obj{"method": "DELETE", "path": path}})
	}
	// /achievement/v1/admin/namespaces/{namespace}/users/{userId}/achievements/{achievementCode}/reset
	out := ck("888", "/achievement/v1/admin/namespaces/foo/users/888/achievements/win-1/reset")
	assert.Equal(t, true, out["allowed"])
	assert.Equal(t, "ADMIN:NAMESPACE:foo:USER:888:ACHIEVEMENT", out["explanation"].(map[string]any)["required"].(map[string]any)["resource"])
	// {userId} binds to the path's user (the one the request is about),
	// the grant's {userId} to the subject: 888 may not reset 999's.
	out = ck("888", "/achievement/v1/admin/namespaces/foo/users/999/achievements/win-1/reset")
	assert.Equal(t, false, out["allowed"])
	assert.Equal(t, "ADMIN:NAMESPACE:foo:USER:999:ACHIEVEMENT", out["explanation"].(map[string]any)["required"].(map[string]any)["resource"])
	out = ck("888", "/achievement/v1/admin/namespaces/bar/users/888/achievements/win-1/reset")
	assert.Equal(t, false, out["allowed"])
	// The query string is not part of the path.
	out = ck("888", "/achievement/v1/admin/namespaces/foo/users/888/achievements/win-1/reset?force=true")
	assert.Equal(t, true, out["allowed"])

	// Not a route of the catalog: 404 with what to do; bad input: 400.
	code, body := c.do("POST", "/v1/check", obj{"subject": obj{"type": "user", "id": "888"}, "namespace": "foo",
		"endpoint": obj{"method": "GET", "path": "/nowhere/at/all"}})
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, "endpointNotFound", body["errorCode"])
	for _, ep := range []obj{
		{"method": "GET"},
		{"path": "/iam/v3/admin/roles"},
		{"method": "GET", "path": "iam/v3"},
		{"method": "GET", "path": "/iam/v3/admin/roles", "name": "X"},
		{"method": "GET", "path": "/" + strings.Repeat("a", 3000)},
		{},
	} {
		code, body := c.do("POST", "/v1/check", obj{"subject": obj{"type": "user", "id": "888"}, "namespace": "foo", "endpoint": ep})
		assert.Equal(t, http.StatusBadRequest, code, "%v: %v", ep, body)
		assert.Equal(t, "invalidEndpoint", body["errorCode"], "%v", ep)
	}
	// A path value that is not a literal segment cannot be bound.
	code, body = c.do("POST", "/v1/check", obj{"subject": obj{"type": "user", "id": "888"}, "namespace": "foo",
		"endpoint": obj{"method": "DELETE", "path": "/achievement/v1/admin/namespaces/foo/users/8%2088/achievements/w/reset"}})
	assert.Equal(t, http.StatusBadRequest, code, "%v", body)
}
