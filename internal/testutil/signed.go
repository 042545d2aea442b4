package testutil

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// SignedLog appends events to a Log as a command node with a log signing
// key does: each with the prevHash of its namespace's chain and a
// signature. It assumes every message of the stream it did not write was
// accepted by projectors (it reads chain heads it does not know from the
// stream's last message of the namespace).
type SignedLog struct {
	*Log
	Key   *logsig.Key
	chain map[string]string
}

// Signed returns a SignedLog on l signing with key (a new one when nil).
func (l *Log) Signed(t testing.TB, key *logsig.Key) *SignedLog {
	t.Helper()
	if key == nil {
		var err error
		key, err = logsig.Generate()
		require.NoError(t, err)
	}
	return &SignedLog{Log: l, Key: key, chain: map[string]string{}}
}

// SignedWithBucketKey returns a SignedLog on the stream of js signing with
// the log signing key a command node stored in its key bucket
// (logsig.DefaultBucket, reached with keys): it appends as that node would.
func SignedWithBucketKey(t testing.TB, keys, js jetstream.JetStream, stream jetstream.Stream) *SignedLog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key, err := logsig.LoadKey(ctx, keys, "")
	require.NoError(t, err)
	require.NotNil(t, key, "no log signing key in bucket %s", logsig.DefaultBucket)
	return (&Log{JS: js, Stream: stream}).Signed(t, key)
}

// Announce appends the announcement of the log's key (signed by itself)
// and returns its revision.
func (s *SignedLog) Announce(t testing.TB) uint64 {
	t.Helper()
	return s.Append(t, events.Event{Envelope: events.Envelope{Namespace: events.PlatformNamespace, AggregateID: s.Key.ID()},
		Data: events.LogSigningKeyAdded{KeyID: s.Key.ID(), Algorithm: logsig.Algorithm, PublicKey: s.Key.PublicString()}})
}

// head returns the chain head of ns as projectors see it (read from the
// stream the first time, then kept).
func (s *SignedLog) head(t testing.TB, ns string) string {
	if h, ok := s.chain[ns]; ok {
		return h
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := s.Stream.GetLastMsgForSubject(ctx, events.NamespaceFilter(events.DefaultSubjectPrefix, ns))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		s.chain[ns] = ""
		return ""
	}
	require.NoError(t, err)
	h := sha256.Sum256(m.Data)
	s.chain[ns] = hex.EncodeToString(h[:])
	return s.chain[ns]
}

// Encode returns the subject and bytes of ev as the next event of its
// namespace (without appending it or advancing the chain).
func (s *SignedLog) Encode(t testing.TB, ev events.Event) (subject string, data []byte) {
	t.Helper()
	env := ev.Envelope
	if env.EventID == "" {
		env.EventID = uuid.NewString()
	}
	if env.CommandID == "" {
		env.CommandID = uuid.NewString()
	}
	if env.OccurredAt.IsZero() {
		env.OccurredAt = time.Now()
	}
	env.PrevHash = s.head(t, env.Namespace)
	data, err := events.Encode(env, ev.Data)
	require.NoError(t, err)
	kind := "x"
	if _, ok := ev.Data.(events.LogSigningKeyAdded); ok {
		kind = events.KindLog
	}
	return events.Subject(events.DefaultSubjectPrefix, env.Namespace, kind), data
}

// Append appends ev, signed, as the next event of its namespace, and
// returns its revision.
func (s *SignedLog) Append(t testing.TB, ev events.Event) uint64 {
	t.Helper()
	subj, data := s.Encode(t, ev)
	rev := s.PublishRaw(t, subj, data, s.Key.SignEvent(subj, data))
	h := sha256.Sum256(data)
	s.chain[ev.Namespace] = hex.EncodeToString(h[:])
	return rev
}

// AppendAll appends evs (see Append) and returns the last revision.
func (s *SignedLog) AppendAll(t testing.TB, evs []events.Event) uint64 {
	t.Helper()
	var rev uint64
	for _, ev := range evs {
		rev = s.Append(t, ev)
	}
	return rev
}

// AppendAsync is AppendAll with asynchronous publishes (for large
// datasets); it returns the last revision.
func (s *SignedLog) AppendAsync(t testing.TB, evs []events.Event) uint64 {
	t.Helper()
	var last uint64
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := 0; i < len(evs); i += 1000 {
		var futures []jetstream.PubAckFuture
		for _, ev := range evs[i:min(i+1000, len(evs))] {
			subj, data := s.Encode(t, ev)
			msg := nats.NewMsg(subj)
			msg.Data = data
			msg.Header.Set(logsig.Header, s.Key.SignEvent(subj, data))
			f, err := s.JS.PublishMsgAsync(msg)
			require.NoError(t, err)
			futures = append(futures, f)
			h := sha256.Sum256(data)
			s.chain[ev.Namespace] = hex.EncodeToString(h[:])
		}
		for _, f := range futures {
			select {
			case ack := <-f.Ok():
				last = max(last, ack.Sequence)
			case err := <-f.Err():
				require.NoError(t, err)
			case <-ctx.Done():
				require.NoError(t, ctx.Err())
			}
		}
	}
	return last
}

// PublishRaw publishes data on subject with signature header sig (none
// when "") straight into the stream, as anyone able to get a message into
// it could, and returns its revision. The chain is not advanced.
func (l *Log) PublishRaw(t testing.TB, subject string, data []byte, sig string) uint64 {
	t.Helper()
	msg := nats.NewMsg(subject)
	msg.Data = data
	if sig != "" {
		msg.Header.Set(logsig.Header, sig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := l.JS.PublishMsg(ctx, msg)
	require.NoError(t, err)
	return ack.Sequence
}

// StartSignedNode is StartNode with a command service that signs with key
// and has announced it (as a command node does at start).
func StartSignedNode(t testing.TB, l *Log, dir string, key *logsig.Key) *Node {
	t.Helper()
	n := startNode(t, l, dir, key, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := n.Commands.AnnounceSigningKey(ctx, Root())
	require.NoError(t, err)
	return n
}
