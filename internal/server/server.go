package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/edge/console"
	"github.com/grantlog/grantlog/internal/edge/httpapi"
	"github.com/grantlog/grantlog/internal/metrics"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/projector"
	"github.com/grantlog/grantlog/query"
)

// Server is a running single-machine Grantlog.
type Server struct {
	cfg      Config
	log      *slog.Logger
	nats     *eventlog.Embedded  // nil with an external NATS
	nc       *nats.Conn          // the service's connection (embedded or external)
	readerNC *nats.Conn          // the embedded server's connection in the readers' account (nil with an external NATS)
	apiDeps  *api.Deps           // what the edges run operations against
	snapJS   jetstream.JetStream // reads snapshots: s.js, or through the command account's exports on a replica
	evjs     jetstream.JetStream // reaches the event stream (or the readers' mirror): through the store account's exports on a node that writes
	ownConn  bool                // nc is external: Close closes it
	js       jetstream.JetStream
	stream   jetstream.Stream
	auth     *auth.Authenticator
	head     atomic.Uint64 // stream head as last polled
	store    *index.Store
	proj     *projector.Projector
	Commands *command.Service
	Query    *query.Engine
	// Bootstrap says what the node did about the bootstrap token file.
	Bootstrap BootstrapToken
	boot      bootState
	httpLn    net.Listener
	http      *http.Server
	// fresh is true when the event stream was empty at start on a node
	// that writes: Run then creates the default roles, the bootstrap
	// admin's assignment and the bootstrap credential.
	fresh        bool
	bootstrapped atomic.Bool
	heardAt      atomic.Int64 // unix nanoseconds: when the stream last heard from its origin (noderole.go)
	wasStale     atomic.Bool
	natsServing  atomic.Bool   // the NATS micro service is registered
	snapshots    snapshotState // see snapshot.go
	signKey      *logsig.Key   // the log signing key of a node that writes (signing.go)
	ops          opsState      // the admin listener and the rate limiter (ops.go)
	metrics      *metrics.Metrics
	metricsLn    net.Listener // --metrics-addr's listener (metrics.go); nil: /metrics on the API listener
	metricsHTTP  *http.Server
}

// New starts the embedded NATS server, ensures the stream, opens the index
// and binds the HTTP listener. Call Run to serve, or Close to give up.
func New(ctx context.Context, cfg Config) (s *Server, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	s = &Server{cfg: cfg, log: cfg.Logger}
	partial := s // "return nil, err" clears s before this runs
	defer func() {
		if err != nil {
			partial.Close()
		}
	}()
	if err := s.loadLegacyHash(); err != nil {
		return nil, err
	}
	if cfg.NATSURL == "" {
		if s.nats, err = eventlog.StartEmbedded(eventlog.EmbeddedConfig{
			DataDir: cfg.DataDir, Listen: cfg.NATSListen, SyncAlways: true,
		}); err != nil {
			return nil, err
		}
		s.nc, s.readerNC = s.nats.Conn, s.nats.ReaderConn
	} else {
		tlsOpts, err := cfg.NATSTLSOptions()
		if err != nil {
			return nil, err
		}
		// The loss and return of the connection are logged (the node then
		// reports itself stale: noderole.go).
		// The handlers keep the logger, not s: New's error returns set s to
		// nil, and closing the connection then still calls them.
		logger := s.log
		connOpts := append(slices.Clip(tlsOpts),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				logger.Warn("NATS connection lost; reconnecting (answering at the last applied revision meanwhile)", "err", err)
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) {
				logger.Info("NATS connection back", "server", nc.ConnectedUrlRedacted())
			}))
		if s.nc, err = eventlog.Connect(eventlog.ConnectConfig{URL: cfg.NATSURL, User: cfg.NATSUser, Password: cfg.NATSPassword,
			CredsFile: cfg.NATSCreds, Name: "grantlog-" + cfg.NodeName, Options: connOpts}); err != nil {
			return nil, err
		}
		s.ownConn = true
	}
	if cfg.NodeRole == NodeRoleReplica {
		// A replica reads the mirror through what its account imports.
		s.js, err = jetstream.NewWithAPIPrefix(s.nc, eventlog.MirrorAPIPrefix)
	} else if cfg.HomeDomain != "" {
		// A node that writes in another region: its account there has no
		// JetStream; the signing key and the snapshots are the home
		// region's, reached through the home domain's API prefix.
		s.js, err = jetstream.NewWithDomain(s.nc, cfg.HomeDomain)
	} else {
		s.js, err = jetstream.New(s.nc)
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	s.evjs = s.js
	if cfg.NodeRole.writes() {
		// The event stream lives in the store account: a node that writes
		// publishes into it and reads it through what that account exports.
		if s.evjs, err = jetstream.NewWithAPIPrefix(s.nc, eventlog.StoreAPIPrefix); err != nil {
			return nil, fmt.Errorf("jetstream: %w", err)
		}
	}
	stream, err := s.openStream(ctx)
	if err != nil {
		return nil, err
	}
	s.stream = stream
	s.snapJS = s.js
	if s.streamName() == eventlog.ReaderStream {
		// A replica in the readers' account sees the snapshot bucket only
		// through what the command account exports to it (and the mirror
		// through what the mirror's account exports: s.js).
		if s.snapJS, err = jetstream.NewWithAPIPrefix(s.nc, eventlog.CommandAPIPrefix); err != nil {
			return nil, fmt.Errorf("jetstream: %w", err)
		}
	}
	if cfg.NodeRole.writes() {
		if err := s.ensureReaderMirror(ctx); err != nil {
			return nil, err
		}
		s.ensureSnapshotBucket(ctx)
		if err := s.ensureRegionSnapshots(ctx); err != nil {
			return nil, err
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream info: %w", err)
	}
	s.heard(info)
	s.fresh = cfg.NodeRole.writes() && info.State.LastSeq == 0
	if err := s.prepareBootstrapToken(); err != nil {
		return nil, err
	}
	if s.store, err = s.openIndex(ctx, info); err != nil {
		return nil, err
	}
	if err := s.loadSigningKey(ctx); err != nil {
		return nil, err
	}
	s.snapshots.taker = s.newSnapshotter(s.store)
	// Events this node signs and reads back unchanged are not verified
	// again (logsig.Signed): the command side signs through it.
	var signed *logsig.Signed
	if s.signKey != nil {
		signed = logsig.NewSigned(s.signKey)
	}
	s.proj = projector.New(projector.Config{
		Stream: s.streamName(), Logger: cfg.Logger, Signed: signed,
		// At most a line every 5 s (a replay from zero of millions of
		// events), and one when caught up.
		Progress: projector.ProgressLog(cfg.Logger, 5*time.Second, nil),
	}, s.evjs, s.store)
	// The authorizer asks an unguarded engine (it only uses Allows); the
	// engine the API serves is guarded by the authorizer.
	authorizer := auth.NewAuthorizer(query.New(query.Config{}, s.store, nil))
	// Its past views (checks at a past revision, timelines) replay the
	// stream the projector reads, through the same connection.
	s.Query = query.New(query.Config{MaxWait: cfg.MaxWait, History: query.HistoryConfig{
		JS: s.evjs, Stream: s.streamName(), Logger: cfg.Logger,
		Replay: HistoryReplayer(s.evjs, s.streamName(), cfg.Logger),
		// Past views start from the nearest snapshot (unpacked under
		// <data-dir>/past, emptied at start).
		Snapshots: HistorySnapshots(s.snapJS, cfg.SnapshotBucket, s.stream, s.store.SigningKeys, cfg.Logger),
		Dir:       s.pastDir(),
	}}, s.store, authorizer)
	s.Commands = command.New(command.Config{ApplyWait: cfg.ApplyWait, Signer: signed,
		GroupBatchMin: cfg.GroupBatchMin, NoGroupCommit: cfg.NoGroupCommit}, s.evjs, stream, s.store, authorizer)

	s.auth = &auth.Authenticator{Index: s.store, Legacy: s.boot.legacy}
	// Open audit streams end when the HTTP server starts shutting down.
	auditSvc := audit.New(audit.Config{Stream: s.streamName(), Members: s.roleMembers}, s.evjs, authorizer)
	if s.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("http listen %s: %w (is another grantlog running? pick another --http-addr)", cfg.HTTPAddr, err)
	}
	if err := s.startOps(); err != nil {
		return nil, err
	}
	if err := s.setupMetrics(auditSvc); err != nil {
		return nil, err
	}
	s.apiDeps = &api.Deps{Commands: s.Commands, Query: s.Query, Audit: auditSvc, Status: s.Status}
	if s.snapshots.taker != nil {
		s.apiDeps.Snapshots = s.snapshots.taker
	}
	s.http = &http.Server{
		Handler: httpapi.New(httpapi.Config{
			Deps:     s.apiDeps,
			Auth:     s.auth,
			Ready:    func() (bool, uint64, uint64) { return s.Ready(), s.store.Applied(), s.proj.Head() },
			NodeRole: string(cfg.NodeRole),
			Logger:   cfg.Logger,
			Limiter:  s.ops.limiter,
			Metrics:  s.metrics, MetricsHandler: s.apiMetricsHandler(),
			Console: console.Handler(),
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	s.http.RegisterOnShutdown(auditSvc.Close)
	return s, nil
}

// HTTPAddr is the address the API listens on.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// NATSURL is the embedded NATS server's client URL ("" with an external
// NATS).
func (s *Server) NATSURL() string {
	if s.nats == nil {
		return ""
	}
	return s.nats.ClientURL()
}

// NodeRole is what the node does (all, command or replica).
func (s *Server) NodeRole() NodeRole { return s.cfg.NodeRole }

// NodeName is the node's name in status messages and discovery.
func (s *Server) NodeName() string { return s.cfg.NodeName }

// Store returns the index.
func (s *Server) Store() *index.Store { return s.store }

// Ready reports whether the index has caught up with the stream (and, on a
// fresh start, the default roles exist).
func (s *Server) Ready() bool {
	return s.caughtUp() && s.natsServing.Load() && !s.tooStale()
}

// caughtUp reports whether the index has caught up and bootstrap is done
// (the NATS check service starts then; readiness waits for it too).
func (s *Server) caughtUp() bool { return s.proj.Ready() && s.bootstrapped.Load() }

// Run serves until ctx ends, then shuts down gracefully and closes
// everything. It returns the first error of a component that failed.
func (s *Server) Run(ctx context.Context) error {
	defer s.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := s.proj.Run(gctx); err != nil {
			return projectorFailed(err)
		}
		return nil
	})
	// On a new stream the API waits for the default roles and the
	// bootstrap credential; otherwise it serves at once (health, and reads
	// while the index catches up).
	bootstrapped := make(chan struct{})
	g.Go(func() error { return s.bootstrap(gctx, sync.OnceFunc(func() { close(bootstrapped) })) })
	g.Go(func() error {
		select {
		case <-bootstrapped:
		case <-gctx.Done():
			return nil
		}
		if err := s.http.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	s.serveMetrics(gctx, g)
	g.Go(func() error { return s.watchStatus(gctx, s.stream) })
	g.Go(func() error { return s.serveNATS(gctx) })
	g.Go(func() error { return s.serveAdmin(gctx) })
	if s.cfg.SnapshotInterval > 0 {
		g.Go(func() error { return s.snapshots.taker.Run(gctx) })
	}
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		if err := s.http.Shutdown(sctx); err != nil {
			return fmt.Errorf("http shutdown: %w", err)
		}
		return nil
	})
	return g.Wait()
}

// Close releases everything New acquired. It is idempotent.
func (s *Server) Close() {
	s.closeOps()
	if s.http != nil {
		_ = s.http.Close()
		s.http = nil
	} else if s.httpLn != nil {
		_ = s.httpLn.Close()
	}
	s.httpLn = nil
	s.closeMetrics()
	if s.ownConn && s.nc != nil {
		s.nc.Close()
	}
	s.nc = nil
	if s.Query != nil {
		s.Query.Close()
	}
	if s.nats != nil {
		s.nats.Close()
		s.nats = nil
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			s.log.Error("closing index", "err", err)
		}
		s.store = nil
	}
}

// roleMembers lists a role's holders (up to 10,000) for the
// permission-change feed.
func (s *Server) roleMembers(roleID string) []index.Member {
	v := s.store.Acquire()
	defer v.Release()
	ms, _, err := v.Members(roleID, "", 10_000)
	if err != nil {
		s.log.Warn("role members for the permission-change feed", "role", roleID, "err", err)
	}
	return ms
}
