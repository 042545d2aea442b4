package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// streamName is the stream the node reads: the event stream on the
// command side, the readers' mirror on a replica.
func (s *Server) streamName() string {
	if s.stream != nil {
		return s.stream.CachedInfo().Config.Name
	}
	return eventlog.DefaultStream
}

// openStream finds the event stream. The embedded server's store account
// creates it or updates its configuration; against an external NATS a
// node that writes creates it through what the store account exports when
// it is missing (never changes it); a replica finds the readers' mirror.
// On a NATS server without Grantlog's accounts a node that writes finds
// the stream in its own account (with a warning).
func (s *Server) openStream(ctx context.Context) (jetstream.Stream, error) {
	cfg := eventlog.StreamConfig(eventlog.DefaultStream, events.DefaultSubjectPrefix, s.cfg.StreamReplicas)
	if s.cfg.NodeRole == NodeRoleReplica {
		return s.openReaderStream(ctx)
	}
	if s.nats != nil {
		sjs, err := jetstream.New(s.nats.StoreConn)
		if err != nil {
			return nil, fmt.Errorf("jetstream: %w", err)
		}
		if _, err := eventlog.EnsureStream(ctx, sjs, cfg); err != nil {
			return nil, err
		}
		return s.evjs.Stream(ctx, cfg.Name)
	}
	st, err := s.evjs.Stream(ctx, cfg.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if st, err = s.evjs.CreateStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("create stream %s: %w", cfg.Name, err)
		}
	case err != nil && (errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrPermissionViolation) || errors.Is(err, context.DeadlineExceeded)):
		s.log.Warn("no store account on this NATS server: the event stream is in this node's own account; run NATS with Grantlog's accounts (deploy/nats/nats.conf, docs/SECURITY.md)",
			"err", err)
		s.evjs = s.js
		if s.cfg.NodeRole == NodeRoleAll {
			return eventlog.EnsureStream(ctx, s.js, cfg)
		}
		if st, err = s.js.Stream(ctx, cfg.Name); errors.Is(err, jetstream.ErrStreamNotFound) {
			st, err = s.js.CreateStream(ctx, cfg)
		}
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", cfg.Name, err)
		}
	case err != nil:
		return nil, fmt.Errorf("stream %s: %w", cfg.Name, err)
	}
	return st, nil
}

// ensureReaderMirror creates the readers' mirror when it is missing: in
// the embedded server's mirror account directly, or, against an external
// NATS, through the creation its mirror account exports to the command
// account. A NATS server without Grantlog's accounts has no mirror
// account: the node says so and goes on (replicas then read the stream
// itself, see openReaderStream).
func (s *Server) ensureReaderMirror(ctx context.Context) error {
	var (
		mjs jetstream.JetStream
		err error
	)
	if s.nats != nil {
		mjs, err = jetstream.New(s.nats.MirrorConn)
	} else {
		mjs, err = jetstream.NewWithAPIPrefix(s.nc, eventlog.MirrorAPIPrefix)
	}
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	_, err = eventlog.EnsureReaderMirror(ctx, mjs, s.cfg.StreamReplicas)
	switch {
	case err == nil:
		return nil
	case s.nats == nil && (errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrPermissionViolation) || errors.Is(err, context.DeadlineExceeded)):
		s.log.Warn("no readers' mirror account on this NATS server: run it with Grantlog's accounts (deploy/nats/nats.conf, docs/SECURITY.md)", "err", err)
		return nil
	default:
		return err
	}
}

// ensureSnapshotBucket creates the snapshot bucket on a node that writes
// against an external NATS, before its first snapshot, so that other
// regions can mirror it from the start (a failure is only logged: the
// first snapshot creates it too).
func (s *Server) ensureSnapshotBucket(ctx context.Context) {
	if s.nats != nil {
		return
	}
	if err := eventlog.EnsureSnapshotBucket(ctx, s.js, s.cfg.SnapshotBucket, s.cfg.StreamReplicas); err != nil {
		s.log.Warn("could not create the snapshot bucket (other regions mirror it)", "err", err)
	}
}

// ensureRegionSnapshots creates this region's copy of the snapshot bucket
// (eventlog.EnsureSnapshotMirror) on a node that writes in a region other
// than the home region (HomeDomain set), through what the region's
// snapshot account exports to the command account
// (deploy/nats/region.conf), so that new replicas there start from a
// snapshot in their own region.
func (s *Server) ensureRegionSnapshots(ctx context.Context) error {
	if s.nats != nil || s.cfg.HomeDomain == "" {
		return nil
	}
	js, err := jetstream.NewWithAPIPrefix(s.nc, eventlog.SnapshotsAPIPrefix)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if _, err := eventlog.EnsureSnapshotMirror(ctx, js, s.cfg.SnapshotBucket); err != nil {
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) {
			s.log.Warn("this region's NATS has no snapshot account: new replicas here replay the event mirror instead of starting from a snapshot (run the region's NATS with deploy/nats/region.conf)", "err", err)
			return nil
		}
		return err
	}
	return nil
}

// openReaderStream finds the stream a replica reads: the readers' mirror
// through what its account exports (s.js has MirrorAPIPrefix), or, on a
// NATS server without Grantlog's accounts where the replica's account
// holds the event stream itself, that stream (with a warning: nothing then
// keeps other users of the account from writing events; see
// docs/SECURITY.md).
func (s *Server) openReaderStream(ctx context.Context) (jetstream.Stream, error) {
	st, err := eventlog.OpenReaderMirror(ctx, s.js)
	if err == nil || errors.Is(err, eventlog.ErrNotAMirror) || errors.Is(err, eventlog.ErrNoMirror) {
		return st, err
	}
	plain, perr := jetstream.New(s.nc)
	if perr != nil {
		return nil, fmt.Errorf("jetstream: %w", perr)
	}
	if own, oerr := plain.Stream(ctx, eventlog.DefaultStream); oerr == nil {
		s.log.Warn("this replica's NATS account holds the event stream itself: run NATS with Grantlog's accounts (deploy/nats/nats.conf) so that only the command side can write events",
			"stream", eventlog.DefaultStream)
		s.js, s.evjs = plain, plain
		return own, nil
	}
	return nil, fmt.Errorf("%w (a replica connects with the replica NATS user of the readers' account)", err)
}

// MirrorJetStream returns a JetStream context with full permissions in the
// embedded server's mirror account (the readers' mirror lives there: an
// operator sets its retention limits through it), or nil with an external
// NATS.
func (s *Server) MirrorJetStream() jetstream.JetStream {
	if s.nats == nil {
		return nil
	}
	return embeddedJS(s.nats.MirrorConn)
}

// JetStream returns the JetStream context through which the node reaches
// its event stream (on a replica, the readers' mirror).
func (s *Server) JetStream() jetstream.JetStream { return s.evjs }

// AccountJetStream returns the JetStream context of the node's own account:
// the snapshot bucket and the signing key on a node that writes.
func (s *Server) AccountJetStream() jetstream.JetStream { return s.js }

// StoreJetStream returns a JetStream context with full permissions in the
// embedded server's store account (where the event stream is: an operator
// changes its limits through it), or nil with an external NATS.
func (s *Server) StoreJetStream() jetstream.JetStream {
	if s.nats == nil {
		return nil
	}
	return embeddedJS(s.nats.StoreConn)
}

// embeddedJS is a JetStream context on an in-process connection (nil if
// it cannot be made, which jetstream.New does not do for a connection).
func embeddedJS(nc *nats.Conn) jetstream.JetStream {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil
	}
	return js
}
