package server_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/edge/natsapi"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// rawHTTP sends a request with an Authorization header and returns the
// status, the Retry-After header and the decoded JSON answer.
func rawHTTP(t *testing.T, base, method, path, authz, body string) (int, string, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	require.NoError(t, err)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := map[string]any{}
	require.NoError(t, json.Unmarshal(raw, &out), "answer of %s %s is not JSON: %s", method, path, raw)
	return resp.StatusCode, resp.Header.Get("Retry-After"), out
}

// natsRequest sends a request over NATS with an Authorization header.
func natsRawRequest(t *testing.T, nc *nats.Conn, subject, authz, body string) *nats.Msg {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = []byte(body)
	m.Header.Set(natsapi.AuthorizationHeader, authz)
	reply, err := nc.RequestMsg(m, 5*time.Second)
	require.NoError(t, err)
	return reply
}

// TestRateLimitPerCredential: with --rate-limit, a credential over its
// limit is answered 429 (errorCode rateLimited, Retry-After) over HTTP
// and NATS alike (one bucket across both), while another credential is
// answered as before; requests without a valid credential are limited by
// remote address; a refused command changes nothing.
func TestRateLimitPerCredential(t *testing.T) {
	dir := t.TempDir()
	// 0.2 a second: a spent bucket takes 5s per token, longer than the test
	// takes between its requests.
	const burst = 6
	n := startNode(t, server.Config{DataDir: dir, NATSListen: "127.0.0.1:0", OpsConfig: server.OpsConfig{RateLimit: 0.2, RateBurst: burst}}, "")
	base := n.c.base
	admin := "Bearer " + n.c.token
	// Two of the admin's burst.
	n.c.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "arena"})
	cl := n.c.must(http.StatusCreated, "POST", "/v1/namespaces/arena/clients", map[string]any{"clientName": "other",
		"permissions": []any{map[string]any{"resource": "ADMIN:NAMESPACE:arena:PERMISSION:CHECK", "action": 2}}})
	other := "Basic " + base64.StdEncoding.EncodeToString([]byte(cl["clientId"].(string)+":"+cl["clientSecret"].(string)))
	checkBody := `{"subject":{"type":"client","id":"` + cl["clientId"].(string) + `"},"namespace":"arena","resource":"NAMESPACE:arena:X","action":2}`

	// What the other credential is answered while nobody is limited.
	wantOther, _, otherOut := rawHTTP(t, base, "POST", "/v1/check", other, checkBody)
	require.Equal(t, http.StatusOK, wantOther, "a caller may check itself: %v", otherOut)

	// The admin spends the rest of its burst; the next request is refused.
	var (
		status int
		retry  string
		out    map[string]any
		sent   int
	)
	for sent = 0; sent < burst+2; sent++ {
		status, retry, out = rawHTTP(t, base, "POST", "/v1/check", admin, checkBody)
		if status == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusOK, status, "%v", out)
	}
	require.Equal(t, http.StatusTooManyRequests, status, "no 429 after %d requests", sent)
	assert.Equal(t, burst-2, sent, "the burst is %d requests (2 spent on setup)", burst)
	assert.Equal(t, "rateLimited", out["errorCode"])
	assert.Contains(t, out["errorMessage"], "retry in")
	secs, err := strconv.Atoi(retry)
	require.NoError(t, err, "Retry-After %q is not seconds", retry)
	assert.True(t, secs >= 1 && secs <= 5, "Retry-After %d: want 1..5 s at 0.2 a second", secs)

	// A refused command changes nothing.
	rev := n.srv.Store().Applied()
	status, _, out = rawHTTP(t, base, "POST", "/v1/namespaces", admin, `{"namespace":"nope"}`)
	require.Equal(t, http.StatusTooManyRequests, status, "%v", out)

	// The other credential is answered as before.
	got, _, gotOut := rawHTTP(t, base, "POST", "/v1/check", other, checkBody)
	assert.Equal(t, wantOther, got, "%v", gotOut)

	// Over NATS: the admin's bucket is the same one, spent.
	nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: n.srv.NATSURL(), CredsFile: filepath.Join(dir, eventlog.ClientCredsFile)})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	reply := natsRawRequest(t, nc, natsapi.CheckSubject, admin, checkBody)
	assert.Equal(t, "429", reply.Header.Get(micro.ErrorCodeHeader), "%s", reply.Data)
	assert.Equal(t, "rateLimited", reply.Header.Get(natsapi.ErrorCodeHeader))
	secs, err = strconv.Atoi(reply.Header.Get("Retry-After"))
	require.NoError(t, err, "NATS Retry-After %q", reply.Header.Get("Retry-After"))
	assert.GreaterOrEqual(t, secs, 1)
	body := decodeMap(t, reply.Data)
	assert.Equal(t, "rateLimited", body["errorCode"])
	reply = natsRawRequest(t, nc, natsapi.CommandSubjectPrefix+".namespace.create", admin, `{"namespace":"nope"}`)
	assert.Equal(t, "429", reply.Header.Get(micro.ErrorCodeHeader), "%s", reply.Data)
	// ... and the other credential's is not.
	reply = natsRawRequest(t, nc, natsapi.CheckSubject, other, checkBody)
	assert.Empty(t, reply.Header.Get(micro.ErrorCodeHeader), "%s", reply.Data)
	assert.Contains(t, decodeMap(t, reply.Data), "allowed")

	// The refused commands wrote nothing.
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, rev, n.srv.Store().Applied(), "a refused command changed the log")

	// Without a valid credential: limited by remote address (401 until
	// the address's burst is spent, then 429).
	var codes []int
	for range burst + 2 {
		s, _, _ := rawHTTP(t, base, "POST", "/v1/check", "Bearer not-a-token", checkBody)
		codes = append(codes, s)
	}
	assert.Equal(t, http.StatusUnauthorized, codes[0])
	assert.Equal(t, http.StatusTooManyRequests, codes[len(codes)-1], "%v", codes)
}

// TestRateLimitOffByDefault: without --rate-limit nobody is ever answered
// 429, however fast they ask.
func TestRateLimitOffByDefault(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, server.Config{DataDir: dir, NATSListen: "127.0.0.1:0"}, "")
	base, admin := n.c.base, "Bearer "+n.c.token
	checkBody := `{"subject":{"type":"user","id":"u1"},"namespace":"arena","resource":"NAMESPACE:arena:X","action":2}`
	nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: n.srv.NATSURL(), CredsFile: filepath.Join(dir, eventlog.ClientCredsFile)})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	for i := range 200 {
		s, _, out := rawHTTP(t, base, "POST", "/v1/check", admin, checkBody)
		require.Equal(t, http.StatusOK, s, "request %d: %v", i, out)
		s, _, out = rawHTTP(t, base, "POST", "/v1/check", "Bearer not-a-token", checkBody)
		require.Equal(t, http.StatusUnauthorized, s, "request %d: %v", i, out)
		reply := natsRawRequest(t, nc, natsapi.CheckSubject, admin, checkBody)
		require.Empty(t, reply.Header.Get(micro.ErrorCodeHeader), "NATS request %d: %s", i, reply.Data)
	}
}

// TestPprofOnlyOnAdminListener: /debug/pprof is served on --admin-addr
// only; the API listener answers 404 for it, with or without an admin
// listener, and the admin listener serves nothing of the API.
func TestPprofOnlyOnAdminListener(t *testing.T) {
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	n := startNode(t, server.Config{DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", OpsConfig: server.OpsConfig{AdminAddr: "127.0.0.1:0"}}, "")
	require.NotEmpty(t, n.srv.AdminAddr())
	admin := "http://" + n.srv.AdminAddr()
	status, body := get(admin + "/debug/pprof/")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "goroutine")
	status, body = get(admin + "/debug/pprof/goroutine?debug=1")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "goroutine profile")
	status, _ = get(admin + "/healthz")
	assert.Equal(t, http.StatusNotFound, status, "the admin listener serves the API")

	for _, p := range []string{"/debug/pprof/", "/debug/pprof/goroutine", "/debug/pprof/cmdline"} {
		status, body = get(n.c.base + p)
		assert.Equal(t, http.StatusNotFound, status, "API listener %s: %s", p, body)
		assert.Contains(t, body, `"notFound"`)
	}

	// No admin listener unless asked for.
	srv, c := startServer(t, t.TempDir())
	assert.Empty(t, srv.AdminAddr())
	status, _ = get(c.base + "/debug/pprof/")
	assert.Equal(t, http.StatusNotFound, status)
}
