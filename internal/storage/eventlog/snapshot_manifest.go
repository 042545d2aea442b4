package eventlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// Object metadata keys of a snapshot's signed manifest.
const (
	// SnapshotMetaManifest is the manifest's JSON (exactly the signed bytes).
	SnapshotMetaManifest = "manifest"
	// SnapshotMetaManifestSig is the manifest's signature by the log signing key
	// ("<keyId>.<base64url>", logsig.Key.SignSnapshot).
	SnapshotMetaManifestSig = "manifest-sig"
)

// SnapshotManifest is what a snapshot's signature covers. Only the manifest of a
// snapshot is trusted: the other metadata is for people and tools.
type SnapshotManifest struct {
	// Object is the object's name in the bucket.
	Object string `json:"object"`
	// Revision is the applied revision the snapshot holds.
	Revision uint64 `json:"revision"`
	// ArchiveSHA256 is the hex SHA-256 of the archive's bytes, and
	// ArchiveBytes its size.
	ArchiveSHA256 string `json:"archiveSha256"`
	ArchiveBytes  int64  `json:"archiveBytes"`
	// PebbleFormat and Layout say which binaries can open the index.
	PebbleFormat uint64 `json:"pebbleFormat"`
	Layout       string `json:"layout"`
	// CreatedAt and Node say when and where it was taken.
	CreatedAt time.Time `json:"createdAt"`
	Node      string    `json:"node"`
	// EventHash is the hex SHA-256 of the event stored at Revision (""
	// at revision 0): a restorer checks that its stream holds the same
	// history up to the snapshot.
	EventHash string `json:"eventHash"`
}

// Why a snapshot is refused. Each wraps ErrSnapshotRefused.
var (
	// ErrSnapshotRefused is what every refusal of a snapshot wraps.
	ErrSnapshotRefused = errors.New("snapshot refused")
	// ErrSnapshotUnsigned: the snapshot has no manifest or no signature.
	ErrSnapshotUnsigned = fmt.Errorf("%w: not signed (no manifest)", ErrSnapshotRefused)
	// ErrSnapshotSignature: the manifest's signature does not verify against a
	// signing key announced in the event log.
	ErrSnapshotSignature = fmt.Errorf("%w: manifest signature", ErrSnapshotRefused)
	// ErrSnapshotAhead: the snapshot's revision is ahead of the stream's head.
	ErrSnapshotAhead = fmt.Errorf("%w: revision ahead of the stream", ErrSnapshotRefused)
	// ErrSnapshotHistory: the stream's event at the snapshot's revision is not the
	// one the snapshot was taken after.
	ErrSnapshotHistory = fmt.Errorf("%w: the stream's history differs", ErrSnapshotRefused)
	// ErrSnapshotArchive: the archive's bytes are not those the manifest names.
	ErrSnapshotArchive = fmt.Errorf("%w: archive digest", ErrSnapshotRefused)
)

// signManifest returns the metadata entries of m signed with key.
func signManifest(m SnapshotManifest, key *logsig.Key) (map[string]string, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return map[string]string{SnapshotMetaManifest: string(raw), SnapshotMetaManifestSig: key.SignSnapshot(raw)}, nil
}

// eventHashAt returns the hex SHA-256 of the event at rev in stream ("" for
// revision 0).
func eventHashAt(ctx context.Context, stream jetstream.Stream, rev uint64) (string, error) {
	if rev == 0 {
		return "", nil
	}
	m, err := stream.GetMsg(ctx, rev)
	if err != nil {
		return "", fmt.Errorf("snapshot: read the event at revision %d: %w", rev, err)
	}
	h := sha256.Sum256(m.Data)
	return hex.EncodeToString(h[:]), nil
}

// trust is what snapshots are verified against: the signing keys the event
// stream announces, and the stream itself.
type trust struct {
	stream jetstream.Stream
	info   *jetstream.StreamInfo
	keys   logsig.Keys
}

// loadTrust reads the signing keys announced in stream (the stream a
// restored index will follow: for a reader, its mirror) by the rules every
// node applies (see package projector): the first announcement is trusted
// if it is signed by the key it announces, each later one if it is signed
// by a key already trusted.
func loadTrust(ctx context.Context, stream jetstream.Stream, prefix string) (*trust, error) {
	if prefix == "" {
		prefix = events.DefaultSubjectPrefix
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: stream info: %w", err)
	}
	t := &trust{stream: stream, info: info, keys: logsig.Keys{}}
	if info.State.Msgs == 0 {
		return t, nil
	}
	filter := events.KindFilter(prefix, events.PlatformNamespace, events.KindLog)
	kinfo, err := stream.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, fmt.Errorf("snapshot: stream info: %w", err)
	}
	total := uint64(0)
	for _, n := range kinfo.State.Subjects {
		total += n
	}
	if total == 0 {
		return t, nil
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return nil, fmt.Errorf("snapshot: read the log's signing keys: %w", err)
	}
	reg := events.NewRegistry()
	for range total {
		msg, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("snapshot: read the log's signing keys: %w", err)
		}
		t.learn(reg, msg)
	}
	return t, nil
}

// learn trusts the key msg announces, if it may.
func (t *trust) learn(reg *events.Registry, msg jetstream.Msg) {
	ev, err := reg.Decode(msg.Data())
	if err != nil {
		return
	}
	k, ok := ev.Data.(events.LogSigningKeyAdded)
	if !ok {
		return
	}
	pub, err := logsig.ParsePublic(k.KeyID, k.Algorithm, k.PublicKey)
	if err != nil {
		return
	}
	signers := t.keys
	if len(signers) == 0 {
		signers = logsig.Keys{k.KeyID: pub}
	}
	if signers.VerifyEvent(msg.Subject(), sha256.Sum256(msg.Data()), msg.Headers().Get(logsig.Header)) == nil {
		t.keys[k.KeyID] = pub
	}
}

// How long reach waits for a mirror to catch up: at most mirrorWait, and
// no longer than mirrorStall without the mirror's head moving.
var (
	mirrorWait  = 60 * time.Second
	mirrorStall = 2 * time.Second
)

// reach checks that rev is not ahead of the stream's head. A mirror may
// still be catching up with its origin (a replica's new mirror; its
// reported lag is not known until it has received messages): while its
// head moves it is waited for, bounded.
func (t *trust) reach(ctx context.Context, rev uint64) error {
	start, moved := time.Now(), time.Now()
	last := t.info.State.LastSeq
	for {
		st := t.info.State
		if rev <= st.LastSeq {
			return nil
		}
		if st.LastSeq != last {
			last, moved = st.LastSeq, time.Now()
		}
		if t.info.Mirror == nil || time.Since(start) > mirrorWait || time.Since(moved) > mirrorStall {
			what := "stream"
			if t.info.Mirror != nil {
				what = "mirror"
			}
			return fmt.Errorf("%w: revision %d, but the %s's head is %d", ErrSnapshotAhead, rev, what, st.LastSeq)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		info, err := t.stream.Info(ctx)
		if err != nil {
			return fmt.Errorf("snapshot: stream info: %w", err)
		}
		t.info = info
	}
}

// verify checks a snapshot's manifest before anything is downloaded: the
// signature, its revision against the stream, and the event at its
// revision. It returns the manifest.
func (t *trust) verify(ctx context.Context, oi *jetstream.ObjectInfo) (SnapshotManifest, error) {
	raw, sig := oi.Metadata[SnapshotMetaManifest], oi.Metadata[SnapshotMetaManifestSig]
	if raw == "" || sig == "" {
		return SnapshotManifest{}, ErrSnapshotUnsigned
	}
	if len(t.keys) == 0 {
		return SnapshotManifest{}, fmt.Errorf("%w: the event stream announces no signing key", ErrSnapshotSignature)
	}
	if err := t.keys.VerifySnapshot([]byte(raw), sig); err != nil {
		return SnapshotManifest{}, fmt.Errorf("%w: %w", ErrSnapshotSignature, err)
	}
	var m SnapshotManifest
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return SnapshotManifest{}, fmt.Errorf("%w: malformed manifest: %w", ErrSnapshotUnsigned, err)
	}
	if m.Object != oi.Name {
		return SnapshotManifest{}, fmt.Errorf("%w: the manifest is object %s's, not %s's", ErrSnapshotSignature, m.Object, oi.Name)
	}
	if err := t.reach(ctx, m.Revision); err != nil {
		return SnapshotManifest{}, err
	}
	if m.Revision > 0 && m.Revision >= t.info.State.FirstSeq {
		h, err := eventHashAt(ctx, t.stream, m.Revision)
		if err != nil {
			return SnapshotManifest{}, err
		}
		if h != m.EventHash {
			return SnapshotManifest{}, fmt.Errorf("%w: the event at revision %d hashes to %s, the snapshot was taken after %s",
				ErrSnapshotHistory, m.Revision, h, m.EventHash)
		}
	}
	return m, nil
}
