package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
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
	m := command.Meta{Caller: auth.Bootstrap(), Reason: "onboarding", Source: &events.Source{Via: events.ViaCLI}}
	role, _, err := srv.Commands.CreateRole(ctx, m, command.CreateRole{RoleName: "Player"})
	require.NoError(t, err)
	for i := range 3 {
		_, err := srv.Commands.AssignRole(ctx, m, "foo", fmt.Sprintf("u%d", i), role.RoleID, []string{"foo"})
		require.NoError(t, err)
	}
	base := []string{"--url", "http://" + srv.HTTPAddr(), "--token-file", filepath.Join(dir, auth.BootstrapTokenFile)}
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

	assert.Contains(t, out, "signed by the command side")

	// A verbatim copy of a signed event, appended behind the service's
	// back, breaks its namespace's chain.
	stream, err := srv.JetStream().Stream(ctx, "GRANTLOG")
	require.NoError(t, err)
	last, err := stream.GetLastMsgForSubject(ctx, "grantlog.ev.foo.>")
	require.NoError(t, err)
	first, err := stream.GetMsg(ctx, last.Sequence-1)
	require.NoError(t, err)
	replay := nats.NewMsg(first.Subject)
	replay.Data, replay.Header = first.Data, first.Header
	for k := range replay.Header {
		if strings.HasPrefix(k, "Nats-") {
			replay.Header.Del(k) // the copy keeps its bytes and its Grantlog-Sig
		}
	}
	ack, err := srv.JetStream().PublishMsg(ctx, replay)
	require.NoError(t, err)
	code, _, errOut = cli("audit", "verify", "--namespace", "foo")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, fmt.Sprintf("BROKEN LINK at revision %d, namespace foo", ack.Sequence))

	// A forged event with a correct prevHash (the hash of the namespace's
	// last event) is named too: it is not signed.
	sum := sha256.Sum256(last.Data)
	data, err := events.Encode(events.Envelope{EventID: "x", Namespace: "foo", AggregateID: "eve", CommandID: "x",
		Actor: events.Actor{Type: "user", ID: "eve"}, PrevHash: hex.EncodeToString(sum[:])},
		events.UserRoleUnassigned{UserID: "u1", RoleID: role.RoleID})
	require.NoError(t, err)
	msg := nats.NewMsg(events.Subject(events.DefaultSubjectPrefix, "foo", events.KindUser))
	msg.Data = data
	ack, err = srv.JetStream().PublishMsg(ctx, msg)
	require.NoError(t, err)
	v := audit.NewVerifier()
	var breaks []*audit.Break
	tok, err := os.ReadFile(filepath.Join(dir, auth.BootstrapTokenFile))
	require.NoError(t, err)
	require.NoError(t, eachRecord(ctx, client.New("http://"+srv.HTTPAddr(), strings.TrimSpace(string(tok))), client.AuditOptions{}, func(r audit.Record) error {
		if b := v.Add(r); b != nil {
			breaks = append(breaks, b)
		}
		return nil
	}))
	require.Len(t, breaks, 2, "the replay and the forged event")
	assert.Equal(t, ack.Sequence, breaks[1].Revision)
	assert.Contains(t, breaks[1].Reason, "no signature")

	code, _, errOut = cli("audit", "tail", "--since", "yesterday")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--since")
}
