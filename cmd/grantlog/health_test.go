package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHealth runs grantlog health, the exec-form health check of the
// compose file, against a real node and against servers that answer
// every way a probe can go wrong.
func TestHealth(t *testing.T) {
	e := newCLIEnv(t)

	// A real node: ready, and alive.
	url, _ := startNode(t)
	code, out, errOut := e.run(nil, "health", "--url", url+"/readyz")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^200 \{.*"ready":true`, out)
	code, out, errOut = e.run(nil, "health", "--url", url+"/healthz")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "200 {\"status\":\"ok\"}\n", out)

	answer := func(status int, body string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if status/100 == 3 {
				http.Redirect(w, r, "/elsewhere", status)
				return
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(s.Close)
		return s.URL + "/readyz"
	}

	// Not ready: 503 is unhealthy (exit 1), with the answer shown.
	code, out, errOut = e.run(nil, "health", "--url", answer(503, "{\"ready\":false}\nsecond line"))
	assert.Equal(t, 1, code)
	assert.Equal(t, "503 {\"ready\":false}\n", out, "the first line of the answer only")
	assert.Contains(t, errOut, "503 Service Unavailable")
	// A redirect is not followed and not healthy.
	code, _, errOut = e.run(nil, "health", "--url", answer(302, ""))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "302")
	// 204 is healthy (any 2xx).
	code, _, _ = e.run(nil, "health", "--url", answer(204, ""))
	assert.Equal(t, 0, code)

	// Nobody listening: unhealthy.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + l.Addr().String() + "/readyz"
	require.NoError(t, l.Close())
	code, out, errOut = e.run(nil, "health", "--url", closed)
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "health: "+closed)

	// A server that accepts and never answers: unhealthy after --timeout.
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(hang.Close)
	start := time.Now()
	code, _, errOut = e.run(nil, "health", "--url", hang.URL+"/readyz", "--timeout", "200ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no answer within 200ms")
	assert.Less(t, time.Since(start), 9*time.Second, "the probe gave up at its timeout, not the server's")

	// Bad command lines: usage errors (exit 2), nothing probed.
	for _, args := range [][]string{
		{"health", "--url", "127.0.0.1:8080/readyz"},
		{"health", "--url", "ftp://127.0.0.1/readyz"},
		{"health", "--url", "http:///readyz"},
		{"health", "--timeout", "0s"},
		{"health", "extra"},
	} {
		code, _, errOut := e.run(nil, args...)
		assert.Equal(t, 2, code, strings.Join(args, " "))
		assert.Contains(t, errOut, "grantlog", strings.Join(args, " "))
	}

	// It is listed with the service commands.
	code, out, _ = e.run(nil, "--help")
	require.Equal(t, 0, code)
	assert.Regexp(t, `(?s)Service:.*health`, out)
}

// TestBootstrapTokenCommand: grantlog bootstrap token prints the token
// file of the node that created the stream (the way to read it out of a
// scratch image), and says where to look when there is none.
func TestBootstrapTokenCommand(t *testing.T) {
	e := newCLIEnv(t)
	_, tokenFile := startNode(t)
	raw, err := os.ReadFile(tokenFile)
	require.NoError(t, err)
	want := strings.TrimSpace(string(raw)) + "\n"
	require.Greater(t, len(want), 10)

	assert.Equal(t, want, e.ok("bootstrap", "token", "--data-dir", filepath.Dir(tokenFile)))
	code, out, errOut := e.run([]string{"GRANTLOG_DATA_DIR=" + filepath.Dir(tokenFile)}, "bootstrap", "token")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, want, out, "the data directory from GRANTLOG_DATA_DIR, as serve takes it")

	empty := t.TempDir()
	code, out, errOut = e.run(nil, "bootstrap", "token", "--data-dir", empty)
	assert.Equal(t, 3, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, filepath.Join(empty, "bootstrap-token"))
	assert.Contains(t, errOut, "only the node that created the stream")

	code, _, _ = e.run(nil, "bootstrap", "token", "extra")
	assert.Equal(t, 2, code)
}
