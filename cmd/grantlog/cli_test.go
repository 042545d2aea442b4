package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/auth"
	apitable "github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// binary is the grantlog binary the CLI tests run, built once.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "grantlog-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "grantlog")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build grantlog:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// cliEnv is a home for the CLI: its own config directory, no GRANTLOG_*
// variables but those a test sets.
type cliEnv struct {
	t      *testing.T
	config string
	env    []string
}

func newCLIEnv(t *testing.T) *cliEnv {
	home := t.TempDir()
	e := &cliEnv{t: t, config: filepath.Join(home, "config")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GRANTLOG_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			e.env = append(e.env, kv)
		}
	}
	e.env = append(e.env, "HOME="+home, "XDG_CONFIG_HOME="+e.config)
	return e
}

// run runs the binary with args (and extra env) and returns its exit
// status, stdout and stderr.
func (e *cliEnv) run(env []string, args ...string) (int, string, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(append([]string(nil), e.env...), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(e.t, err)
	}
	return code, out.String(), errOut.String()
}

// ok runs args, wants exit status 0 and returns stdout.
func (e *cliEnv) ok(args ...string) string {
	e.t.Helper()
	code, out, errOut := e.run(nil, args...)
	require.Equal(e.t, 0, code, "grantlog %s: %s", strings.Join(args, " "), errOut)
	return out
}

// startNode runs a node (role all) until the test ends; it returns its
// URL and the path of its bootstrap token file.
func startNode(t *testing.T) (url, tokenFile string) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: testutil.Quiet})
	if err != nil {
		cancel()
		require.NoError(t, err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, srv.Ready, 10*time.Second, 10*time.Millisecond)
	return "http://" + srv.HTTPAddr(), filepath.Join(dir, auth.BootstrapTokenFile)
}

func TestCLIWithoutServer(t *testing.T) {
	e := newCLIEnv(t)

	code, out, errOut := e.run(nil, "--help")
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{"Service:", "Model:", "Checks:", "Audit:", "Setup:", "serve", "role", "assign", "check", "context", "completion"} {
		assert.Contains(t, out, want, "help on stdout lists groups and commands")
	}
	assert.Empty(t, errOut)

	code, out, _ = e.run(nil, "role", "create", "--help")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "grantlog role create OrderClerk --permission", "a copy-paste example")

	assert.Equal(t, "grantlog dev\n", e.ok("version"))

	for _, shell := range []string{"bash", "zsh", "fish"} {
		out := e.ok("completion", shell)
		assert.Contains(t, out, "grantlog", shell)
	}

	code, out, errOut = e.run(nil, "frobnicate")
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, `unknown command "frobnicate"`)
	assert.Contains(t, errOut, "grantlog --help")

	code, _, errOut = e.run(nil, "role", "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "grantlog role --help")

	code, _, errOut = e.run(nil, "role", "list")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "no context: run grantlog context add")
	assert.Contains(t, errOut, "GRANTLOG_URL")

	code, _, errOut = e.run(nil, "role", "create", "X", "--permission", "A:B=RX")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "letters of CRUD")
}

// TestServeAndAuditArgs: serve and audit get their arguments as the flag
// package saw them before cobra.
func TestServeAndAuditArgs(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, 0, run(context.Background(), []string{"serve", "-help"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "Usage: grantlog serve [flags]")
	errOut.Reset()
	assert.Equal(t, 2, run(context.Background(), []string{"serve", "-no-such-flag"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "flag provided but not defined: -no-such-flag")
	errOut.Reset()
	assert.Equal(t, 2, run(context.Background(), []string{"serve", "-log-level", "loud"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "--log-level \"loud\"")
	errOut.Reset()
	assert.Equal(t, 2, run(context.Background(), []string{"audit"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "grantlog audit tail")
	errOut.Reset()
	assert.Equal(t, 2, run(context.Background(), []string{"audit", "tail", "-since", "x"}, &out, &errOut))
	assert.Empty(t, out.String())
}

func TestCLI(t *testing.T) {
	url, tokenFile := startNode(t)
	e := newCLIEnv(t)

	// Contexts.
	assert.Contains(t, e.ok("context", "add", "local", "--url", url, "--token-file", tokenFile), "Context local added")
	e.ok("context", "add", "other", "--url", "http://127.0.0.1:1", "--token-env", "OTHER_TOKEN")
	path := filepath.Join(e.config, "grantlog", "contexts.json")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	st, err = os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	tok, err := os.ReadFile(tokenFile)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), strings.TrimSpace(string(tok)), "the token is never stored")
	assert.Regexp(t, `(?m)^\*\s+other\s`, e.ok("context", "ls"))
	e.ok("context", "use", "local")
	ls := e.ok("context", "ls")
	assert.Regexp(t, `(?m)^\*\s+local\s+`+regexp.QuoteMeta(url), ls)
	assert.Regexp(t, `(?m)^\s+other\s`, ls)
	code, _, errOut := e.run(nil, "context", "use", "nope")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "grantlog context add nope")

	// Roles: CRUD letters, by name.
	var role struct {
		RoleID      string `json:"roleId"`
		RoleName    string `json:"roleName"`
		Permissions []struct {
			Resource string `json:"resource"`
			Action   int    `json:"action"`
		} `json:"permissions"`
	}
	const orders = "NAMESPACE:{namespace}:USER:{userId}:ORDER"
	out := e.ok("role", "create", "OrderClerk", "--permission", orders+"=RU", "--reason", "cli test", "-o", "json")
	require.NoError(t, json.Unmarshal([]byte(out), &role))
	assert.Equal(t, "OrderClerk", role.RoleName)
	require.Len(t, role.Permissions, 1)
	assert.Equal(t, 6, role.Permissions[0].Action, "RU is 2|4")
	id := role.RoleID

	out = e.ok("role", "get", "OrderClerk")
	require.NoError(t, json.Unmarshal([]byte(out), &role))
	assert.Equal(t, id, role.RoleID, "by name")
	byID := e.ok("role", "get", id, "-o", "json")

	// -o json is the API's JSON, byte for byte.
	req, err := http.NewRequest(http.MethodGet, url+"/v1/roles/"+id, http.NoBody)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	api, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(string(api)), strings.TrimSpace(byID))

	out = e.ok("role", "permissions", "add", "OrderClerk", "--permission", orders+"=D", "-o", "json")
	require.NoError(t, json.Unmarshal([]byte(out), &role))
	require.Len(t, role.Permissions, 1)
	assert.Equal(t, 14, role.Permissions[0].Action, "RU|D")

	yml := e.ok("role", "get", "OrderClerk", "-o", "yaml")
	assert.Contains(t, yml, "roleName: OrderClerk\n")

	// Assignments by role name; checks answer with their exit status.
	e.ok("assign", "--namespace", "mygame", "--user", "u1", "--role", "OrderClerk", "--reason", "onboarding")
	code, out, errOut = e.run(nil, "check", "--namespace", "mygame", "--user", "u1", "NAMESPACE:mygame:USER:u1:ORDER", "RD", "-o", "table")
	assert.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^allowed \(revision \d+\)\n$`, out)
	allowedAt := regexp.MustCompile(`\d+`).FindString(out)
	code, out, _ = e.run(nil, "check", "--namespace", "mygame", "--user", "u1", "NAMESPACE:mygame:USER:u1:ORDER", "C", "-o", "table")
	assert.Equal(t, 1, code)
	assert.Regexp(t, `^denied \(revision \d+\)\n$`, out)
	code, out, _ = e.run(nil, "check", "--namespace", "mygame", "--user", "u2", "NAMESPACE:mygame:USER:u2:ORDER", "R")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, `"allowed":false`)
	code, _, errOut = e.run([]string{"GRANTLOG_TOKEN=not-a-token"}, "check", "--namespace", "mygame", "--user", "u1", "NAMESPACE:mygame:USER:u1:ORDER", "R")
	assert.GreaterOrEqual(t, code, 2, "no answer")
	assert.Contains(t, errOut, "fix: ")
	code, _, _ = e.run(nil, "check", "--namespace", "mygame", "NAMESPACE:mygame:USER:u1:ORDER", "R")
	assert.Equal(t, 2, code, "no subject")
	code, _, errOut = e.run([]string{"GRANTLOG_URL=http://127.0.0.1:1"}, "role", "list")
	assert.Equal(t, 3, code, "no node there")
	assert.Contains(t, errOut, "fix: is a node running")
	code, _, errOut = e.run(nil, "assign", "--namespace", "mygame")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `required flag(s) "role", "user" not set`)
	assert.Contains(t, errOut, "grantlog assign --help")
	code, _, errOut = e.run(nil, "--context", "other", "role", "list")
	assert.GreaterOrEqual(t, code, 2)
	assert.Contains(t, errOut, "OTHER_TOKEN")

	// A generic operation: role members, flags from the table.
	out = e.ok("role", "members", "--role-id", "OrderClerk", "--limit", "10")
	assert.Contains(t, out, `"u1"`, "--role-id takes a name too")
	out = e.ok("client", "create", "--namespace", "mygame", "--json", `{"clientName": "svc"}`,
		"--permission", "NAMESPACE:{namespace}:ORDER=CD", "-o", "json")
	var created struct{ ClientID string }
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	out = e.ok("client", "get", "--namespace", "mygame", "--client-id", created.ClientID)
	assert.Contains(t, out, `"permissions":[{"resource":"NAMESPACE:{namespace}:ORDER","action":9}]`)
	code, _, errOut = e.run(nil, "role", "members")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--role-id is required")

	// Tables (ids, times and revisions masked).
	got := e.ok("role", "get", "OrderClerk", "-o", "table") + "---\n" +
		e.ok("user", "roles", "--namespace", "mygame", "--user", "u1", "-o", "table")
	golden(t, "testdata/tables.golden", mask(got))

	e.ok("unassign", "--namespace", "mygame", "--user", "u1", "--role", "OrderClerk")
	code, _, _ = e.run(nil, "check", "--namespace", "mygame", "--user", "u1", "NAMESPACE:mygame:USER:u1:ORDER", "R")
	assert.Equal(t, 1, code)
	// History: the check as of the revision it was allowed at; the timeline.
	code, out, errOut = e.run(nil, "check", "--namespace", "mygame", "--user", "u1", "--at-revision", allowedAt,
		"NAMESPACE:mygame:USER:u1:ORDER", "R", "-o", "table")
	assert.Equal(t, 0, code, errOut)
	assert.Equal(t, "allowed (revision "+allowedAt+")\n", out)
	code, _, errOut = e.run(nil, "check", "--namespace", "mygame", "--user", "u1", "--as-of", "yesterday", "NAMESPACE:mygame:USER:u1:ORDER", "R")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "RFC 3339")
	code, _, errOut = e.run(nil, "check", "--namespace", "mygame", "--user", "u1", "--as-of", "2999-01-01T00:00:00Z", "NAMESPACE:mygame:USER:u1:ORDER", "R")
	assert.GreaterOrEqual(t, code, 2, "no answer about the future")
	assert.Contains(t, errOut, "asOfInFuture")
	out = e.ok("subject", "timeline", "--namespace", "mygame", "--subject-type", "user", "--subject-id", "u1", "-o", "json")
	assert.Contains(t, out, `"eventType":"user.role_assigned.v1"`)
	assert.Contains(t, out, `"eventType":"user.role_unassigned.v1"`)
	assert.Contains(t, out, `"reason":"onboarding"`)
	e.ok("role", "delete", "OrderClerk")
	code, _, errOut = e.run(nil, "role", "get", "OrderClerk")
	assert.Equal(t, 3, code)
	assert.Contains(t, errOut, "grantlog role list")

	// The audit records say the changes came through the CLI.
	code, out, errOut = e.run(nil, "audit", "export", "--url", url, "--token-file", tokenFile, "--namespace", "mygame")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `"via":"cli"`)

	// Without --url and --token-file, audit uses the current context; a
	// context's token is never sent to another URL.
	e.ok("context", "use", "local")
	code, viaContext, errOut := e.run(nil, "audit", "export", "--namespace", "mygame")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, out, viaContext)
	code, _, errOut = e.run(nil, "audit", "export", "--url", "http://127.0.0.1:1", "--namespace", "mygame")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "no token")
}

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	revRE  = regexp.MustCompile(`(?m)(revision:\s+|\s)\d+$`)
)

// mask replaces the ids, times and revisions of CLI output: tabwriter
// columns stay aligned as ids and times have fixed widths.
func mask(s string) string {
	s = uuidRE.ReplaceAllString(s, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
	s = timeRE.ReplaceAllString(s, "TIME")
	return revRE.ReplaceAllString(s, "${1}N")
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to write it", t.Name())
	assert.Equal(t, string(want), got)
}

// verbs are the operations whose commands are the contract's verbs.
var verbs = map[string]bool{
	"role.create": true, "role.get": true, "role.delete": true, "role.permissions.add": true,
	"role.permissions.remove": true, "role.permissions.replace": true,
	"assign": true, "unassign": true, "user.roles": true, "check": true,
}

// TestEveryOperationIsACommand: the commands are generated from the
// table, so an operation added to it is a command with no CLI change.
func TestEveryOperationIsACommand(t *testing.T) {
	root := (&cli{ctx: context.Background(), stdout: io.Discard, stderr: io.Discard}).root()
	for _, op := range apitable.Table() {
		path := strings.Split(op.Name, ".")
		if op.Stream || op.Compat != "" || reserved[path[0]] {
			continue
		}
		cmd, rest, err := root.Find(path)
		require.NoError(t, err, op.Name)
		assert.Empty(t, rest, op.Name)
		assert.True(t, cmd.Runnable(), op.Name)
		assert.NotEmpty(t, cmd.Short, op.Name)
		assert.NotEmpty(t, cmd.Example, op.Name)
		if verbs[op.Name] {
			continue
		}
		for _, p := range op.Params {
			assert.NotNil(t, cmd.Flags().Lookup(kebab(p.Name)), "%s has a flag for %s", op.Name, p.Name)
		}
		if op.Body {
			assert.NotNil(t, cmd.Flags().Lookup("json"), op.Name)
		}
	}
	for _, c := range root.Commands() {
		assert.NotEmpty(t, c.GroupID, "%s is in a group of --help", c.Name())
	}
}

func TestWriteTable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"data":[],"paging":{},"revision":3}`, "(none)\n\nrevision: 3\n"},
		{`{"data":["a","b"],"paging":{"next":"b"},"revision":3}`, "a\nb\n\nrevision: 3\nmore: --after b\n"},
		{`{"data":[{"userId":"u1","at":"x","createdAt":"t"},{"userId":"u2"}],"revision":4}`, "USER ID  AT\nu1       x\nu2       \n\nrevision: 4\n"},
		{`{"revision":7,"tags":["x","y"],"permissions":[{"resource":"A:B","action":6}],"n":null}`, "revision:     7\ntags:         x, y\npermissions:  A:B=RU\nn:            \n"},
	} {
		n, err := parseNode(json.RawMessage(tc.in))
		require.NoError(t, err)
		var b bytes.Buffer
		require.NoError(t, writeTable(&b, n))
		assert.Equal(t, tc.want, b.String(), tc.in)
	}
}

func TestParseAction(t *testing.T) {
	for in, want := range map[string]int{"R": 2, "ru": 6, "CRUD": 15, "DC": 9, "15": 15, "0": 0, "8": 8} {
		got, err := parseAction(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "RR", "X", "16", "-1", "R U"} {
		_, err := parseAction(bad)
		assert.Error(t, err, bad)
	}
	ps, err := parsePermissions([]string{"NAMESPACE:{namespace}:USER:{userId}:ORDER=RU"})
	require.NoError(t, err)
	assert.Equal(t, []permissionJSON{{Resource: "NAMESPACE:{namespace}:USER:{userId}:ORDER", Action: 6}}, ps)
	_, err = parsePermissions([]string{"NO-ACTION"})
	assert.Error(t, err)
}
