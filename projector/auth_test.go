package projector_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/projector"
)

// signedLog starts a log whose first event announces a signing key,
// followed by the first n events of the small dataset, signed.
func signedLog(t *testing.T, n int) (*testutil.SignedLog, *testutil.Dataset) {
	t.Helper()
	log := testutil.StartLog(t, t.TempDir())
	s := log.Signed(t, nil)
	s.Announce(t)
	d := smallDataset()
	s.AppendAsync(t, d.Events[:n])
	return s, d
}

func newProjector(js *testutil.Log, st projector.Index) *projector.Projector {
	return projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet, HaltRetry: 50 * time.Millisecond}, js.JS, st)
}

func assign(ns, user, role string) events.Event {
	return events.Event{Envelope: events.Envelope{Namespace: ns, AggregateID: user,
		Actor: events.Actor{Type: events.ActorUser, ID: "admin"}},
		Data: events.UserRoleAssigned{UserID: user, RoleID: role, AssignedNamespaces: []string{ns}}}
}

func assignments(st *index.Store, user string) int {
	v := st.Acquire()
	defer v.Release()
	return len(v.Assignments(user))
}

// TestForgedEventsAreRefused: once the log has a signing key, a message
// that is unsigned, signed by a key the log never announced, signed over
// other bytes, or moved to another subject is not applied — even with a
// correct prevHash. The projector counts it, moves past it and applies
// the real events after it. The same holds for a projector that trusts
// the signatures its own process made (Config.Signed) when the real
// signature was made by that process: a vouch covers only the exact
// event signed.
func TestForgedEventsAreRefused(t *testing.T) {
	for _, own := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed in this process=%v", own), func(t *testing.T) {
			s, _ := signedLog(t, 20)
			st := openIndex(t)
			cfg := projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet, HaltRetry: 50 * time.Millisecond}
			sign := s.Key.SignEvent
			if own {
				signed := logsig.NewSigned(s.Key)
				cfg.Signed, sign = signed, signed.SignEvent
			}
			p := projector.New(cfg, s.JS, st)
			stop := run(p)
			defer func() { require.NoError(t, stop()) }()

			ns := testutil.NSName(0)
			mallory := assign(ns, "mallory", testutil.RoleID(0))
			subj, data := s.Encode(t, mallory) // a correct prevHash
			other, err := logsig.Generate()
			require.NoError(t, err)
			s.PublishRaw(t, subj, data, "")                          // unsigned
			s.PublishRaw(t, subj, data, other.SignEvent(subj, data)) // a key the log never announced
			realSig := sign(subj, data)
			altered := append([]byte(nil), data...)
			altered[len(altered)-3] ^= 1
			s.PublishRaw(t, subj, altered, realSig) // the real key's signature of other bytes
			moved := events.Subject(events.DefaultSubjectPrefix, testutil.NSName(1), "x")
			last := s.PublishRaw(t, moved, data, realSig) // a real signature on another subject

			rev := s.Append(t, assign(ns, "alice", testutil.RoleID(0)))
			testutil.WaitApplied(t, st, rev)
			assert.Zero(t, assignments(st, "mallory"), "no forged event applied")
			assert.Equal(t, 1, assignments(st, "alice"), "the real event after the forged ones applies")
			n, lastRev, reason := p.Refused()
			assert.EqualValues(t, 4, n)
			assert.Equal(t, last, lastRev)
			assert.Contains(t, reason, "signature does not verify")
			// The index publishes its applied revision (what WaitApplied
			// waits for) a moment before the projector marks itself ready
			// for that batch: under the race detector the assertion once
			// ran in between.
			assert.Eventually(t, p.Ready, 5*time.Second, 5*time.Millisecond)
			assert.Nil(t, p.Halted())

			// The exact event signed, unchanged, applies.
			subj, data = s.Encode(t, assign(ns, "bob", testutil.RoleID(0)))
			rev = s.PublishRaw(t, subj, data, sign(subj, data))
			testutil.WaitApplied(t, st, rev)
			assert.Equal(t, 1, assignments(st, "bob"))
			n, _, _ = p.Refused()
			assert.EqualValues(t, 4, n, "nothing more refused")
		})
	}
}

// TestReplayedSignedEventIsRefused: a verbatim copy of a real, signed event
// appended later (here: an assignment that was since undone) is refused:
// its prevHash names an older link of its namespace's chain.
func TestReplayedSignedEventIsRefused(t *testing.T) {
	s, _ := signedLog(t, 20)
	st := openIndex(t)
	p := newProjector(s.Log, st)
	stop := run(p)
	defer func() { require.NoError(t, stop()) }()

	ns := testutil.NSName(0)
	granted := s.Append(t, assign(ns, "alice", testutil.RoleID(0)))
	s.Append(t, events.Event{Envelope: events.Envelope{Namespace: ns, AggregateID: "alice"},
		Data: events.UserRoleUnassigned{UserID: "alice", RoleID: testutil.RoleID(0)}})
	ctx := context.Background()
	orig, err := s.Stream.GetMsg(ctx, granted)
	require.NoError(t, err)
	replay := s.PublishRaw(t, orig.Subject, orig.Data, orig.Header.Get(logsig.Header))

	rev := s.Append(t, assign(ns, "bob", testutil.RoleID(0)))
	testutil.WaitApplied(t, st, rev)
	assert.Zero(t, assignments(st, "alice"), "the replayed grant is not applied")
	assert.Equal(t, 1, assignments(st, "bob"))
	n, lastRev, reason := p.Refused()
	assert.EqualValues(t, 1, n)
	assert.Equal(t, replay, lastRev)
	assert.Contains(t, reason, "replayed")
}

// TestForgedUnknownTypeIsRefused: a forged message of a type no Grantlog
// knows neither stops the node nor keeps it from starting again (it used
// to make every node exit, on every start).
func TestForgedUnknownTypeIsRefused(t *testing.T) {
	s, d := signedLog(t, 20)
	forged := s.PublishRaw(t, events.Subject(events.DefaultSubjectPrefix, "g1", "x"),
		[]byte(`{"eventId":"e","type":"io.nats.jetstream.api.v1.account_info_response","namespace":"g1","payload":{}}`), "")
	s.PublishRaw(t, events.Subject(events.DefaultSubjectPrefix, "g1", "x"), []byte(`not json`), "")

	st := openIndex(t)
	p := newProjector(s.Log, st)
	stop := run(p)
	require.Eventually(t, p.Ready, 10*time.Second, 5*time.Millisecond)
	n, _, _ := p.Refused()
	assert.EqualValues(t, 2, n)
	assert.Greater(t, st.Applied(), forged, "the index moved past the refused messages")
	require.NoError(t, stop())

	// Restarted on the same index: it runs, and applies what comes next.
	p = newProjector(s.Log, st)
	stop = run(p)
	defer func() { require.NoError(t, stop()) }()
	rev := s.AppendAll(t, d.Events[20:25])
	testutil.WaitApplied(t, st, rev)
	assert.Eventually(t, p.Ready, 5*time.Second, 5*time.Millisecond) // see TestForgedEventsAreRefused
}

type futurePayload struct {
	Feature string `json:"feature"`
}

func (futurePayload) EventType() string { return "role.future.v9" }

// TestSignedUnknownTypeHalts: an authenticated event of a type this binary
// does not know (a newer Grantlog wrote it) halts projection before it,
// without stopping the projector: not ready, with a reason naming the type,
// the revision and what to do, retried periodically.
func TestSignedUnknownTypeHalts(t *testing.T) {
	s, d := signedLog(t, 20)
	future := s.Append(t, events.Event{Envelope: events.Envelope{Namespace: events.PlatformNamespace, AggregateID: "f"},
		Data: futurePayload{Feature: "x"}})
	s.AppendAll(t, d.Events[20:22])

	st := openIndex(t)
	p := newProjector(s.Log, st)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- p.Run(ctx) }()
	require.Eventually(t, func() bool { return p.Halted() != nil }, 10*time.Second, 5*time.Millisecond)
	h := p.Halted()
	assert.Equal(t, future, h.Revision)
	assert.Equal(t, "role.future.v9", h.Type)
	assert.Contains(t, h.Reason, "upgrade this node")
	assert.Contains(t, h.Reason, "role.future.v9")
	time.Sleep(200 * time.Millisecond) // several retries
	assert.Equal(t, future-1, st.Applied(), "halted before the unknown event")
	assert.False(t, p.Ready())
	assert.Equal(t, future, p.Halted().Revision)
	n, _, _ := p.Refused()
	assert.Zero(t, n, "an authenticated event is not refused")
	select {
	case err := <-done:
		t.Fatalf("Run returned while halted: %v", err)
	default:
	}
	cancel()
	require.NoError(t, <-done)
}

// TestLegacyStreamGetsSigned: a stream written before events were signed
// keeps working: its unsigned events apply, the key announcement makes
// every later event need a signature, and a replay from zero agrees.
func TestLegacyStreamGetsSigned(t *testing.T) {
	log := testutil.StartLog(t, t.TempDir())
	d := smallDataset()
	log.Publish(t, d.Events[:30]) // unsigned, no prevHash: an old stream
	s := log.Signed(t, nil)
	key := s.Announce(t)
	s.AppendAll(t, d.Events[30:40])
	ns := testutil.NSName(2)
	subj, data := s.Encode(t, assign(ns, "mallory", testutil.RoleID(1)))
	s.PublishRaw(t, subj, data, "")
	rev := s.Append(t, assign(ns, "alice", testutil.RoleID(1)))

	st := openIndex(t)
	p := newProjector(log, st)
	stop := run(p)
	testutil.WaitApplied(t, st, rev)
	require.NoError(t, stop())
	assert.Zero(t, assignments(st, "mallory"))
	assert.Equal(t, 1, assignments(st, "alice"))
	n, _, _ := p.Refused()
	assert.EqualValues(t, 1, n)
	keys, err := st.SigningKeys()
	require.NoError(t, err)
	assert.Contains(t, keys, s.Key.ID())
	assert.Greater(t, rev, key)

	// The same index as one that applied the stream's events one by one
	// with an equivalent in-memory model: every legacy event applied.
	ref := openIndex(t)
	require.NoError(t, ref.Apply(d.Events[:30]))
	v, w := st.Acquire(), ref.Acquire()
	for i := range 10 {
		assert.NotNil(t, v.Role(testutil.RoleID(i)))
	}
	assert.Len(t, v.Roles(), len(w.Roles()))
	v.Release()
	w.Release()
}

// TestUnknownTypeOnLegacyStreamIsSkipped: on a stream with no signing key
// (where anything in the stream was applied), an unknown type is refused
// and skipped like a forged message, instead of stopping the node.
func TestUnknownTypeOnLegacyStreamIsSkipped(t *testing.T) {
	log := testutil.StartLog(t, t.TempDir())
	d := smallDataset()
	log.Publish(t, d.Events[:3])
	_, err := log.JS.Publish(context.Background(), events.Subject(events.DefaultSubjectPrefix, "g1", "x"),
		[]byte(`{"eventId":"e","type":"role.future.v9","namespace":"g1","payload":{}}`))
	require.NoError(t, err)
	log.Publish(t, d.Events[3:5])

	st := openIndex(t)
	p := newProjector(log, st)
	stop := run(p)
	testutil.WaitApplied(t, st, 6)
	require.NoError(t, stop())
	n, lastRev, reason := p.Refused()
	assert.EqualValues(t, 1, n)
	assert.EqualValues(t, 4, lastRev)
	assert.Contains(t, reason, "role.future.v9")
	assert.Nil(t, p.Halted())
}

// TestForgedSigningKeys: a key announcement is trusted only as the
// stream's first, signed by itself, or signed by a trusted key. A second,
// self-signed key is refused, and so is everything signed by it; a first
// announcement not signed by its own key leaves the stream unsigned.
func TestForgedSigningKeys(t *testing.T) {
	log := testutil.StartLog(t, t.TempDir())
	d := smallDataset()
	log.Publish(t, d.Events[:10])
	genuine := log.Signed(t, nil)
	evil := log.Signed(t, nil)
	// First announcement, signed by another key than the one it announces.
	subj, data := evil.Encode(t, events.Event{Envelope: events.Envelope{Namespace: events.PlatformNamespace, AggregateID: evil.Key.ID()},
		Data: events.LogSigningKeyAdded{KeyID: evil.Key.ID(), Algorithm: logsig.Algorithm, PublicKey: evil.Key.PublicString()}})
	log.PublishRaw(t, subj, data, genuine.Key.SignEvent(subj, data))
	genuine.Announce(t)
	evil.Announce(t) // self-signed, but the log already trusts a key
	ns := testutil.NSName(0)
	genuine.Append(t, assign(ns, "alice", testutil.RoleID(0)))
	evil.Append(t, assign(ns, "mallory", testutil.RoleID(0)))
	rev := genuine.Append(t, assign(ns, "bob", testutil.RoleID(0)))

	st := openIndex(t)
	p := newProjector(log, st)
	stop := run(p)
	testutil.WaitApplied(t, st, rev)
	require.NoError(t, stop())
	n, _, _ := p.Refused()
	assert.EqualValues(t, 3, n)
	keys, err := st.SigningKeys()
	require.NoError(t, err)
	assert.Equal(t, []string{genuine.Key.ID()}, mapKeys(keys))
	assert.Zero(t, assignments(st, "mallory"))
	assert.Equal(t, 1, assignments(st, "alice"))
	assert.Equal(t, 1, assignments(st, "bob"))
}

func mapKeys(ks logsig.Keys) []string {
	out := make([]string, 0, len(ks))
	for k := range ks {
		out = append(out, k)
	}
	return out
}
