package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/audit"
	sdk "github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/testutil"
)

// sse is an open audit stream.
type sse struct {
	t      *testing.T
	resp   *http.Response
	recs   chan audit.Record
	cancel context.CancelFunc
	done   chan struct{}
}

// openSSE opens GET /v1/audit/stream?query with an optional Last-Event-ID.
func openSSE(t *testing.T, c *client, query, lastEventID string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/audit/stream?"+query, http.NoBody)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	s := &sse{t: t, resp: resp, recs: make(chan audit.Record, 1000), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.recs)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 4<<20)
		id := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				var r audit.Record
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &r) != nil || strconv.FormatUint(r.Revision, 10) != id {
					return // the test sees the stream end early
				}
				s.recs <- r
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *sse) close() {
	s.cancel()
	_ = s.resp.Body.Close()
	<-s.done
}

// next returns the next record, failing the test after a few seconds.
func (s *sse) next() audit.Record {
	s.t.Helper()
	select {
	case r, ok := <-s.recs:
		require.True(s.t, ok, "the audit stream ended")
		return r
	case <-time.After(5 * time.Second):
		require.FailNow(s.t, "no audit record within 5s")
	}
	return audit.Record{}
}

// auditAll reads every record of GET /v1/audit?query page by page.
func auditAll(t *testing.T, c *client, query string) []audit.Record {
	t.Helper()
	var out []audit.Record
	from := "1"
	for {
		q, err := url.ParseQuery(query)
		require.NoError(t, err)
		q.Set("fromRevision", from)
		q.Set("limit", "50")
		status, body := c.doRaw("GET", "/v1/audit?"+q.Encode())
		require.Equal(t, http.StatusOK, status, "%s", body)
		var page struct {
			Data   []audit.Record `json:"data"`
			Paging struct {
				Next string `json:"next"`
			} `json:"paging"`
		}
		require.NoError(t, json.Unmarshal(body, &page))
		out = append(out, page.Data...)
		if page.Paging.Next == "" {
			return out
		}
		from = page.Paging.Next
	}
}

// doRaw sends a GET and returns the status and raw body.
func (c *client) doRaw(method, path string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, http.NoBody)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, raw
}

func revisions(recs []audit.Record) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.Revision
	}
	return out
}

func streamHead(t *testing.T, srv *server.Server) uint64 {
	t.Helper()
	s, err := srv.JetStream().Stream(context.Background(), "GRANTLOG")
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.LastSeq
}

// TestAuditStreamConcurrentWriters: a subscriber sees every change exactly
// once and in revision order while several goroutines write concurrently.
func TestAuditStreamConcurrentWriters(t *testing.T) {
	srv, root := startServer(t, t.TempDir())
	role := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{
		"roleName": "Player", "permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:PROFILE", "action": 2}},
	})
	stream := openSSE(t, root, "", "")

	const writers, each = 4, 10
	var wg sync.WaitGroup
	var failed atomic.Int32
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Two writers share a namespace, so appends race.
				ns := fmt.Sprintf("ns%d", w%2)
				status, _ := root.do("POST", fmt.Sprintf("/v1/namespaces/%s/users/u%d-%d/roles", ns, w, i),
					map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{ns}})
				if status != http.StatusCreated {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	require.Zero(t, failed.Load(), "every assignment succeeds")
	head := streamHead(t, srv)

	var got []uint64
	for len(got) == 0 || got[len(got)-1] < head {
		got = append(got, stream.next().Revision)
	}
	want := make([]uint64, head)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	assert.Equal(t, want, got, "every revision exactly once, in order")
	select {
	case r := <-stream.recs:
		t.Fatalf("unexpected record after the head: %d", r.Revision)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestAuditStreamResume: a subscriber that disconnects mid-stream resumes
// with Last-Event-ID with no gap and no duplicate.
func TestAuditStreamResume(t *testing.T) {
	_, root := startServer(t, t.TempDir())
	role := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{
		"roleName": "Player", "permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:PROFILE", "action": 2}},
	})
	assign := func(ns string, i int) {
		root.must(http.StatusCreated, "POST", fmt.Sprintf("/v1/namespaces/%s/users/u%d/roles", ns, i),
			map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{ns}})
	}
	for i := range 10 {
		assign("foo", i)
		assign("bar", i)
	}
	const q = "namespace=foo&type=user.role_assigned.v1"
	first := openSSE(t, root, q, "")
	var got []audit.Record
	for range 4 {
		got = append(got, first.next())
	}
	first.close()
	// More changes while disconnected.
	for i := 10; i < 15; i++ {
		assign("foo", i)
		assign("bar", i)
	}
	second := openSSE(t, root, q, strconv.FormatUint(got[len(got)-1].Revision, 10))
	for len(got) < 15 {
		got = append(got, second.next())
	}
	want := auditAll(t, root, q)
	require.Len(t, want, 15)
	assert.Equal(t, revisions(want), revisions(got), "no gap, no duplicate")
	for _, r := range got {
		assert.Equal(t, "foo", r.Namespace)
		assert.Equal(t, events.TypeUserRoleAssigned, r.Type)
	}

	// The SDK resumes by itself when the connection breaks.
	c := sdk.New(root.base, root.token)
	cut := &cutTransport{after: 3}
	c.HTTP = &http.Client{Transport: cut}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var viaSDK []audit.Record
	for r, err := range c.Audit(ctx, sdk.AuditOptions{Namespaces: []string{"foo"}, Types: []string{events.TypeUserRoleAssigned}}) {
		require.NoError(t, err)
		viaSDK = append(viaSDK, r)
		if len(viaSDK) == 15 {
			break
		}
	}
	assert.Equal(t, revisions(want), revisions(viaSDK), "the SDK resumes with no gap and no duplicate")
	assert.GreaterOrEqual(t, cut.conns.Load(), int32(5), "the stream was cut every 3 records")
}

// cutTransport cuts every audit stream after it has carried `after` records.
type cutTransport struct {
	after int
	conns atomic.Int32
}

func (c *cutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && strings.HasSuffix(req.URL.Path, "/stream") {
		c.conns.Add(1)
		resp.Body = &cutBody{ReadCloser: resp.Body, left: c.after}
	}
	return resp, err
}

type cutBody struct {
	io.ReadCloser
	r       *bufio.Reader
	left    int
	pending []byte
}

// Read passes the stream through line by line and fails once `left`
// records have gone through.
func (b *cutBody) Read(p []byte) (int, error) {
	if b.r == nil {
		b.r = bufio.NewReader(b.ReadCloser)
	}
	if len(b.pending) == 0 {
		if b.left <= 0 {
			return 0, io.ErrUnexpectedEOF
		}
		line, err := b.r.ReadBytes('\n')
		if strings.HasPrefix(string(line), "data: ") {
			b.left--
			// Let the record's terminating blank line through too.
			blank, _ := b.r.ReadBytes('\n')
			line = append(line, blank...)
		}
		b.pending = line
		if len(line) == 0 {
			return 0, err
		}
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}

// TestAuditIsolation: a caller holding ADMIN:NAMESPACE:foo:AUDIT Read only
// reads foo's records: 403 for bar and for platform records, and an
// unfiltered subscription carries foo's records only.
func TestAuditIsolation(t *testing.T) {
	_, root := startServer(t, t.TempDir())
	role := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{
		"roleName": "FooAuditor", "permissions": []map[string]any{{"resource": "ADMIN:NAMESPACE:foo:AUDIT", "action": 2}},
	})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/foo/users/alice/roles",
		map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"foo"}})
	out := root.must(http.StatusCreated, "POST", "/v1/namespaces/foo/tokens", map[string]any{
		"name": "audit", "owner": map[string]any{"type": "user", "id": "alice"},
		"permissions": []map[string]any{{"resource": "ADMIN:NAMESPACE:foo:AUDIT", "action": 2}},
	})
	alice := root.as(out["token"].(string))
	root.must(http.StatusCreated, "POST", "/v1/namespaces/bar/users/bob/roles",
		map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"bar"}})

	for _, q := range []string{"namespace=bar", "namespace=_platform", "namespace=foo&namespace=bar"} {
		status, body := alice.doRaw("GET", "/v1/audit?"+q)
		assert.Equal(t, http.StatusForbidden, status, "%s: %s", q, body)
		status, body = alice.doRaw("GET", "/v1/audit/stream?"+q)
		assert.Equal(t, http.StatusForbidden, status, "stream %s: %s", q, body)
	}
	for _, q := range []string{"namespace=foo", ""} {
		recs := auditAll(t, alice, q)
		require.NotEmpty(t, recs, q)
		for _, r := range recs {
			assert.Equal(t, "foo", r.Namespace, "%s: revision %d", q, r.Revision)
		}
	}
	// The unfiltered stream: bar's next change is never delivered, foo's is.
	stream := openSSE(t, alice, "", "")
	for _, r := range auditAll(t, alice, "") {
		assert.Equal(t, r.Revision, stream.next().Revision)
	}
	root.must(http.StatusCreated, "POST", "/v1/namespaces/bar/users/carol/roles",
		map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"bar"}})
	root.must(http.StatusOK, "PATCH", "/v1/roles/"+role["roleId"].(string), map[string]any{"description": "platform change"})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/foo/users/dave/roles",
		map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"foo"}})
	r := stream.next()
	assert.Equal(t, "foo", r.Namespace)
	assert.Equal(t, "dave", r.AggregateID, "bar's and the platform's changes were skipped")

	anon := root.as("")
	status, _ := anon.doRaw("GET", "/v1/audit/stream")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, body := root.doRaw("GET", "/v1/audit?type=role.nothing.v1")
	assert.Equal(t, http.StatusBadRequest, status, "%s", body)
}

// TestAuditRecordContents: who, why, through what, before and after, and
// never a secret.
func TestAuditRecordContents(t *testing.T) {
	_, root := startServer(t, t.TempDir())
	var sec secrets
	sec.add(root.token)
	withID := func(method, path, reqID string, body map[string]any) map[string]any {
		body["reason"] = "ticket " + reqID
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		req, err := http.NewRequest(method, root.base+path, strings.NewReader(string(raw)))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+root.token)
		req.Header.Set("X-Request-Id", reqID)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out := map[string]any{}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		require.Less(t, resp.StatusCode, 300, "%s %s: %v", method, path, out)
		return out
	}
	role := withID("POST", "/v1/roles", "r1", map[string]any{
		"roleName": "Support", "permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:TICKET", "action": 2}},
	})
	roleID := role["roleId"].(string)
	withID("PATCH", "/v1/roles/"+roleID, "r2", map[string]any{"roleName": "Helpdesk"})
	withID("POST", "/v1/roles/"+roleID+"/permissions", "r3", map[string]any{
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:TICKET", "action": 4}}})
	withID("POST", "/v1/namespaces/foo/users/u1/roles", "r4", map[string]any{"roleId": roleID, "assignedNamespaces": []string{"foo"}})
	withID("POST", "/v1/namespaces/foo/users/u1/roles", "r5", map[string]any{"roleId": roleID, "assignedNamespaces": []string{"foo", "bar"}})
	cl := withID("POST", "/v1/namespaces/foo/clients", "r6", map[string]any{
		"clientName": "bot", "permissions": []map[string]any{{"resource": "NAMESPACE:foo:TICKET", "action": 2}}})
	sec.add(cl["clientSecret"])
	withID("PATCH", "/v1/namespaces/foo/clients/"+cl["clientId"].(string), "r7", map[string]any{"clientName": "bot2"})
	tok := withID("POST", "/v1/namespaces/foo/tokens", "r8", map[string]any{
		"name": "t", "permissions": []map[string]any{{"resource": "NAMESPACE:foo:TICKET", "action": 2}}})
	sec.add(tok["token"])
	root.must(http.StatusOK, "DELETE", "/v1/namespaces/foo/tokens/"+tok["tokenId"].(string)+"?reason=leaked", nil)
	root.must(http.StatusOK, "DELETE", "/v1/namespaces/foo/users/u1/roles/"+roleID, nil)

	recs := auditAll(t, root, "")
	byReq := map[string]audit.Record{}
	for _, r := range recs {
		byReq[r.RequestID] = r
		raw, err := json.Marshal(r)
		require.NoError(t, err)
		for _, s := range sec {
			assert.NotContains(t, string(raw), s, "revision %d carries a secret", r.Revision)
		}
		assert.NotContains(t, string(raw), "secretHash", "revision %d", r.Revision)
		assert.NotEmpty(t, r.Hash)
	}

	upd := byReq["r2"]
	assert.Equal(t, events.TypeRoleUpdated, upd.Type)
	assert.Equal(t, "ticket r2", upd.Reason)
	// The bootstrap credential is recorded as itself (a token), acting for
	// the bootstrap admin user.
	assert.Equal(t, "token", upd.Actor.Type)
	assert.NotEmpty(t, upd.Actor.ID)
	assert.Equal(t, &events.Actor{Type: "user", ID: "grantlog-bootstrap-admin"}, upd.OnBehalfOf)
	require.NotNil(t, upd.Source)
	assert.Equal(t, "http", upd.Source.Via)
	assert.NotEmpty(t, upd.Source.RemoteAddr)
	assert.JSONEq(t, `{"roleId":"`+roleID+`","roleName":"Support","adminRole":false,"isWildcard":false,
		"permissions":[{"resource":"NAMESPACE:{namespace}:TICKET","action":2}]}`, string(upd.Before))
	assert.JSONEq(t, `{"roleId":"`+roleID+`","roleName":"Helpdesk","adminRole":false,"isWildcard":false,
		"permissions":[{"resource":"NAMESPACE:{namespace}:TICKET","action":2}]}`, string(upd.After))

	add := byReq["r3"]
	assert.Contains(t, string(add.Before), `"action":2`)
	assert.Contains(t, string(add.After), `"action":6`, "after merges the added action")

	first, second := byReq["r4"], byReq["r5"]
	assert.JSONEq(t, `null`, string(first.Before), "a new assignment has nothing before")
	assert.JSONEq(t, `{"userId":"u1","roleId":"`+roleID+`","assignedNamespaces":["foo"]}`, string(second.Before))
	assert.JSONEq(t, `{"userId":"u1","roleId":"`+roleID+`","assignedNamespaces":["bar","foo"]}`, string(second.After))

	cu := byReq["r7"]
	assert.Contains(t, string(cu.Before), `"clientName":"bot"`)
	assert.Contains(t, string(cu.After), `"clientName":"bot2"`)

	var revoked, unassigned audit.Record
	for _, r := range recs {
		switch r.Type {
		case events.TypeTokenRevoked:
			revoked = r
		case events.TypeUserRoleUnassigned:
			unassigned = r
		}
	}
	assert.Equal(t, "leaked", revoked.Reason)
	assert.Contains(t, string(revoked.Before), `"tokenId":"`+tok["tokenId"].(string)+`"`)
	assert.JSONEq(t, `null`, string(revoked.After))
	assert.Contains(t, string(unassigned.Before), `"assignedNamespaces":["bar","foo"]`)
}

// TestAuditHashChain: the chain verifies on a clean stream, and an event
// forged into the stream behind the service's back is named.
func TestAuditHashChain(t *testing.T) {
	srv, root := startServer(t, t.TempDir())
	role := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Player"})
	for i := range 3 {
		root.must(http.StatusCreated, "POST", fmt.Sprintf("/v1/namespaces/foo/users/u%d/roles", i),
			map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"foo"}})
	}
	verify := func() *audit.Break {
		v := audit.NewVerifier()
		for _, r := range auditAll(t, root, "") {
			if b := v.Add(r); b != nil {
				return b
			}
		}
		return nil
	}
	require.Nil(t, verify(), "a clean stream verifies")

	// Forge an event into foo with a made-up prevHash, as someone with
	// publish rights on the stream but not the service would.
	data, err := events.Encode(events.Envelope{
		EventID: "forged", Namespace: "foo", AggregateID: "mallory", OccurredAt: time.Now(),
		Actor: events.Actor{Type: "user", ID: "grantlog-bootstrap-admin"}, CommandID: "forged",
		PrevHash: strings.Repeat("ab", 32),
	}, events.UserRoleAssigned{UserID: "mallory", RoleID: role["roleId"].(string), AssignedNamespaces: []string{"foo"}})
	require.NoError(t, err)
	msg := nats.NewMsg(events.Subject(events.DefaultSubjectPrefix, "foo", events.KindUser))
	msg.Data = data
	ack, err := srv.JetStream().PublishMsg(context.Background(), msg)
	require.NoError(t, err)

	b := verify()
	require.NotNil(t, b, "the forged event breaks the chain")
	assert.Equal(t, ack.Sequence, b.Revision)
	assert.Equal(t, "foo", b.Namespace)
	assert.Equal(t, strings.Repeat("ab", 32), b.Found)
	assert.NotEmpty(t, b.Expected)
	assert.Contains(t, b.Error(), fmt.Sprintf("revision %d", ack.Sequence))
}

// TestAuditStreamEndsOnShutdown: open streams do not hold up graceful
// shutdown.
func TestAuditStreamEndsOnShutdown(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := server.New(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: testutil.Quiet})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	require.Eventually(t, srv.Ready, 10*time.Second, 10*time.Millisecond)
	token, err := os.ReadFile(filepath.Join(dir, auth.BootstrapTokenFile))
	require.NoError(t, err)
	c := newClient(t, srv.HTTPAddr(), strings.TrimSpace(string(token)))
	streams := []*sse{openSSE(t, c, "", ""), openSSE(t, c, "namespace=foo", "")}
	streams[0].next()

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown hung on open audit streams")
	}
	assert.Less(t, time.Since(start), 3*time.Second)
	for _, s := range streams {
		for range s.recs { //nolint:revive // drain until the stream ends
		}
	}
}
