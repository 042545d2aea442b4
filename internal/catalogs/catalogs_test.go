package catalogs_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/catalogs"
	"github.com/grantlog/grantlog/perm"
)

// ---- file formats -----------------------------------------------------------

type permission struct {
	Resource string `json:"resource"`
	Action   int    `json:"action"`
}

type scope struct {
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Permissions []permission `json:"permissions"`
	Includes    []string     `json:"includes"`
}

type constrainedExample struct {
	Resource    string                                `json:"resource"`
	Action      int                                   `json:"action"`
	Constraints map[string]map[string]json.RawMessage `json:"constraints"`
	Note        string                                `json:"note"`
}

type scopeCatalog struct {
	Catalog  string               `json:"catalog"`
	Source   string               `json:"source"`
	Scopes   []scope              `json:"scopes"`
	Examples []constrainedExample `json:"examples"`
}

type endpoint struct {
	Name     string `json:"name"`
	Method   string `json:"method"`
	Path     string `json:"path"`
	Resource string `json:"resource"`
	Action   int    `json:"action"`
}

type service struct {
	Service   string     `json:"service"`
	Endpoints []endpoint `json:"endpoints"`
}

type endpointCatalog struct {
	Catalog  string    `json:"catalog"`
	Source   string    `json:"source"`
	Services []service `json:"services"`
}

type role struct {
	RoleName    string       `json:"roleName"`
	AdminRole   bool         `json:"adminRole"`
	IsWildcard  bool         `json:"isWildcard"`
	Description string       `json:"description"`
	Permissions []permission `json:"permissions"`
}

type preset struct {
	Name  string `json:"name"`
	Roles []role `json:"roles"`
}

type presetCatalog struct {
	Presets []preset `json:"presets"`
}

// ---- helpers ----------------------------------------------------------------

var (
	nameRe     = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	roleNameRe = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	methods    = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

	// Scope permissions and role permissions are bound like a role assigned
	// in namespace team1 to user u1; required tags are bound the same way.
	grantBinding = perm.Binding{UserID: "u1", Namespaces: []string{"team1"}}
	reqBinding   = perm.RequiredBinding{Namespace: "team1", UserID: "u1"}
)

func decodeStrict(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), "%s", name)
	var extra json.RawMessage
	require.ErrorIs(t, dec.Decode(&extra), io.EOF, "%s: trailing data after the JSON document", name)
}

func jsonFiles(t *testing.T, prefix string) []string {
	t.Helper()
	files, err := filepath.Glob(prefix + "*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no %s*.json files", prefix)
	sort.Strings(files)
	return files
}

func loadScopes(t *testing.T, name string) scopeCatalog {
	t.Helper()
	var c scopeCatalog
	decodeStrict(t, name, &c)
	return c
}

func loadEndpoints(t *testing.T, name string) endpointCatalog {
	t.Helper()
	var c endpointCatalog
	decodeStrict(t, name, &c)
	return c
}

func loadPresets(t *testing.T) presetCatalog {
	t.Helper()
	var c presetCatalog
	decodeStrict(t, "roles-presets.json", &c)
	return c
}

func checkPermission(t *testing.T, where, resource string, action int) {
	t.Helper()
	canon, err := perm.CanonicalTag(resource)
	if assert.NoError(t, err, "%s: resource %q", where, resource) {
		assert.Equal(t, resource, canon, "%s: resource %q is not canonical", where, resource)
	}
	assert.True(t, action >= 1 && action <= 15, "%s: action %d of %q outside 1..15", where, action, resource)
}

func compile(t *testing.T, perms []permission) []perm.Grant {
	t.Helper()
	gs := make([]perm.Grant, 0, len(perms))
	for _, p := range perms {
		g, err := perm.CompileGrant(perm.Permission{Resource: p.Resource, Action: perm.Action(p.Action)})
		require.NoError(t, err, "compile %q", p.Resource)
		gs = append(gs, g)
	}
	return gs
}

func required(t *testing.T, resource string, action int, b perm.RequiredBinding) perm.Required {
	t.Helper()
	r, err := perm.ParseRequired(resource, perm.Action(action), b)
	require.NoError(t, err, "parse required %q", resource)
	return r
}

func anyCovers(gs []perm.Grant, r *perm.Required, b *perm.Binding) bool {
	for i := range gs {
		if gs[i].Covers(r, b) {
			return true
		}
	}
	return false
}

// effective returns a scope's own permissions plus those of the scopes it
// includes, transitively.
func effective(byName map[string]scope, name string, seen map[string]bool) []permission {
	if seen[name] {
		return nil
	}
	seen[name] = true
	s := byName[name]
	out := append([]permission(nil), s.Permissions...)
	for _, inc := range s.Includes {
		out = append(out, effective(byName, inc, seen)...)
	}
	return out
}

// ---- generic checks over every file -------------------------------------------

func TestEveryJSONFileIsKnownAndStrict(t *testing.T) {
	files, err := filepath.Glob("*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		switch {
		case strings.HasPrefix(f, "scopes-"):
			loadScopes(t, f)
		case strings.HasPrefix(f, "endpoints-"):
			loadEndpoints(t, f)
		case strings.HasPrefix(f, "roles-"):
			var c presetCatalog
			decodeStrict(t, f, &c)
		default:
			t.Errorf("%s: unknown catalog kind (want scopes-*, endpoints-* or roles-*)", f)
		}
	}
}

func TestScopeCatalogs(t *testing.T) {
	for _, f := range jsonFiles(t, "scopes-") {
		t.Run(f, func(t *testing.T) {
			c := loadScopes(t, f)
			assert.NotEmpty(t, c.Catalog)
			assert.NotEmpty(t, c.Source)
			require.NotEmpty(t, c.Scopes)
			byName := map[string]scope{}
			for _, s := range c.Scopes {
				assert.NotEmpty(t, s.Name)
				assert.NotEmpty(t, s.Description, "scope %s", s.Name)
				assert.NotEmpty(t, s.Permissions, "scope %s", s.Name)
				assert.NotNil(t, s.Includes, "scope %s: includes must be present (use [])", s.Name)
				_, dup := byName[s.Name]
				assert.False(t, dup, "duplicate scope name %q", s.Name)
				byName[s.Name] = s
				for _, p := range s.Permissions {
					checkPermission(t, "scope "+s.Name, p.Resource, p.Action)
				}
			}
			for _, s := range c.Scopes {
				own := compile(t, s.Permissions)
				for _, inc := range s.Includes {
					is, ok := byName[inc]
					if !assert.True(t, ok, "scope %s includes unknown scope %q", s.Name, inc) {
						continue
					}
					assert.NotEqual(t, s.Name, inc, "scope %s includes itself", s.Name)
					// A scope's own permissions are a superset of every included scope's.
					for _, p := range is.Permissions {
						r := required(t, p.Resource, p.Action, reqBinding)
						assert.True(t, anyCovers(own, &r, &grantBinding),
							"scope %s does not cover %s %d of included scope %s", s.Name, p.Resource, p.Action, inc)
					}
				}
				if base, ok := strings.CutSuffix(s.Name, ":read-write"); ok {
					if _, hasRead := byName[base+":read"]; hasRead {
						assert.Contains(t, s.Includes, base+":read", "read-write scope %s must include its read scope", s.Name)
					}
				}
			}
			for _, ex := range c.Examples {
				checkPermission(t, "example", ex.Resource, ex.Action)
				assert.NotEmpty(t, ex.Note)
				require.NotEmpty(t, ex.Constraints)
				for attr, ops := range ex.Constraints {
					require.NotEmpty(t, ops, "constraint on %s", attr)
					for op := range ops {
						assert.Contains(t, []string{"eq", "gte", "lte", "in"}, op, "constraint operator on %s", attr)
					}
				}
			}
		})
	}
}

func TestEndpointCatalogs(t *testing.T) {
	for _, f := range jsonFiles(t, "endpoints-") {
		t.Run(f, func(t *testing.T) {
			c := loadEndpoints(t, f)
			assert.NotEmpty(t, c.Catalog)
			assert.NotEmpty(t, c.Source)
			require.NotEmpty(t, c.Services)
			services := map[string]bool{}
			for _, s := range c.Services {
				assert.Regexp(t, nameRe, s.Service)
				assert.False(t, services[s.Service], "duplicate service %q", s.Service)
				services[s.Service] = true
				require.NotEmpty(t, s.Endpoints, "service %s", s.Service)
				names := map[string]bool{}
				for _, e := range s.Endpoints {
					assert.Regexp(t, nameRe, e.Name)
					assert.False(t, names[e.Name], "duplicate endpoint %s/%s", s.Service, e.Name)
					names[e.Name] = true
					assert.True(t, methods[e.Method], "endpoint %s: method %q", e.Name, e.Method)
					assert.True(t, strings.HasPrefix(e.Path, "/"), "endpoint %s: path %q", e.Name, e.Path)
					checkPermission(t, "endpoint "+e.Name, e.Resource, e.Action)
				}
			}
		})
	}
}

func TestRolePresets(t *testing.T) {
	c := loadPresets(t)
	require.NotEmpty(t, c.Presets)
	presetNames := map[string]bool{}
	roleNames := map[string]bool{}
	for _, p := range c.Presets {
		assert.NotEmpty(t, p.Name)
		assert.False(t, presetNames[p.Name], "duplicate preset %q", p.Name)
		presetNames[p.Name] = true
		require.NotEmpty(t, p.Roles)
		for _, r := range p.Roles {
			assert.Regexp(t, roleNameRe, r.RoleName, "role names are alphanumeric only")
			assert.False(t, roleNames[r.RoleName], "duplicate role name %q", r.RoleName)
			roleNames[r.RoleName] = true
			assert.NotEmpty(t, r.Description, "role %s", r.RoleName)
			require.NotEmpty(t, r.Permissions, "role %s", r.RoleName)
			for _, pm := range r.Permissions {
				checkPermission(t, "role "+r.RoleName, pm.Resource, pm.Action)
			}
		}
	}
}

// ---- Hathora: scopes vs endpoints ---------------------------------------------

// hathoraSeed is seed 000's scope table: scope → endpoints it lists.
var hathoraSeed = map[string][]string{
	"billing:read-write":     {"GetBalance", "GetUpcomingInvoiceItems", "GetUpcomingInvoiceTotal", "GetInvoices", "GetPaymentMethod", "InitStripeCustomerPortalUrl"},
	"builds:read":            {"GetBuilds", "GetBuild"},
	"builds:read-write":      {"GetBuilds", "GetBuild", "CreateBuild", "RunBuild", "DeleteBuild"},
	"deployments:read":       {"GetDeployments", "GetLatestDeployment", "GetDeployment"},
	"deployments:read-write": {"GetDeployments", "GetLatestDeployment", "GetDeployment", "CreateDeployment"},
	// The seed row reads "applications:read builds:read deployments:read":
	// applications:read includes builds:read and deployments:read.
	"applications:read":       {"GetApps", "GetApp"},
	"applications:read-write": {"CreateApp", "UpdateApp", "DeleteApp"},
	"processes:read": {"GetLatestProcesses", "GetProcessesCountExperimental", "GetProcess", "GetRoomInfo",
		"GetActiveRoomsForProcess", "GetInactiveRoomsForProcess", "GetConnectionInfo", "GetMetrics",
		"GetProcessesMetrics", "GetLogsForProcess", "DownloadLogsForProcess"},
	"processes:read-write": {"GetLatestProcesses", "GetProcessesCountExperimental", "GetProcess", "CreateProcess",
		"StopProcess", "GetRoomInfo", "GetActiveRoomsForProcess", "GetInactiveRoomsForProcess", "GetConnectionInfo",
		"GetMetrics", "GetProcessesMetrics", "GetLogsForProcess", "DownloadLogsForProcess", "CreateRoom",
		"DestroyRoom", "UpdateRoomConfig", "SetLobbyState"},
	"fleets:read":       {"GetFleets", "GetFleetRegion", "GetFleetMetrics"},
	"fleets:read-write": {"GetFleets", "GetFleetRegion", "GetFleetMetrics", "UpdateFleetRegion"},
	"orgs:read":         {"GetOrgs", "GetUserPendingInvites", "GetOrgMembers", "GetOrgPendingInvites"},
	"orgs:read-write": {"GetOrgs", "GetUserPendingInvites", "GetOrgMembers", "GetOrgPendingInvites",
		"InviteUser", "RescindInvite", "RejectInvite"},
	"tokens:read":       {"GetOrgTokens"},
	"tokens:read-write": {"GetOrgTokens", "CreateOrgToken", "RevokeOrgToken"},
}

// hathoraExpected is the set of endpoints a scope allows: those the seed lists
// under it plus those of the scopes it includes, transitively.
func hathoraExpected(byName map[string]scope, name string, out map[string]bool, seen map[string]bool) {
	if seen[name] {
		return
	}
	seen[name] = true
	for _, e := range hathoraSeed[name] {
		out[e] = true
	}
	for _, inc := range byName[name].Includes {
		hathoraExpected(byName, inc, out, seen)
	}
}

func hathoraEndpoints(t *testing.T) map[string]endpoint {
	t.Helper()
	c := loadEndpoints(t, "endpoints-hathora.json")
	out := map[string]endpoint{}
	for _, s := range c.Services {
		for _, e := range s.Endpoints {
			out[e.Name] = e
		}
	}
	return out
}

func TestHathoraScopesMatchSeedTable(t *testing.T) {
	c := loadScopes(t, "scopes-hathora.json")
	byName := map[string]scope{}
	for _, s := range c.Scopes {
		byName[s.Name] = s
	}
	eps := hathoraEndpoints(t)

	// Same scopes as the seed, and every endpoint the seed names is in the catalog (and no others).
	seedScopes := make([]string, 0, len(hathoraSeed))
	seedEndpoints := map[string]bool{}
	for s, es := range hathoraSeed {
		seedScopes = append(seedScopes, s)
		for _, e := range es {
			seedEndpoints[e] = true
		}
	}
	catScopes := make([]string, 0, len(byName))
	for s := range byName {
		catScopes = append(catScopes, s)
	}
	assert.ElementsMatch(t, seedScopes, catScopes)
	for e := range seedEndpoints {
		assert.Contains(t, eps, e, "seed endpoint missing from endpoints-hathora.json")
	}
	for e := range eps {
		assert.True(t, seedEndpoints[e], "endpoint %s is not in seed 000", e)
	}

	for _, name := range catScopes {
		grants := compile(t, effective(byName, name, map[string]bool{}))
		want := map[string]bool{}
		hathoraExpected(byName, name, want, map[string]bool{})
		for en, e := range eps {
			r := required(t, e.Resource, e.Action, reqBinding)
			got := anyCovers(grants, &r, &grantBinding)
			if want[en] {
				assert.True(t, got, "scope %s must allow %s (%s %d)", name, en, e.Resource, e.Action)
			} else {
				assert.False(t, got, "scope %s must NOT allow %s (%s %d)", name, en, e.Resource, e.Action)
			}
		}
	}
}

// ---- role presets: semantics ----------------------------------------------------

func findRole(t *testing.T, c presetCatalog, presetName, roleName string) role {
	t.Helper()
	for _, p := range c.Presets {
		if p.Name != presetName {
			continue
		}
		for _, r := range p.Roles {
			if r.RoleName == roleName {
				return r
			}
		}
	}
	require.FailNow(t, "role not found", "%s/%s", presetName, roleName)
	return role{}
}

type roleChecker struct {
	t      *testing.T
	name   string
	grants []perm.Grant
	b      perm.Binding
}

func newChecker(t *testing.T, r role, b perm.Binding) roleChecker {
	return roleChecker{t: t, name: r.RoleName, grants: compile(t, r.Permissions), b: b}
}

func (c roleChecker) covers(resource string, action int) bool {
	c.t.Helper()
	r := required(c.t, resource, action, perm.RequiredBinding{})
	return anyCovers(c.grants, &r, &c.b)
}

func (c roleChecker) allow(resource string, actions ...int) {
	c.t.Helper()
	for _, a := range actions {
		assert.True(c.t, c.covers(resource, a), "%s must allow %s %d", c.name, resource, a)
	}
}

func (c roleChecker) deny(resource string, actions ...int) {
	c.t.Helper()
	for _, a := range actions {
		assert.False(c.t, c.covers(resource, a), "%s must NOT allow %s %d", c.name, resource, a)
	}
}

func TestHathoraPresets(t *testing.T) {
	c := loadPresets(t)
	eps := hathoraEndpoints(t)
	res := func(name string) string {
		e, ok := eps[name]
		require.True(t, ok, "endpoint %s", name)
		r := required(t, e.Resource, e.Action, reqBinding)
		return r.String()
	}
	billing := []string{"GetBalance", "GetInvoices", "GetPaymentMethod", "InitStripeCustomerPortalUrl"}

	for _, rn := range []string{"HathoraAdmin", "HathoraMember", "HathoraViewer"} {
		r := findRole(t, c, "hathora", rn)
		assert.False(t, r.IsWildcard, "%s is per team", rn)
		ch := newChecker(t, r, grantBinding)
		// Everyone may manage their own tokens, and only their own team's data.
		ch.allow("NAMESPACE:team1:USER:u1:TOKEN", 1, 2, 4, 8)
		ch.deny("NAMESPACE:team2:BUILD", 2)
		ch.deny("NAMESPACE:team2:USER:u1:TOKEN", 1)
		ch.allow(res("GetLogsForProcess"), 2)
		ch.allow(res("GetMetrics"), 2)
		ch.allow(res("GetBuilds"), 2)
		ch.allow(res("GetOrgMembers"), 2)
	}

	admin := newChecker(t, findRole(t, c, "hathora", "HathoraAdmin"), grantBinding)
	for _, e := range eps {
		r := required(t, e.Resource, e.Action, reqBinding)
		admin.allow(r.String(), e.Action)
	}
	admin.allow("NAMESPACE:team1:ORG:MEMBER", 1, 4, 8)
	admin.allow("NAMESPACE:team1:BILLING", 2, 4)

	member := newChecker(t, findRole(t, c, "hathora", "HathoraMember"), grantBinding)
	member.deny("NAMESPACE:team1:ORG:MEMBER", 1, 4, 8)
	member.deny("NAMESPACE:team1:ORG:INVITE", 1, 8)
	member.deny(res("InviteUser"), 1)
	member.deny(res("RescindInvite"), 8)
	member.deny("NAMESPACE:team1:BILLING", 1, 2, 4, 8)
	for _, b := range billing {
		member.deny(res(b), 2, 4)
	}
	member.allow(res("CreateProcess"), 1)
	member.allow(res("StopProcess"), 8)
	member.allow(res("CreateDeployment"), 1)
	member.allow(res("UpdateFleetRegion"), 4)
	member.allow(res("CreateBuild"), 1)

	viewer := newChecker(t, findRole(t, c, "hathora", "HathoraViewer"), grantBinding)
	viewer.allow(res("GetLogsForProcess"), 2)
	viewer.allow(res("DownloadLogsForProcess"), 2)
	viewer.allow(res("GetMetrics"), 2)
	viewer.allow(res("GetProcessesMetrics"), 2)
	viewer.deny("NAMESPACE:team1:BILLING", 1, 2, 4, 8)
	for _, b := range billing {
		viewer.deny(res(b), 2, 4)
	}
	viewer.deny("NAMESPACE:team1:BUILD", 1, 4, 8)
	viewer.deny("NAMESPACE:team1:ORG:MEMBER", 1, 4, 8)
	// Viewer may not change anything guarded by a Hathora endpoint except its own tokens.
	for n, e := range eps {
		r := required(t, e.Resource, e.Action, reqBinding)
		if e.Action != 2 && !strings.Contains(e.Resource, ":TOKEN") {
			assert.False(t, viewer.covers(r.String(), e.Action), "HathoraViewer must NOT allow %s", n)
		}
	}
}

func TestAccelByteDefaultPresets(t *testing.T) {
	c := loadPresets(t)

	super := findRole(t, c, "accelbyte-defaults", "SuperAdmin")
	assert.True(t, super.AdminRole)
	assert.True(t, super.IsWildcard)
	sa := newChecker(t, super, perm.Binding{UserID: "u1", Namespaces: []string{"ctx"}})
	sa.allow("ADMIN:ROLE", 15)
	sa.allow("NAMESPACE:x:USER:y:Z", 15)
	sa.allow("ADMIN:NAMESPACE:x:USER:y:ENTITLEMENT", 15)

	viewOnly := findRole(t, c, "accelbyte-defaults", "ViewOnly")
	assert.True(t, viewOnly.AdminRole)
	assert.True(t, viewOnly.IsWildcard)
	vo := newChecker(t, viewOnly, perm.Binding{UserID: "u1", Namespaces: []string{"ctx"}})
	reads := []string{"ADMIN:ROLE", "ADMIN:NAMESPACE:game1:CLIENT", "ADMIN:NAMESPACE:game1:USER:9:ENTITLEMENT",
		"ADMIN:NAMESPACE:game1:CURRENCY", "NAMESPACE:game1:CURRENCY", "NAMESPACE:game2:USER:9:PROFILE",
		"ADMIN:NAMESPACE:game1:ROLE:USER:*"}
	for _, r := range reads {
		vo.allow(r, 2)
		vo.deny(r, 1, 4, 8, 15)
	}

	gameAdmin := findRole(t, c, "accelbyte-defaults", "GameAdmin")
	assert.True(t, gameAdmin.AdminRole)
	assert.False(t, gameAdmin.IsWildcard)
	ga := newChecker(t, gameAdmin, perm.Binding{UserID: "u1", Namespaces: []string{"game1"}})
	ga.allow("ADMIN:NAMESPACE:game1:CLIENT", 15)
	ga.deny("ADMIN:NAMESPACE:game2:CLIENT", 1, 2, 4, 8)
	ga.allow("ADMIN:NAMESPACE:game1:ROLE:USER:*", 4)
	ga.deny("ADMIN:NAMESPACE:game2:ROLE:USER:*", 4)
	ga.allow("NAMESPACE:game1:USER:9:PROFILE", 15)
	ga.deny("NAMESPACE:game2:USER:9:PROFILE", 2)
	ga.deny("ADMIN:ROLE", 1, 4, 8)

	user := findRole(t, c, "accelbyte-defaults", "User")
	assert.False(t, user.AdminRole)
	assert.False(t, user.IsWildcard)
	us := newChecker(t, user, perm.Binding{UserID: "u1", Namespaces: []string{"game1"}})
	us.allow("NAMESPACE:game1:USER:u1:PROFILE", 15)
	us.allow("NAMESPACE:game1:USER:u1:ENTITLEMENT", 2)
	us.allow("NAMESPACE:game1:USER:u1:TOKEN", 15)
	us.deny("NAMESPACE:game1:USER:u1:ENTITLEMENT", 1, 4, 8)
	us.deny("NAMESPACE:game1:USER:u2:PROFILE", 2)
	us.deny("NAMESPACE:game2:USER:u1:PROFILE", 2)
	us.deny("ADMIN:NAMESPACE:game1:USER:u1:PROFILE", 2)
	us.deny("ADMIN:ROLE", 2)
}

// ---- AccelByte endpoints: the seeds' examples -------------------------------

func TestAccelByteEndpointsFromSeeds(t *testing.T) {
	eps, err := catalogs.Endpoints("accelbyte")
	require.NoError(t, err)
	type key struct{ method, path string }
	got := map[key]endpoint{}
	for _, e := range eps {
		k := key{e.Method, e.Path}
		if _, dup := got[k]; !dup { // the first of alternatives (see TestAccelByteWholeCatalog)
			got[k] = endpoint{Name: e.Name, Method: e.Method, Path: e.Path, Resource: e.Resource, Action: int(e.Action)}
		}
	}
	seeds := []struct {
		method, path, resource string
		action                 int
	}{
		{"POST", "/iam/v4/admin/roles", "ADMIN:ROLE", 1},
		{"POST", "/iam/v4/admin/roles/{roleId}/permissions", "ADMIN:ROLE", 4},
		{"POST", "/iam/v4/admin/namespaces/{namespace}/users/{userId}/roles", "ADMIN:NAMESPACE:{namespace}:ROLE:USER:*", 4},
		{"GET", "/iam/v3/admin/roles", "ADMIN:ROLE", 2},
		{"POST", "/iam/v3/admin/namespaces/{namespace}/clients", "ADMIN:NAMESPACE:{namespace}:CLIENT", 1},
		{"GET", "/platform/admin/namespaces/{namespace}/users/{userId}/entitlements", "ADMIN:NAMESPACE:{namespace}:USER:{userId}:ENTITLEMENT", 2},
		{"GET", "/platform/admin/namespaces/{namespace}/currencies", "ADMIN:NAMESPACE:{namespace}:CURRENCY", 2},
	}
	for _, s := range seeds {
		e, ok := got[key{s.method, s.path}]
		if assert.True(t, ok, "missing %s %s", s.method, s.path) {
			assert.Equal(t, s.resource, e.Resource, "%s %s", s.method, s.path)
			assert.Equal(t, s.action, e.Action, "%s %s", s.method, s.path)
		}
	}
	invite := false
	for _, e := range got {
		if e.Resource == "ADMIN:NAMESPACE:{namespace}:USER:INVITE" && e.Action == 1 {
			invite = true
		}
	}
	assert.True(t, invite, "seed 001: Invite User Admin endpoint")
}
