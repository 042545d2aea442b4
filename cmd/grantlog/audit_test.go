package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/credential"
	"github.com/grantlog/grantlog/internal/principal"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/testutil"
)

func TestAuditCLI(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: testutil.Quiet})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, srv.Ready, 10*time.Second, 10*time.Millisecond)
	m := command.Meta{Caller: principal.Bootstrap(), Reason: "onboarding", Source: &events.Source{Via: events.ViaCLI}}
	role, _, err := srv.Commands.CreateRole(ctx, m, command.CreateRole{RoleName: "Player"})
	require.NoError(t, err)
	for i := range 3 {
		_, err := srv.Commands.AssignRole(ctx, m, "foo", fmt.Sprintf("u%d", i), role.RoleID, []string{"foo"})
		require.NoError(t, err)
	}
	base := []string{"--url", "http://" + srv.HTTPAddr(), "--token-file", filepath.Join(dir, credential.TokenFile)}
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, append(args, base...), &out, &errOut)
		return code, out.String(), errOut.String()
	}

	code, out, errOut := cli("audit", "tail", "--namespace", "foo")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	assert.Contains(t, lines[0], "  foo  user:grantlog-bootstrap-admin  user.role_assigned.v1  onboarding")

	code, out, errOut = cli("audit", "export", "--type", events.TypeRoleCreated)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "exported 5 records", "four default roles and ours")
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &r))
		assert.Equal(t, events.TypeRoleCreated, r["type"])
	}

	code, out, errOut = cli("audit", "verify")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "hash chains intact")

	// A forged event, appended behind the service's back.
	data, err := events.Encode(events.Envelope{EventID: "x", Namespace: "foo", AggregateID: "eve", CommandID: "x",
		Actor: events.Actor{Type: "user", ID: "eve"}, PrevHash: "00"},
		events.UserRoleUnassigned{UserID: "u1", RoleID: role.RoleID})
	require.NoError(t, err)
	msg := nats.NewMsg(events.Subject(events.DefaultSubjectPrefix, "foo", events.KindUser, "u1"))
	msg.Data = data
	ack, err := srv.JetStream().PublishMsg(ctx, msg)
	require.NoError(t, err)
	code, _, errOut = cli("audit", "verify")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, fmt.Sprintf("BROKEN LINK at revision %d, namespace foo", ack.Sequence))

	code, _, errOut = cli("audit", "tail", "--since", "yesterday")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--since")
}
