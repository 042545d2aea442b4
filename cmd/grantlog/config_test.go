package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/testutil"
)

// clearServeEnv unsets every environment variable serve's flags read, for
// the test.
func clearServeEnv(t *testing.T) {
	t.Helper()
	fs, _, _ := serveFlags(io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		if env := envOf(f); env != "" {
			t.Setenv(env, "")
		}
	})
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "grantlog.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// TestConfigPrecedence: flag > environment variable > file > default, for
// a string (http-addr), a duration (snapshot-interval), a number
// (rate-limit) and a bool (reset-bootstrap-token, which has no
// environment variable), through serve's own flag set and finish.
func TestConfigPrecedence(t *testing.T) {
	type setting struct {
		key, env                 string
		def, file, envVal, flagV string
		effective                func(fs *flag.FlagSet) string
	}
	str := func(key string) func(fs *flag.FlagSet) string {
		return func(fs *flag.FlagSet) string { return fs.Lookup(key).Value.String() }
	}
	settings := []setting{
		{key: "http-addr", env: "GRANTLOG_HTTP_ADDR", def: "127.0.0.1:8080", file: "127.0.0.1:9001", envVal: "127.0.0.1:9002", flagV: "127.0.0.1:9003", effective: str("http-addr")},
		{key: "snapshot-interval", env: "GRANTLOG_SNAPSHOT_INTERVAL", def: "0s", file: "1m0s", envVal: "2m0s", flagV: "3m0s"},
		{key: "rate-limit", env: "GRANTLOG_RATE_LIMIT", def: "0", file: "1.5", envVal: "2.5", flagV: "3.5", effective: str("rate-limit")},
		{key: "reset-bootstrap-token", def: "false", file: "false", flagV: "true", effective: str("reset-bootstrap-token")}, // true is refused in a file (one start only)
	}
	cases := []struct {
		name             string
		file, env, flagG bool
		want, wantSource string
	}{
		{name: "default", want: "def", wantSource: "default"},
		{name: "file", file: true, want: "file", wantSource: "file"},
		{name: "env over file", file: true, env: true, want: "env", wantSource: "env"},
		{name: "env", env: true, want: "env", wantSource: "env"},
		{name: "flag over env and file", file: true, env: true, flagG: true, want: "flag", wantSource: "flag"},
		{name: "flag over file", file: true, flagG: true, want: "flag", wantSource: "flag"},
	}
	for _, s := range settings {
		for _, tc := range cases {
			if tc.env && s.env == "" {
				continue
			}
			t.Run(s.key+"/"+tc.name, func(t *testing.T) {
				clearServeEnv(t)
				file := "data-dir: " + t.TempDir() + "\n"
				if tc.file {
					file += s.key + ": " + s.file + "\n"
				}
				if tc.env {
					t.Setenv(s.env, s.envVal)
				}
				args := []string{"--config", writeConfig(t, file)}
				if tc.flagG {
					args = append(args, "--"+s.key+"="+s.flagV)
				}
				fs, cfg, finish := serveFlags(io.Discard)
				require.NoError(t, fs.Parse(args))
				st, err := applyConfigFile(fs)
				require.NoError(t, err)
				require.NoError(t, st.explain(finish()))
				want := map[string]string{"def": s.def, "file": s.file, "env": s.envVal, "flag": s.flagV}[tc.want]
				var got string
				if s.key == "snapshot-interval" { // a text flag: the duration is cfg's
					got = cfg.SnapshotInterval.String()
				} else {
					got = s.effective(fs)
				}
				assert.Equal(t, want, got)
				switch s.key { // and cfg holds it
				case "http-addr":
					assert.Equal(t, want, cfg.HTTPAddr)
				case "rate-limit":
					assert.Equal(t, want, strconv.FormatFloat(cfg.RateLimit, 'g', -1, 64))
				case "reset-bootstrap-token":
					assert.Equal(t, want, strconv.FormatBool(cfg.ResetBootstrapToken))
				}
				assert.True(t, strings.HasPrefix(st.sources[s.key].from, tc.wantSource), "source %q", st.sources[s.key])
			})
		}
	}
}

// TestConfigGenericFlags: the config file reads whatever flags the set
// has (a flag added later needs no code here), bool ones with their
// environment variable too.
func TestConfigGenericFlags(t *testing.T) {
	for _, tc := range []struct {
		env, file, flagV string
		want             bool
	}{
		{want: false},
		{file: "true", want: true},
		{env: "false", file: "true", want: false},
		{env: "true", file: "false", want: true},
		{env: "true", file: "true", flagV: "false", want: false},
	} {
		t.Setenv("GRANTLOG_TEST_SWITCH", tc.env)
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.String(configFlag, "", "")
		def, _ := strconv.ParseBool(os.Getenv("GRANTLOG_TEST_SWITCH"))
		sw := fs.Bool("switch", def, "a bool (env GRANTLOG_TEST_SWITCH)")
		fs.Duration("every", time.Second, "a duration")
		text := "every: 5m\n"
		if tc.file != "" {
			text += "switch: " + tc.file + "\n"
		}
		args := []string{"--config", writeConfig(t, text)}
		if tc.flagV != "" {
			args = append(args, "--switch="+tc.flagV)
		}
		require.NoError(t, fs.Parse(args))
		_, err := applyConfigFile(fs)
		require.NoError(t, err)
		assert.Equal(t, tc.want, *sw, "%+v", tc)
		assert.Equal(t, "5m0s", fs.Lookup("every").Value.String())
	}
}

// TestConfigFileErrors: unknown keys, wrong types and other problems are
// refused with the file's line and the key; serve refuses to start.
func TestConfigFileErrors(t *testing.T) {
	clearServeEnv(t)
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"unknown key", "http-addr: 127.0.0.1:8080\n\nhttp_addr: x\n", []string{":3: unknown setting \"http_addr\"", "data-dir, home-domain, http-addr"}},
		{"config in config", "config: other.yaml\n", []string{":1: unknown setting \"config\""}},
		{"nested", "nats:\n  url: x\n", []string{":1: unknown setting \"nats\""}},
		{"bool", "role: all\nreset-bootstrap-token: yes\n", []string{":2: reset-bootstrap-token: want true or false, got \"yes\""}},
		{"bool quoted", "reset-bootstrap-token: \"true\"\n", []string{":1: reset-bootstrap-token: want true or false"}},
		{"number", "rate-limit: fast\n", []string{":1: rate-limit: want a number, got \"fast\""}},
		{"whole number", "rate-burst: 2.5\n", []string{":1: rate-burst: want a whole number, got \"2.5\""}},
		{"list", "log-level:\n  - debug\n", []string{":1: log-level: want one value (text), got a list"}},
		{"mapping", "data-dir: {a: b}\n", []string{":1: data-dir: want one value (text), got a mapping"}},
		{"empty value", "node-name:\n", []string{":1: node-name: no value"}},
		{"bool for text", "node-name: true\n", []string{":1: node-name: want text, got the boolean true"}},
		{"duration", "\nsnapshot-interval: soon\n", []string{":2: --snapshot-interval \"soon\": use a duration such as 10m"}},
		{"log level", "log-level: loud\n", []string{":1: --log-level \"loud\""}},
		{"not a mapping", "- a\n- b\n", []string{":1: the file must be a mapping of settings"}},
		{"yaml", "http-addr: [\n", []string{"want YAML"}},
		{"duplicate", "role: all\nrole: replica\n", []string{"already defined"}},
		{"two documents", "role: all\n---\nrole: replica\n", []string{":2: a second YAML document"}},
		{"alias", "data-dir: &d /tmp\nnode-name: *d\n", []string{":2: node-name: want one value (text), got reference to an anchor"}},
		{"infinite rate", "rate-limit: .inf\n", []string{":1: --rate-limit +Inf: use 0 (off) or a positive number"}},
		{"negative burst", "rate-limit: 5\n\nrate-burst: -1\n", []string{":3: --rate-burst -1: use 0"}},
		{"admin address", "admin-addr: 6060\n", []string{":1: --admin-addr \"6060\": want HOST:PORT"}},
		{"several at once", "a: 1\nrate-limit: x\n", []string{":1: unknown setting \"a\"", ":2: rate-limit: want a number"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.text)
			var out, errOut bytes.Buffer
			assert.Equal(t, exitUsage, run(context.Background(), []string{"config", "check", path}, &out, &errOut))
			assert.Empty(t, out.String())
			for _, w := range tc.want {
				assert.Contains(t, errOut.String(), w)
			}
			errOut.Reset()
			assert.Equal(t, exitUsage, run(context.Background(), []string{"serve", "--config", path}, &out, &errOut))
			for _, w := range tc.want {
				assert.Contains(t, errOut.String(), w)
			}
		})
	}
	// A missing file.
	var out, errOut bytes.Buffer
	assert.Equal(t, exitUsage, run(context.Background(), []string{"config", "check", filepath.Join(t.TempDir(), "none.yaml")}, &out, &errOut))
	assert.Contains(t, errOut.String(), "none.yaml")
	// A bad number in the environment.
	t.Setenv("GRANTLOG_RATE_LIMIT", "lots")
	errOut.Reset()
	assert.Equal(t, exitUsage, run(context.Background(), []string{"config", "check", writeConfig(t, "role: all\n")}, &out, &errOut))
	assert.Contains(t, errOut.String(), `GRANTLOG_RATE_LIMIT="lots": want a number`)
}

// TestConfigCheckExample: deploy/grantlog.yaml passes config check, sets
// every serve flag (a flag added to serve must be documented there), and
// a secret's value is never printed.
func TestConfigCheckExample(t *testing.T) {
	clearServeEnv(t)
	example := filepath.Join("..", "..", "deploy", "grantlog.yaml")
	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"config", "check", example}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "is valid")
	fs, _, _ := serveFlags(io.Discard)
	for _, name := range settingNames(fs) {
		assert.Regexp(t, `(?m)^  `+name+` .* file, line \d+$`, out.String(), "deploy/grantlog.yaml lacks %s: add it, commented", name)
	}

	secretPath := writeConfig(t, "nats-url: nats://127.0.0.1:4222\nnats-user: svc\nnats-password: hunter2-very-secret\n")
	out.Reset()
	require.Equal(t, exitOK, run(context.Background(), []string{"config", "check", secretPath}, &out, &errOut), errOut.String())
	assert.NotContains(t, out.String(), "hunter2")
	assert.Regexp(t, `nats-password +\(set\) +file, line 3`, out.String())
	t.Setenv("GRANTLOG_NATS_PASSWORD", "from-env-secret")
	out.Reset()
	require.Equal(t, exitOK, run(context.Background(), []string{"config", "check", secretPath}, &out, &errOut), errOut.String())
	assert.NotContains(t, out.String(), "from-env-secret")
	assert.Regexp(t, `nats-password +\(set\) +env GRANTLOG_NATS_PASSWORD`, out.String())
}

// TestServeWithConfigFile: grantlog serve --config starts with the file's
// settings (its data dir, its free ports, its admin listener and rate
// limit) and a flag overrides the file.
func TestServeWithConfigFile(t *testing.T) {
	clearServeEnv(t)
	dir := t.TempDir()
	path := writeConfig(t, "data-dir: "+filepath.Join(dir, "data")+"\nhttp-addr: 127.0.0.1:0\nnats-listen: 127.0.0.1:0\n"+
		"admin-addr: 127.0.0.1:0\nrate-limit: 100\nlog-level: warn\n")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut testutil.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", path, "--rate-burst", "7"}, &out, &errOut) }()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "serving HTTP") }, 20*time.Second, 20*time.Millisecond,
		"stdout %q stderr %q", out.String(), errOut.String())
	assert.Contains(t, out.String(), "Profiling on http://127.0.0.1:")
	assert.Contains(t, out.String(), "Rate limit: 100 requests a second per caller (bursts of 7)")
	assert.FileExists(t, filepath.Join(dir, "data", "bootstrap-token"))
	m := regexp.MustCompile(`serving HTTP on (http://\S+)`).FindStringSubmatch(out.String())
	require.NotNil(t, m)
	require.Eventually(t, func() bool {
		resp, err := http.Get(m[1] + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond)
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, errOut.String())
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}
