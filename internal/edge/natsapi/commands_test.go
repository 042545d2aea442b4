package natsapi_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/edge/natsapi"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/query"
)

// fakeCommands implements the commands the test sends; the others panic
// (the embedded nil interface).
type fakeCommands struct {
	natsapi.Commander
	mu    sync.Mutex
	metas []command.Meta
}

func (f *fakeCommands) record(m command.Meta) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.metas = append(f.metas, m)
}

func (f *fakeCommands) DeleteRole(_ context.Context, m command.Meta, roleID string) (uint64, error) {
	f.record(m)
	if roleID != "r1" {
		return 0, &command.Error{Kind: command.ErrNotFound, Code: "roleNotFound", Message: "no role " + roleID}
	}
	return 7, nil
}

func (f *fakeCommands) CreateRole(_ context.Context, m command.Meta, in command.CreateRole) (events.RoleCreated, uint64, error) {
	f.record(m)
	if in.RoleName == "Taken" {
		return events.RoleCreated{}, 0, &command.Error{Kind: command.ErrConflict, Code: "duplicateRoleName", Message: "taken"}
	}
	return events.RoleCreated{RoleID: "r2", RoleName: in.RoleName}, 8, nil
}

type fakeReads struct{ natsapi.Reader }

func (fakeReads) GetRole(_ context.Context, o query.ReadOptions, roleID string) (query.Role, uint64, error) {
	return query.Role{RoleID: roleID, RoleName: "Made", Revision: o.AtLeastRevision}, o.AtLeastRevision, nil
}

func TestConfigValidate(t *testing.T) {
	err := (&natsapi.Config{}).Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Checks or Config.Commands")
	err = (&natsapi.Config{Commands: &fakeCommands{}}).Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Config.Reads is required")
}

func TestCommands(t *testing.T) {
	e, err := eventlog.StartEmbedded(eventlog.EmbeddedConfig{DataDir: t.TempDir(), NoListen: true, NoUsers: true})
	require.NoError(t, err)
	t.Cleanup(e.Close)
	f := &fakeCommands{}
	svc, err := natsapi.Start(natsapi.Config{Conn: e.Conn, Commands: f, Reads: fakeReads{}, Auth: auth{}, Node: "c1", Role: "command"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })

	var subjects []string
	for _, ep := range svc.Info().Endpoints {
		subjects = append(subjects, ep.Subject)
		assert.Equal(t, micro.DefaultQueueGroup, ep.QueueGroup)
	}
	assert.ElementsMatch(t, natsapi.CommandSubjects(), subjects, "a command-only service has no check endpoint")
	assert.Contains(t, subjects, "grantlog.v1.cmd.role.permissions.replace")

	send := func(name, body string, hdr map[string]string) *nats.Msg {
		m := nats.NewMsg(natsapi.CommandSubjectPrefix + "." + name)
		m.Data = []byte(body)
		for k, v := range hdr {
			m.Header.Set(k, v)
		}
		r, err := e.Conn.RequestMsg(m, 5*time.Second)
		require.NoError(t, err)
		return r
	}
	ok := map[string]string{natsapi.AuthorizationHeader: "Bearer ok"}

	r := send("role.delete", `{"roleId":"r1","reason":"cleanup"}`, map[string]string{
		natsapi.AuthorizationHeader: "Bearer ok", natsapi.IdempotencyKeyHeader: "k1", natsapi.RequestIDHeader: "req-1"})
	assert.Empty(t, r.Header.Get(micro.ErrorCodeHeader))
	assert.JSONEq(t, `{"revision":7}`, string(r.Data))
	assert.Equal(t, "req-1", r.Header.Get(natsapi.RequestIDHeader))
	require.Len(t, f.metas, 1)
	m := f.metas[0]
	assert.Equal(t, "k1", m.CommandID)
	assert.Equal(t, "req-1", m.CorrelationID)
	assert.Equal(t, "cleanup", m.Reason)
	assert.Equal(t, &events.Source{Via: events.ViaNATS, RequestID: "req-1"}, m.Source)

	r = send("role.create", `{"roleName":"Made","permissions":[]}`, ok)
	assert.JSONEq(t, `{"roleId":"r2","roleName":"Made","adminRole":false,"isWildcard":false,"description":"","permissions":null,
		"createdAt":"0001-01-01T00:00:00Z","updatedAt":"0001-01-01T00:00:00Z","revision":8}`, string(r.Data))
	assert.NotEmpty(t, r.Header.Get(natsapi.RequestIDHeader), "a request id is made up")

	for _, c := range []struct {
		name, body   string
		hdr          map[string]string
		status, code string
	}{
		{"role.delete", `{"roleId":"gone"}`, ok, "404", "roleNotFound"},
		{"role.create", `{"roleName":"Taken"}`, ok, "409", "duplicateRoleName"},
		{"role.create", `{"roleName":"X"}`, nil, "401", "unauthorized"},
		{"role.create", `{"roleName":"X","extra":1}`, ok, "400", "malformedJson"},
		{"role.create", ``, ok, "400", "malformedJson"},
	} {
		r := send(c.name, c.body, c.hdr)
		assert.Equal(t, c.status, r.Header.Get(micro.ErrorCodeHeader), "%s %s", c.name, c.body)
		assert.Equal(t, c.code, r.Header.Get(natsapi.ErrorCodeHeader), "%s %s", c.name, c.body)
	}
}
