package natsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/grantlog/grantlog/events"
	grantauth "github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/edge/natsapi"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/query"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake answers checks: allowed iff the subject id is "yes"; a request for a
// revision above rev waits for release.
type fake struct {
	rev     uint64
	release chan struct{}
}

func (f *fake) Revision() uint64 { return f.rev }

func (f *fake) wait(ctx context.Context, want uint64) error {
	if want <= f.rev {
		return nil
	}
	select {
	case <-f.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fake) CheckAs(ctx context.Context, c events.Caller, req *query.CheckRequest) (query.CheckResult, error) {
	if req.Namespace == "secret" {
		return query.CheckResult{}, &grantauth.Error{Kind: grantauth.ErrForbidden, Code: "forbidden", Message: "no"}
	}
	if req.Namespace == "far" {
		return query.CheckResult{}, &query.Error{Kind: query.ErrNotYet, Code: "revisionNotYetApplied", Message: "not yet", Revision: f.rev}
	}
	if err := f.wait(ctx, req.AtLeastRevision); err != nil {
		return query.CheckResult{}, err
	}
	return query.CheckResult{Allowed: req.Subject.ID == "yes", Revision: f.rev}, nil
}

func (f *fake) CheckBatchAsInto(ctx context.Context, c events.Caller, req *query.BatchRequest, out *query.BatchResult) error {
	*out = query.BatchResult{Revision: f.rev, Results: out.Results[:0]}
	for i := range req.Checks {
		r, err := f.CheckAs(ctx, c, &req.Checks[i])
		if err != nil {
			return err
		}
		out.Results = append(out.Results, query.BatchItem{CheckResult: r})
	}
	return nil
}

type auth struct{}

func (auth) Authenticate(h string) (events.Caller, error) {
	if h != "Bearer ok" {
		return events.Caller{}, errors.New("bad token")
	}
	return grantauth.Bootstrap(), nil
}

func request(t *testing.T, nc *nats.Conn, subject, token, body string) *nats.Msg {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = []byte(body)
	if token != "" {
		m.Header.Set(natsapi.AuthorizationHeader, token)
	}
	reply, err := nc.RequestMsg(m, 5*time.Second)
	require.NoError(t, err)
	return reply
}

func TestService(t *testing.T) {
	e, err := eventlog.StartEmbedded(eventlog.EmbeddedConfig{DataDir: t.TempDir(), NoListen: true, NoUsers: true})
	require.NoError(t, err)
	t.Cleanup(e.Close)
	f := &fake{rev: 5, release: make(chan struct{})}
	svc, err := natsapi.Start(natsapi.Config{Conn: e.Conn, Serve: []api.Kind{api.Check}, Deps: &api.Deps{}, Checks: f, Auth: auth{}, Node: "n1", NodeRole: "replica"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	assert.Equal(t, "grantlog", svc.Info().Name)
	assert.Equal(t, map[string]string{"node": "n1", "role": "replica"}, svc.Info().Metadata)

	check := func(id, ns string, atLeast uint64) string {
		return fmt.Sprintf(`{"subject":{"type":"user","id":%q},"namespace":%q,"resource":"R","action":2,"atLeastRevision":%d}`, id, ns, atLeast)
	}
	reply := request(t, e.Conn, natsapi.CheckSubject, "Bearer ok", check("yes", "g", 0))
	assert.JSONEq(t, `{"allowed":true,"revision":5}`, string(reply.Data))

	// A request waiting for a revision does not hold up the others.
	waiting := make(chan *nats.Msg, 1)
	go func() {
		m := nats.NewMsg(natsapi.CheckSubject)
		m.Data = []byte(check("yes", "g", 6))
		m.Header.Set(natsapi.AuthorizationHeader, "Bearer ok")
		r, err := e.Conn.RequestMsg(m, 5*time.Second)
		if err == nil {
			waiting <- r
		}
		close(waiting)
	}()
	time.Sleep(50 * time.Millisecond)
	reply = request(t, e.Conn, natsapi.ChecksSubject, "Bearer ok", `{"checks":[`+check("yes", "g", 0)+`,`+check("no", "g", 0)+`]}`)
	assert.JSONEq(t, `{"results":[{"allowed":true,"revision":5},{"allowed":false,"revision":5}],"revision":5}`, string(reply.Data))
	close(f.release)
	select {
	case r := <-waiting:
		require.NotNil(t, r)
		assert.JSONEq(t, `{"allowed":true,"revision":5}`, string(r.Data))
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting request got no answer")
	}

	for _, tc := range []struct {
		name, subject, token, body, status, code string
	}{
		{"no credential", natsapi.CheckSubject, "", check("yes", "g", 0), "401", "unauthorized"},
		{"bad credential", natsapi.ChecksSubject, "Bearer nope", `{"checks":[]}`, "401", "unauthorized"},
		{"not JSON", natsapi.CheckSubject, "Bearer ok", `{`, "400", "malformedJson"},
		{"empty", natsapi.CheckSubject, "Bearer ok", ``, "400", "malformedJson"},
		{"unknown field", natsapi.CheckSubject, "Bearer ok", `{"nope":1}`, "400", "malformedJson"},
		{"forbidden", natsapi.CheckSubject, "Bearer ok", check("yes", "secret", 0), "403", "forbidden"},
		{"not yet", natsapi.CheckSubject, "Bearer ok", check("yes", "far", 0), "503", "revisionNotYetApplied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := request(t, e.Conn, tc.subject, tc.token, tc.body)
			assert.Equal(t, tc.status, r.Header.Get(micro.ErrorCodeHeader))
			assert.Equal(t, tc.code, r.Header.Get(natsapi.ErrorCodeHeader))
			assert.NotEmpty(t, r.Header.Get(micro.ErrorHeader))
			var body api.Error
			require.NoError(t, json.Unmarshal(r.Data, &body))
			assert.Equal(t, tc.code, body.Code)
			if tc.code == "revisionNotYetApplied" {
				assert.Equal(t, uint64(5), body.Revision)
			}
		})
	}
}

func TestCloseCancelsWaiting(t *testing.T) {
	e, err := eventlog.StartEmbedded(eventlog.EmbeddedConfig{DataDir: t.TempDir(), NoListen: true, NoUsers: true})
	require.NoError(t, err)
	t.Cleanup(e.Close)
	f := &fake{rev: 1, release: make(chan struct{})}
	svc, err := natsapi.Start(natsapi.Config{Conn: e.Conn, Serve: []api.Kind{api.Check}, Deps: &api.Deps{}, Checks: f, Auth: auth{}})
	require.NoError(t, err)
	m := nats.NewMsg(natsapi.CheckSubject)
	m.Data = []byte(`{"subject":{"type":"user","id":"yes"},"namespace":"g","atLeastRevision":2}`)
	m.Header.Set(natsapi.AuthorizationHeader, "Bearer ok")
	inbox := nats.NewInbox()
	sub, err := e.Conn.SubscribeSync(inbox)
	require.NoError(t, err)
	m.Reply = inbox
	require.NoError(t, e.Conn.PublishMsg(m))
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, svc.Close())
	require.NoError(t, svc.Close(), "Close is idempotent")
	r, err := sub.NextMsg(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "503", r.Header.Get(micro.ErrorCodeHeader))
	assert.Equal(t, "canceled", r.Header.Get(natsapi.ErrorCodeHeader))
}
