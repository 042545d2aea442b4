package eventlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/events"
)

// DefaultStream is the name of the event stream.
const DefaultStream = "GRANTLOG"

// StreamConfig returns the configuration of the event stream: file storage,
// every event kept forever, no deletes or purges (only an explicit admin
// operation may remove events), a two-minute duplicate window for command
// ids, and atomic batch publishing for bulk commands.
func StreamConfig(name, prefix string, replicas int) jetstream.StreamConfig {
	if replicas < 1 {
		replicas = 1
	}
	return jetstream.StreamConfig{
		Name:               name,
		Description:        "Grantlog permission events (source of truth and audit log)",
		Subjects:           []string{events.AllFilter(prefix)},
		Storage:            jetstream.FileStorage,
		Retention:          jetstream.LimitsPolicy,
		Discard:            jetstream.DiscardNew,
		Duplicates:         2 * time.Minute,
		Replicas:           replicas,
		DenyDelete:         true,
		DenyPurge:          true,
		AllowDirect:        true,
		AllowAtomicPublish: true,
	}
}

// EnsureStream creates the event stream, or, when it exists with another
// configuration, updates it to cfg (a command user may not update the
// stream: an existing stream whose configuration already matches is left
// alone, so such a node starts).
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, cfg.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		s, err = js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = js.Stream(ctx, cfg.Name)
		}
	case err == nil && !sameStreamConfig(s.CachedInfo().Config, cfg):
		s, err = js.UpdateStream(ctx, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("eventlog: ensure stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// sameStreamConfig compares the fields StreamConfig sets.
func sameStreamConfig(got, want jetstream.StreamConfig) bool {
	return got.Description == want.Description && slices.Equal(got.Subjects, want.Subjects) &&
		got.Storage == want.Storage && got.Retention == want.Retention && got.Discard == want.Discard &&
		got.Duplicates == want.Duplicates && got.Replicas == want.Replicas && got.DenyDelete == want.DenyDelete &&
		got.DenyPurge == want.DenyPurge && got.AllowDirect == want.AllowDirect && got.AllowAtomicPublish == want.AllowAtomicPublish
}

// ReaderMirrorConfig is the configuration of ReaderStream: an unfiltered
// mirror, in MirrorAccount, of the event stream in StoreAccount (reached
// through StoreAPIPrefix), so it keeps the origin's sequence
// numbers. It has no subjects: nothing published in MirrorAccount is ever
// stored in it.
//
// A one-replica mirror persists asynchronously (JetStream's async persist
// mode: no fsync per message, even on a server that syncs every write):
// it is a copy, and the event stream it mirrors is the durable record. A
// crash may lose its last messages; when it restarts, it fetches them
// again from the origin, with the same sequence numbers, so a reader
// ahead of it waits for them and misses nothing. On a node that writes,
// a synced mirror would double the fsyncs of every command
// (docs/BENCHMARKS.md "Writes"). Replicated mirrors (R3) cannot use the
// mode and keep JetStream's default. JetStream does not change a stream's
// persist mode once made: a mirror an earlier version made keeps syncing
// until it is deleted (an operator credential) and a command node makes
// it again.
func ReaderMirrorConfig(replicas int) jetstream.StreamConfig {
	persist := jetstream.DefaultPersistMode
	if replicas <= 1 {
		persist = jetstream.AsyncPersistMode
	}
	return jetstream.StreamConfig{
		PersistMode: persist,
		Name:        ReaderStream,
		Replicas:    max(replicas, 1),
		Description: "Grantlog permission events: the readers' mirror of " + DefaultStream,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Mirror: &jetstream.StreamSource{
			Name:     DefaultStream,
			External: &jetstream.ExternalStream{APIPrefix: StoreAPIPrefix, DeliverPrefix: MirrorDeliverPrefix},
		},
		DenyDelete:   true,
		DenyPurge:    true,
		AllowDirect:  true,
		MirrorDirect: false,
	}
}

// isReaderMirror reports whether cfg is ReaderMirrorConfig's mirror: an
// unfiltered mirror of the event stream through StoreAPIPrefix,
// delivered under MirrorDeliverPrefix, from its start, with no subjects,
// sources, transforms or republish. Retention limits are the operator's.
func isReaderMirror(cfg jetstream.StreamConfig) bool {
	m := cfg.Mirror
	return m != nil && m.Name == DefaultStream && m.FilterSubject == "" && len(m.SubjectTransforms) == 0 &&
		m.OptStartSeq == 0 && m.OptStartTime == nil && m.Consumer == nil &&
		m.External != nil && m.External.APIPrefix == StoreAPIPrefix && m.External.DeliverPrefix == MirrorDeliverPrefix &&
		len(cfg.Subjects) == 0 && len(cfg.Sources) == 0 && cfg.SubjectTransform == nil && cfg.RePublish == nil
}

// ErrNotAMirror is returned when a stream named ReaderStream exists but is
// not a mirror of the event stream.
var ErrNotAMirror = errors.New("eventlog: not a mirror of the event stream")

// EnsureReaderMirror returns ReaderStream in the account of js, creating
// it when missing. An existing stream of that name must be an unfiltered
// mirror of the event stream with no subjects, or it is refused with
// ErrNotAMirror (someone else created it: delete it with an operator
// credential).
func EnsureReaderMirror(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	cfg := ReaderMirrorConfig(replicas)
	st, err := findOrCreate(ctx, js, cfg)
	if err != nil {
		return nil, fmt.Errorf("eventlog: readers' mirror %s: %w", cfg.Name, err)
	}
	if got := st.CachedInfo().Config; !isReaderMirror(got) {
		return nil, fmt.Errorf("%w: stream %s in this account is not an unfiltered mirror of %s through %s; delete it with an operator credential and start again",
			ErrNotAMirror, cfg.Name, DefaultStream, StoreAPIPrefix)
	}
	return st, nil
}

// ErrNoMirror is returned by OpenReaderMirror when ReaderStream does not
// exist yet.
var ErrNoMirror = errors.New("eventlog: the readers' mirror does not exist yet")

// OpenReaderMirror returns ReaderStream as a reader sees it (js made with
// jetstream.NewWithAPIPrefix(nc, MirrorAPIPrefix)), refusing one that is
// not ReaderMirrorConfig's mirror (ErrNotAMirror). A reader never creates
// it: the command side does (EnsureReaderMirror through MirrorAPIPrefix).
func OpenReaderMirror(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	st, err := js.Stream(ctx, ReaderStream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, fmt.Errorf("%w: start a command node (role all or command) first: it creates %s", ErrNoMirror, ReaderStream)
	case err != nil:
		return nil, fmt.Errorf("eventlog: readers' mirror %s: %w", ReaderStream, err)
	}
	if !isReaderMirror(st.CachedInfo().Config) {
		return nil, fmt.Errorf("%w: stream %s is not an unfiltered mirror of %s; delete it with an operator credential and restart a command node",
			ErrNotAMirror, ReaderStream, DefaultStream)
	}
	// A mirror that has not heard from its origin yet (just created, or
	// after a restart) does not know how far behind it is: wait for it,
	// bounded, so that a reader is not ready at an empty mirror's head.
	if _, active, err := WaitMirrorActive(ctx, st, MirrorActiveWait); err != nil || active {
		if err != nil {
			return nil, err
		}
		return js.Stream(ctx, ReaderStream) // fresh CachedInfo
	}
	return st, nil
}

// MirrorActiveWait bounds how long OpenReaderMirror waits for the mirror to
// hear from its origin.
var MirrorActiveWait = 10 * time.Second

// WaitMirrorActive waits, at most until ctx ends or wait passes, until the
// mirror st has heard from its origin (its mirror consumer is set up), and
// returns its fresh info: only then do its last sequence and lag say how
// far the origin is. A stream that is not a mirror returns at once. It
// reports whether the mirror was active.
func WaitMirrorActive(ctx context.Context, st jetstream.Stream, wait time.Duration) (*jetstream.StreamInfo, bool, error) {
	deadline := time.Now().Add(wait)
	for {
		info, err := st.Info(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("eventlog: stream info: %w", err)
		}
		if info.Mirror == nil || info.Mirror.Active >= 0 {
			return info, true, nil
		}
		if time.Now().After(deadline) {
			return info, false, nil
		}
		select {
		case <-ctx.Done():
			return info, false, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// SnapshotMirrorConfig is the configuration of a region's copy of the
// snapshot bucket: a mirror, in that region's SnapshotsAccount, of the
// bucket's stream in the home region (reached through the leaf link to
// RegionSnapshotsAccount, which maps CommandAPIPrefix). It has the
// bucket's stream name, so the region's readers read it exactly as the
// home region's read the bucket. A mirror does not copy purges: the
// chunks of snapshots the home region pruned stay until maxAge removes
// them (0: DefaultSnapshotMirrorMaxAge); a region whose newest snapshot
// is older than that starts new replicas by replaying its event mirror.
func SnapshotMirrorConfig(bucket string, maxAge time.Duration) jetstream.StreamConfig {
	if bucket == "" {
		bucket = DefaultSnapshotBucket
	}
	if maxAge <= 0 {
		maxAge = DefaultSnapshotMirrorMaxAge
	}
	return jetstream.StreamConfig{
		Name:        "OBJ_" + bucket,
		Description: "Grantlog index snapshots: this region's copy of the home region's bucket " + bucket,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      maxAge,
		Mirror: &jetstream.StreamSource{
			Name:     "OBJ_" + bucket,
			External: &jetstream.ExternalStream{APIPrefix: CommandAPIPrefix, DeliverPrefix: SnapshotDeliverPrefix},
		},
		AllowDirect: true,
	}
}

// DefaultSnapshotMirrorMaxAge is how long a region keeps the snapshot
// chunks it mirrored.
const DefaultSnapshotMirrorMaxAge = 7 * 24 * time.Hour

// EnsureSnapshotMirror creates this region's copy of the snapshot bucket
// when it is missing (js: SnapshotsAPIPrefix, as a region's command node
// sees SnapshotsAccount). An existing stream of that name that is not
// such a mirror is refused.
func EnsureSnapshotMirror(ctx context.Context, js jetstream.JetStream, bucket string) (jetstream.Stream, error) {
	cfg := SnapshotMirrorConfig(bucket, 0)
	st, err := findOrCreate(ctx, js, cfg)
	if err != nil {
		return nil, fmt.Errorf("eventlog: this region's snapshot copy %s: %w", cfg.Name, err)
	}
	if m := st.CachedInfo().Config.Mirror; m == nil || m.Name != cfg.Name || m.External == nil || m.External.APIPrefix != CommandAPIPrefix {
		return nil, fmt.Errorf("%w: stream %s in this region is not a mirror of the home region's snapshot bucket; delete it with an operator credential and start again",
			ErrNotAMirror, cfg.Name)
	}
	return st, nil
}

// findOrCreate returns the stream cfg names, creating it with cfg when it
// is missing (another node creating it at the same moment is fine). An
// existing stream is returned as it is: the caller checks it.
func findOrCreate(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	st, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = js.Stream(ctx, cfg.Name)
		}
	}
	return st, err
}
