package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/edge/natsapi"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// TestWaitingReadsDoNotStarveNATS: a caller holding no permission floods
// token.list over NATS with an atLeastRevision far ahead (token.list waits
// for the revision before it filters what the caller may see). Other
// reads, and checks waiting for a revision that does come, are still
// answered at once: reads of the applied index are answered on the
// subscription's goroutine, and waiting checks have slots of their own.
// Before, every NATS read and waiting check shared one pool of 256 slots,
// and the flood held them all for MaxWait.
func TestWaitingReadsDoNotStarveNATS(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, server.Config{DataDir: dir, NATSListen: "127.0.0.1:0", MaxWait: 3 * time.Second}, "")
	nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: n.srv.NATSURL(), CredsFile: filepath.Join(dir, eventlog.ClientCredsFile)})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	n.c.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "arena"})
	cl := n.c.must(http.StatusCreated, "POST", "/v1/namespaces/arena/clients", map[string]any{"clientName": "nobody", "permissions": []any{}})
	nobody := "Basic " + base64.StdEncoding.EncodeToString([]byte(cl["clientId"].(string)+":"+cl["clientSecret"].(string)))
	admin := "Bearer " + n.c.token

	send := func(subject, auth, body string, timeout time.Duration) (*nats.Msg, error) {
		m := nats.NewMsg(subject)
		m.Data = []byte(body)
		m.Header.Set(natsapi.AuthorizationHeader, auth)
		return nc.RequestMsg(m, timeout)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, _ = send(api.ReadSubjectPrefix+".token.list", nobody, `{"namespace":"arena","atLeastRevision":1000000000}`, 4*time.Second)
			}
		}()
	}
	defer wg.Wait()
	defer cancel()
	time.Sleep(500 * time.Millisecond) // the flood holds its slots

	// A read of the applied index, well within MaxWait.
	r, err := send(api.ReadSubjectPrefix+".role.list", admin, `{}`, 1500*time.Millisecond)
	require.NoError(t, err, "role.list over NATS answered during the flood")
	assert.Empty(t, r.Header.Get(natsapi.ErrorCodeHeader), "%s", r.Data)

	// A check waiting for a revision that lands 200 ms later.
	cur := n.srv.Status().Revision
	go func() {
		time.Sleep(200 * time.Millisecond)
		n.c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Later",
			"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:MATCH", "action": 2}}})
	}()
	r, err = send(natsapi.CheckSubject, admin, fmt.Sprintf(
		`{"subject":{"type":"user","id":"u"},"namespace":"arena","resource":"NAMESPACE:arena:X","action":2,"atLeastRevision":%d}`, cur+1),
		1500*time.Millisecond)
	require.NoError(t, err, "a waiting check over NATS answered during the flood")
	assert.Empty(t, r.Header.Get(natsapi.ErrorCodeHeader), "%s", r.Data)
}

// TestBodyOnBodylessOperation: an HTTP body on an operation that reads
// none is refused, not dropped with the reason it may carry.
func TestBodyOnBodylessOperation(t *testing.T) {
	n := startNode(t, server.Config{DataDir: t.TempDir()}, "")
	st, out := n.c.do("POST", "/v1/presets/hathora", `{"reason":"from the body"}`)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "unexpectedBody", out["errorCode"])
	st, out = n.c.do("POST", "/v1/presets/hathora?reason=from+the+query", nil)
	assert.Equal(t, http.StatusOK, st, "%v", out)
}
