package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// client is a tiny HTTP client for the API.
type client struct {
	t         testing.TB
	base      string
	token     string
	basicAuth string
	http      *http.Client
}

func newClient(t testing.TB, addr, token string) *client {
	return &client{t: t, base: "http://" + addr, token: token, http: &http.Client{}}
}

// do sends body (a string is sent as is, anything else as JSON) and returns
// the status and decoded JSON answer.
func (c *client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	return c.doWith(method, path, body, nil)
}

// doWith is do with extra request headers.
func (c *client) doWith(method, path string, body any, headers map[string]string) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(c.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.basicAuth != "" {
		req.Header.Set("Authorization", "Basic "+c.basicAuth)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	out := map[string]any{}
	require.NoError(c.t, json.Unmarshal(raw, &out), "answer of %s %s is not JSON: %s", method, path, raw)
	return resp.StatusCode, out
}

// must sends and requires status want.
func (c *client) must(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	got, out := c.do(method, path, body)
	require.Equal(c.t, want, got, "%s %s answered %v", method, path, out)
	return out
}

// mustWith is must with extra request headers.
func (c *client) mustWith(want int, method, path string, body any, headers map[string]string) map[string]any {
	c.t.Helper()
	got, out := c.doWith(method, path, body, headers)
	require.Equal(c.t, want, got, "%s %s answered %v", method, path, out)
	return out
}

func (c *client) allowed(user, ns, resource string, action int) bool {
	c.t.Helper()
	out := c.must(http.StatusOK, "POST", "/v1/check", map[string]any{
		"subject": map[string]any{"type": "user", "id": user}, "namespace": ns, "resource": resource, "action": action,
	})
	allowed, ok := out["allowed"].(bool)
	require.True(c.t, ok, "check answer without allowed: %v", out)
	return allowed
}
