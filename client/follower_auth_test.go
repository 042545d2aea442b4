package client_test

import (
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/events"
)

// TestFollowerRefusesForgedEvents: an event put into the stream by anyone
// but the command side (here with the node's own full-permission
// connection) is not applied by a follower, which counts it and goes on.
func TestFollowerRefusesForgedEvents(t *testing.T) {
	s := startServer(t)
	c := s.client(t, s.token)
	ctx := testCtx(t)
	role, err := c.CreateRole(ctx, client.CreateRole{RoleName: "Player"})
	require.NoError(t, err)

	data, err := events.Encode(events.Envelope{EventID: "forged", Namespace: "foo", AggregateID: "mallory", CommandID: "forged",
		Actor: events.Actor{Type: "user", ID: "grantlog-bootstrap-admin"}},
		events.UserRoleAssigned{UserID: "mallory", RoleID: role.RoleID, AssignedNamespaces: []string{"foo"}})
	require.NoError(t, err)
	msg := nats.NewMsg(events.Subject(events.DefaultSubjectPrefix, "foo", events.KindUser))
	msg.Data = data
	ack, err := s.srv.JetStream().PublishMsg(ctx, msg)
	require.NoError(t, err)
	rev, err := c.AssignRole(ctx, "foo", "alice", role.RoleID, []string{"foo"})
	require.NoError(t, err)

	f, err := client.NewFollower(ctx, client.FollowerConfig{URL: s.srv.NATSURL(), CredsFile: s.followerCreds(),
		Dir: filepath.Join(t.TempDir(), "f"), CacheSize: 4 << 20, MemTableSize: 4 << 20, NoSnapshot: true})
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	require.NoError(t, f.WaitFor(ctx, rev))
	n, last, why := f.Refused()
	assert.EqualValues(t, 1, n)
	assert.Equal(t, ack.Sequence, last)
	assert.Contains(t, why, "no signature")
	assert.Empty(t, f.Halted())
}
