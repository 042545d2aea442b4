package projector_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/projector"
)

// TestReplayOfLargeEventsOverTCP: a replay from zero of a stream of large
// events (bulk imports of ~10,000 grants are megabytes each) over a TCP
// connection, as a replica in its own process reads it. Pulls are bounded
// in bytes (pullBytes): a bound below an event's size would stall the
// replay here. (The failure the bound fixes, a replica's replay cut as a
// slow consumer and restarted at the same revision forever, took a
// gigabyte of events through the readers' account: grantbench at 3M users
// showed it; this test, at 100 MB in one account, passed without the
// bound.)
func TestReplayOfLargeEventsOverTCP(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), MaxPayload: eventlog.MaxPayload, NoSigs: true, NoLog: true})
	require.NoError(t, err)
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	require.True(t, ns.ReadyForConnections(10*time.Second))
	connect := func() jetstream.JetStream {
		nc, err := nats.Connect(ns.ClientURL())
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		return js
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := connect()
	_, err = eventlog.EnsureStream(ctx, w, eventlog.StreamConfig(eventlog.DefaultStream, events.DefaultSubjectPrefix, 1))
	require.NoError(t, err)

	// The first role of the small dataset, then 40 bulk events of 20,000
	// grants of it (about 2.5 MB each, 100 MB in all: past the 64 MiB a
	// subscription buffers by default, and slow to apply next to how fast
	// loopback delivers them).
	d := smallDataset()
	log := &testutil.Log{JS: w}
	log.Publish(t, d.Events[:1])
	role := d.Events[0].Data.(events.RoleCreated).RoleID
	const n = 40
	var bulk []events.Event
	for i := range n {
		as := make([]events.UserRoleAssigned, 20000)
		for j := range as {
			as[j] = events.UserRoleAssigned{UserID: fmt.Sprintf("user-%02d-%06d", i, j), RoleID: role, AssignedNamespaces: []string{"g1"}}
		}
		bulk = append(bulk, events.Event{Envelope: events.Envelope{Namespace: "g1", AggregateID: "bulk",
			Actor: events.Actor{Type: events.ActorUser, ID: "admin"}}, Data: events.UserRolesAssignedBatch{Assignments: as}})
	}
	log.Publish(t, bulk)
	const total = 1 + n

	st := openIndex(t)
	stop := run(projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, connect(), st))
	defer func() { require.NoError(t, stop()) }()
	wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
	defer wcancel()
	require.NoError(t, st.WaitApplied(wctx, total), "replay stuck at revision %d of %d", st.Applied(), total)
}
