package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/server"
)

// chromiumBinary finds a headless-capable Chromium: $GRANTLOG_CHROMIUM, or
// the first of the usual names on PATH (scripts/chromium.sh installs
// Debian's chromium).
func chromiumBinary() string {
	if p := os.Getenv("GRANTLOG_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser drives one Chromium tab against a node's console, collecting the
// page's JavaScript exceptions and console errors and writing numbered
// screenshots into dir.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
	shot *int // shared by the browsers of a test: one numbering
	mu   sync.Mutex
	errs []string
}

func newBrowser(parent context.Context, t *testing.T, base, dir string, shot *int) *browser {
	ctx, cancel := chromedp.NewContext(parent)
	b := &browser{t: t, ctx: ctx, base: base, dir: dir, shot: shot}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // runs after cancel (cleanups run last first)
	t.Cleanup(cancel)
	// The first Do starts the tab: on the tab's own context, never on a
	// derived one (its end would close the tab).
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)))
	msgs := chromedp.Console(ctx)
	wg.Go(func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			// The browser logs each refused request ("Failed to load
			// resource: ... 403"); the Viewer's pages are refused on purpose.
			if m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleError && !strings.Contains(m.Text, "Failed to load resource") {
				b.note(string(m.Type) + ": " + m.Text)
			}
		}
	})
	return b
}

func (b *browser) note(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, s)
}

// run runs actions with a deadline, failing the test with the step's name.
func (b *browser) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.screenshot("FAILED-" + step)
		b.mu.Lock()
		errs := strings.Join(b.errs, "\n")
		b.mu.Unlock()
		b.t.Fatalf("console step %q: %v\npage errors:\n%s", step, err, errs)
	}
}

// screenshot writes the viewport as NN-name.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	*b.shot++
	p := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", *b.shot, name))
	require.NoError(b.t, os.WriteFile(p, png, 0o644))
}

// open navigates to the console's hash route.
func (b *browser) open(step, route string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.run(step, append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(b.base + route)}, actions...)...)
}

// login signs in with a token acting in namespace ns.
func (b *browser) login(token, ns string) {
	b.t.Helper()
	b.open("login", "#/roles",
		chromedp.WaitVisible(chromedp.ID("login-token")),
		chromedp.SendKeys(chromedp.ID("login-token"), token),
		clearInput("login-namespace"),
		chromedp.SendKeys(chromedp.ID("login-namespace"), ns),
	)
	b.screenshot("login")
	b.run("sign in", chromedp.Click(chromedp.ID("login-submit")), chromedp.WaitVisible(chromedp.ID("nav")))
}

// poll waits until the JavaScript expression is true.
func poll(expr string) chromedp.Action[chromedp.Void] {
	p := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := p(ctx, t)
		return err
	})
}

// clearInput empties the input with this id as a user would (an input event).
func clearInput(id string) chromedp.Action[chromedp.Void] {
	js := fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = ''; e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, id)
	return value(new(bool), chromedp.Evaluate[bool](js))
}

// value runs a into *out.
func value[T any](out *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		v, err := a(ctx, t)
		*out = v
		return err
	})
}

func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// TestConsoleEndToEnd drives the admin console in headless Chromium against
// a real node: sign in; create a role; add a permission (validated as it is
// typed); the playground answers denied; assign the role; the playground
// flips to allowed; issue a token, see it listed, revoke it; an audit entry
// appears in the live feed; a Viewer's token reaches no create form. It
// writes a screenshot of each step to $GRANTLOG_CONSOLE_SHOTS (else a
// temporary directory) and logs the folder. Without a chromium binary it
// is skipped, unless CI_REQUIRE_CHROMIUM=1; with -short it is skipped.
func TestConsoleEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the console's end-to-end test runs in the full go test step")
	}
	bin := chromiumBinary()
	if bin == "" {
		if os.Getenv("CI_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("CI_REQUIRE_CHROMIUM=1 but no chromium binary found (run scripts/chromium.sh, or set GRANTLOG_CHROMIUM)")
		}
		t.Skip("no chromium binary found (install it with scripts/chromium.sh, or set GRANTLOG_CHROMIUM): the console's end-to-end test is skipped")
	}
	shots := os.Getenv("GRANTLOG_CONSOLE_SHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	t.Logf("console screenshots in %s", shots)

	n := startNode(t, server.Config{DataDir: t.TempDir()}, "")
	api := n.c
	base := "http://" + n.srv.HTTPAddr() + "/console/"

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 800),
	)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)

	var shot int
	b := newBrowser(alloc, t, base, shots, &shot)
	b.login(api.token, "grantlog")
	b.run("roles page", chromedp.WaitVisible(chromedp.ID("role-create")), poll(`document.querySelectorAll('#role-list tbody tr').length >= 4`))
	b.screenshot("roles")

	// A refusal shows the API's errorMessage and changes nothing.
	b.run("duplicate role",
		chromedp.SendKeys(chromedp.ID("role-name"), "SuperAdmin"),
		chromedp.Click(chromedp.ID("role-create-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#role-create .notice.error`)),
		poll(`document.querySelector('#role-create .notice.error').textContent.includes('SuperAdmin')`),
		clearInput("role-name"),
	)

	// Create a role (no permission yet).
	b.run("create role",
		chromedp.SendKeys(chromedp.ID("role-name"), "ConsoleOrders"),
		chromedp.SendKeys(chromedp.ID("role-description"), "reads the player's own orders"),
		chromedp.Click(chromedp.ID("role-create-submit")),
		chromedp.WaitVisible(chromedp.ID("role-perms")),
		poll(`document.getElementById('role-title').textContent === 'ConsoleOrders'`),
	)
	// Add a permission: a bad tag is flagged as it is typed, then fixed.
	b.run("type a bad tag",
		chromedp.SendKeys(chromedp.ID("role-perm-res-1"), "NAMESPACE::ORDER"),
		poll(`document.getElementById('role-perm-res-1').getAttribute('aria-invalid') === 'true'`),
	)
	b.screenshot("permission-invalid")
	b.run("add permission",
		clearInput("role-perm-res-1"),
		chromedp.SendKeys(chromedp.ID("role-perm-res-1"), "NAMESPACE:{namespace}:USER:{userId}:ORDER"),
		chromedp.Click(chromedp.CSS(`#role-perms .perm-row[data-row="1"] .perm-read`)),
		poll(`document.getElementById('role-perm-res-1').getAttribute('aria-invalid') === null`),
		chromedp.Click(chromedp.ID("role-perms-save")),
		chromedp.WaitVisible(chromedp.ID("role-perms-saved")),
	)
	b.screenshot("role")
	var roleURL string
	b.run("role url", value(&roleURL, chromedp.Location()))
	roleID := roleURL[strings.LastIndex(roleURL, "/")+1:]
	got := api.must(http.StatusOK, "GET", "/v1/roles/"+roleID, nil)
	require.Equal(t, []any{map[string]any{"resource": "NAMESPACE:{namespace}:USER:{userId}:ORDER", "action": float64(2)}}, got["permissions"])

	// The playground: denied before the assignment.
	playground := "#/playground?type=user&subject=777&ns=foo&resource=NAMESPACE:foo:USER:777:ORDER"
	b.open("playground denied", playground,
		chromedp.WaitVisible(chromedp.ID("pg-check")),
		chromedp.Click(chromedp.ID("pg-check")),
		chromedp.WaitVisible(chromedp.CSS(`#pg-verdict[data-allowed="false"]`)),
		// The hint names the role that would allow it.
		poll(`document.getElementById('pg-candidates').textContent.includes('ConsoleOrders')`),
	)
	b.screenshot("playground-denied")

	// Assign the role to user 777 in foo.
	b.open("assign", "#/roles/"+roleID,
		chromedp.WaitVisible(chromedp.ID("assign-user")),
		chromedp.SendKeys(chromedp.ID("assign-user"), "777"),
		clearInput("assign-namespace"),
		chromedp.SendKeys(chromedp.ID("assign-namespace"), "foo"),
		chromedp.SendKeys(chromedp.ID("assign-in"), "foo"),
		chromedp.Click(chromedp.ID("assign-submit")),
		chromedp.WaitVisible(chromedp.ID("assign-done")),
		poll(`[...document.querySelectorAll('#role-members td')].some(td => td.textContent === '777')`),
	)
	b.screenshot("assigned")

	// The playground flips to allowed, with the explanation.
	b.open("playground allowed", playground,
		chromedp.WaitVisible(chromedp.ID("pg-check")),
		chromedp.Click(chromedp.ID("pg-check")),
		chromedp.WaitVisible(chromedp.CSS(`#pg-verdict[data-allowed="true"]`)),
		poll(`document.getElementById('pg-verdict').textContent.includes('ConsoleOrders')`),
	)
	b.screenshot("playground")

	// The user's page: roles and effective permissions with sources.
	b.open("user", "#/users?ns=foo&user=777",
		poll(`document.querySelector('#user-roles table') !== null && document.querySelector('#user-perms table') !== null`),
		poll(`document.getElementById('user-perms').textContent.includes('NAMESPACE:foo:USER:777:ORDER')`),
	)
	b.screenshot("user")
	b.run("unassign",
		chromedp.WaitVisible(chromedp.CSS(`#user-roles button`)),
		chromedp.Click(chromedp.CSS(`#user-roles button`)),
		chromedp.WaitVisible(chromedp.CSS(`#user-roles .empty`)),
		poll(`!document.getElementById('user-perms').textContent.includes('NAMESPACE:foo:USER:777:ORDER')`),
	)
	got = api.must(http.StatusOK, "GET", "/v1/namespaces/foo/users/777/roles", nil)
	require.Empty(t, got["data"], "unassigned in the console, still assigned in the API")

	// Namespaces.
	api.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "studio1"})
	api.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "team1", "parent": "studio1"})
	b.open("namespaces", "#/namespaces",
		chromedp.WaitVisible(chromedp.ID("ns-create")),
		poll(`document.getElementById('ns-list').textContent.includes('studio1')`),
	)
	b.screenshot("namespaces")

	// IAM clients: the secret is shown once.
	b.open("clients", "#/clients?ns=foo",
		chromedp.WaitVisible(chromedp.ID("client-create")),
		chromedp.SendKeys(chromedp.ID("client-name"), "ci"),
		chromedp.SendKeys(chromedp.ID("client-perm-res-1"), "NAMESPACE:foo:BUILD"),
		chromedp.Click(chromedp.CSS(`#client-create .perm-row[data-row="1"] .perm-read`)),
		chromedp.Click(chromedp.CSS(`#client-create button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#client-out .secret-value")),
		poll(`document.getElementById('client-list').textContent.includes('ci')`),
	)
	b.screenshot("clients")

	// Issue a token; it is listed; revoke it. The scopes offered are those
	// the caller holds (the admin: all of them).
	api.must(http.StatusOK, "POST", "/v1/catalogs/scopes/hathora", nil)
	var secret string
	b.open("issue token", "#/tokens?ns=foo",
		chromedp.WaitVisible(chromedp.ID("token-issue")),
		poll(`document.querySelectorAll('#token-scopes input[type=checkbox]').length === 15`),
		chromedp.SendKeys(chromedp.ID("token-name"), "console-ci"),
		chromedp.SendKeys(chromedp.ID("token-perm-res-1"), "NAMESPACE:foo:ORDER"),
		chromedp.Click(chromedp.CSS(`#token-issue .perm-row[data-row="1"] .perm-read`)),
		chromedp.Click(chromedp.ID("token-issue-submit")),
		chromedp.WaitVisible(chromedp.CSS("#token-out .secret-value")),
		value(&secret, chromedp.Text(chromedp.CSS("#token-out .secret-value"))),
		chromedp.WaitVisible(chromedp.CSS(`#token-list tr[data-name="console-ci"]`)),
	)
	require.True(t, strings.HasPrefix(secret, "gltk_"), "secret shown: %q", secret)
	b.screenshot("tokens")
	b.run("revoke token",
		chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Revoke token console-ci"]`)),
		chromedp.Click(chromedp.CSS(`button[aria-label="Revoke token console-ci"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#token-list tr[data-name="console-ci"]`)),
	)
	b.screenshot("token-revoked")
	st, _ := newClient(t, n.srv.HTTPAddr(), secret).do("GET", "/v1/namespaces/foo/tokens", nil)
	require.Equal(t, http.StatusUnauthorized, st, "the revoked token still works")

	// The live audit feed: the revocation is there (from revision 1), and
	// a change made now appears while the page follows the stream.
	b.open("audit", "#/audit?from=1",
		poll(`document.getElementById('audit-state').textContent.startsWith('connected')`),
		poll(`document.querySelector('#audit-feed li[data-type="token.revoked.v1"]') !== null`),
	)
	api.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "LiveRole", "permissions": []any{}})
	b.run("live audit entry", poll(`[...document.querySelectorAll('#audit-feed li[data-type="role.created.v1"]')].some(li => li.textContent.includes('LiveRole'))`))
	b.screenshot("audit")

	// Resumable: leave the feed, change something, come back: it resumes
	// after the last revision it showed (Last-Event-ID), nothing repeated.
	var last int
	b.run("last revision", value(&last, chromedp.Evaluate[int](`Math.max(...[...document.querySelectorAll('#audit-feed li')].map(li => +li.dataset.revision))`)))
	b.open("leave audit", "#/roles", chromedp.WaitVisible(chromedp.ID("role-create")))
	api.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "WhileAway", "permissions": []any{}})
	b.open("resume audit", "#/audit?follow=0",
		chromedp.WaitVisible(chromedp.ID("audit-resume")),
		chromedp.Click(chromedp.ID("audit-toggle")),
		poll(`[...document.querySelectorAll('#audit-feed li')].some(li => li.textContent.includes('WhileAway'))`),
		poll(fmt.Sprintf(`document.getElementById('audit-state').textContent.includes('resumed after revision %d')`, last)),
	)
	var first int
	b.run("first resumed revision", value(&first, chromedp.Evaluate[int](`Math.min(...[...document.querySelectorAll('#audit-feed li')].map(li => +li.dataset.revision))`)))
	require.Equal(t, last+1, first, "the resumed feed starts right after the last record shown")

	// Deleting a role lists the assignments it ends first.
	doomed := api.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Doomed", "permissions": []any{}})
	for _, u := range []string{"u1", "u2"} {
		api.must(http.StatusCreated, "POST", "/v1/namespaces/foo/users/"+u+"/roles", map[string]any{"roleId": doomed["roleId"], "assignedNamespaces": []string{"foo"}})
	}
	b.open("delete role", "#/roles/"+doomed["roleId"].(string),
		chromedp.WaitVisible(chromedp.ID("role-delete")),
		chromedp.Click(chromedp.ID("role-delete")),
		chromedp.WaitVisible(chromedp.ID("role-delete-ends")),
		poll(`document.querySelectorAll('#role-delete-ends li').length === 2`),
	)
	b.screenshot("role-delete")
	b.run("confirm delete", chromedp.Click(chromedp.ID("role-delete-confirm")),
		poll(`location.hash === '#/roles'`), chromedp.WaitVisible(chromedp.ID("role-create")))
	st, _ = api.do("GET", "/v1/roles/"+doomed["roleId"].(string), nil)
	require.Equal(t, http.StatusNotFound, st)

	// Pagination and search over more roles than a page.
	for i := range 22 {
		api.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": fmt.Sprintf("Bulk%02d", i), "permissions": []any{}})
	}
	b.open("paging", "#/roles?fresh=1", // another hash than the page shows: a hashchange
		poll(`document.querySelectorAll('#role-list tbody tr').length === 20`),
		chromedp.Click(chromedp.ID("roles-next")),
		poll(`document.querySelector('.pager').textContent.includes('page 2') && document.querySelectorAll('#role-list tbody tr').length >= 5`),
		chromedp.SendKeys(chromedp.ID("role-search"), "bulk1"),
		poll(`document.querySelectorAll('#role-list tbody tr').length === 10`),
		clearInput("role-search"),
		chromedp.SendKeys(chromedp.ID("role-search"), "no such role"),
		poll(`document.querySelector('#role-list .empty') !== null`),
	)

	// A narrow window: the menu folds, the page still works.
	b.run("narrow", chromedp.EmulateViewport(420, 800), chromedp.Navigate(base+"#/roles"),
		chromedp.WaitVisible(chromedp.ID("nav-toggle")),
		poll(`document.querySelectorAll('#role-list tbody tr').length >= 4`))
	b.screenshot("narrow-roles")
	b.run("narrow menu", chromedp.Click(chromedp.ID("nav-toggle")), chromedp.WaitVisible(chromedp.CSS(`#nav a[data-page="tokens"]`)))
	b.screenshot("narrow-menu")
	require.Empty(t, b.pageErrors(), "the admin's pages raised errors")

	// A Viewer's token (vera, HathoraViewer in team1): no create form anywhere.
	api.must(http.StatusOK, "POST", "/v1/presets/hathora", nil)
	viewer := findRole(t, api, "HathoraViewer")
	api.must(http.StatusCreated, "POST", "/v1/namespaces/team1/users/vera/roles",
		map[string]any{"roleId": viewer, "assignedNamespaces": []string{"team1"}})
	tok := api.must(http.StatusCreated, "POST", "/v1/namespaces/team1/tokens", map[string]any{
		"name": "vera-console", "owner": map[string]any{"type": "user", "id": "vera"},
		"permissions": []any{map[string]any{"resource": "NAMESPACE:{namespace}:BUILD", "action": 2}},
	})
	v := newBrowser(alloc, t, base, shots, &shot)
	v.login(tok["token"].(string), "team1")
	v.run("viewer roles",
		chromedp.WaitVisible(chromedp.ID("readonly-note")),
		chromedp.WaitVisible(chromedp.CSS("#role-list .notice.error")),
		poll(`document.getElementById('role-create') === null && document.getElementById('who').textContent.includes('read-only')`),
	)
	v.screenshot("viewer-roles")
	for _, page := range []struct{ route, form string }{
		{"#/namespaces", "ns-create"}, {"#/clients?ns=team1", "client-create"},
	} {
		v.open("viewer "+page.route, page.route,
			chromedp.WaitVisible(chromedp.ID("readonly-note")),
			poll(fmt.Sprintf(`document.getElementById(%q) === null`, page.form)))
	}
	v.open("viewer assign", "#/users?ns=team1&user=vera",
		chromedp.WaitVisible(chromedp.ID("assign-denied")),
		poll(`document.getElementById('assign-submit').disabled`))
	v.screenshot("viewer-user")
	require.Empty(t, v.pageErrors(), "the viewer's pages raised errors")

	// An IAM client signs in with its id and secret (HTTP Basic): it may
	// read roles, not create them.
	cl := api.must(http.StatusCreated, "POST", "/v1/namespaces/foo/clients", map[string]any{
		"clientName": "console-reader", "permissions": []any{map[string]any{"resource": "ADMIN:ROLE", "action": 2}},
	})
	c := newBrowser(alloc, t, base, shots, &shot)
	c.open("client login", "#/roles",
		chromedp.WaitVisible(chromedp.ID("login-token")),
		chromedp.Click(chromedp.ID("kind-client")),
		chromedp.WaitVisible(chromedp.ID("login-client-id")),
		chromedp.SendKeys(chromedp.ID("login-client-id"), cl["clientId"].(string)),
		chromedp.SendKeys(chromedp.ID("login-client-secret"), cl["clientSecret"].(string)),
		clearInput("login-namespace"),
		chromedp.SendKeys(chromedp.ID("login-namespace"), "foo"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("readonly-note")),
		poll(`document.querySelectorAll('#role-list tbody tr').length >= 4 && document.getElementById('role-create') === null`),
		poll(`document.getElementById('who').textContent.includes('IAM client')`),
	)
	c.screenshot("client-roles")
	require.Empty(t, c.pageErrors(), "the client's pages raised errors")
}

// findRole returns the id of the role named name.
func findRole(t *testing.T, c *client, name string) string {
	t.Helper()
	page := c.must(http.StatusOK, "GET", "/v1/roles?limit=100", nil)
	for _, r := range page["data"].([]any) {
		if m := r.(map[string]any); m["roleName"] == name {
			return m["roleId"].(string)
		}
	}
	t.Fatalf("no role %s", name)
	return ""
}
