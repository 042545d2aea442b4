// Package server assembles a Grantlog node: NATS with JetStream (embedded,
// or external with Config.NATSURL), the event stream, the Pebble index and
// its projector, the command service, the query engine, the HTTP API and
// the NATS micro API (checks on roles that answer checks, commands on roles
// that write). A node's Role says
// whether it writes (command), answers checks (replica) or both (all).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/catalogs"
	"github.com/grantlog/grantlog/internal/edge/httpapi"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/projector"
	"github.com/grantlog/grantlog/query"
)

// Config configures a Server. Zero fields take the documented defaults.
type Config struct {
	// DataDir holds the JetStream store, the index and, on the node that
	// made it, the bootstrap token (bootstrap-token, mode 0600). Required.
	DataDir string
	// HTTPAddr is the API's HOST:PORT (port 0: any free port); default "127.0.0.1:8080".
	HTTPAddr string
	// NATSListen is the embedded NATS server's HOST:PORT (port 0: any free
	// port); default "127.0.0.1:4222".
	NATSListen string
	// ApplyWait bounds how long a command waits for its event to be applied
	// locally before answering; default 5s.
	ApplyWait time.Duration
	// MaxWait bounds how long a read with atLeastRevision waits; default 5s.
	MaxWait time.Duration
	// ShutdownTimeout bounds graceful shutdown of the HTTP server; default 10s.
	ShutdownTimeout time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger

	// Role is what the node does; default RoleAll. RoleCommand and
	// RoleReplica need NATSURL.
	Role Role
	// NATSURL, when set, is an external NATS server (e.g. another node's
	// embedded one) holding the event stream: no embedded server is
	// started and NATSListen is ignored. Default "": embedded.
	NATSURL string
	// NATSUser and NATSPassword authenticate to NATSURL; default none.
	NATSUser, NATSPassword string
	// NATSCreds is a credentials file for NATSURL: a Grantlog one
	// (<data-dir>/nats-replica.creds or nats-command.creds of the node
	// with the embedded server) or a NATS JWT .creds file. Excludes
	// NATSUser and NATSPassword.
	NATSCreds string
	// NATSTLSCA is a PEM file of the CAs that sign NATSURL's server
	// certificate (default: the system's roots, when the server asks for
	// TLS). NATSTLSCert and NATSTLSKey are a PEM client certificate and its
	// key, for servers that verify clients; give both or neither. Each
	// needs NATSURL.
	NATSTLSCA, NATSTLSCert, NATSTLSKey string
	// NodeName names the node in status messages (grantlog.status.<node>)
	// and service discovery: letters, digits, '-', '_'. Default
	// "<host>-<role>-<hash of the data directory>".
	NodeName string
	// BootstrapTokenHashFile is deprecated and no longer needed: every
	// node reads the bootstrap credential from the event log. When set, it
	// is a bootstrap-token.sha256 file written by a version before the
	// credential lived in the log: a node that writes registers that hash
	// as the bootstrap credential of a stream that never had one, and
	// every node accepts it until the stream has one. A missing file is
	// ignored. Default: DataDir/bootstrap-token.sha256, read the same way.
	BootstrapTokenHashFile string
	// ResetBootstrapToken, on a node that writes, issues a new bootstrap
	// credential once the node has caught up, revoking the live one (and
	// the tokens it issued), and writes its token to
	// DataDir/bootstrap-token: the way back in when the bootstrap token is
	// lost. Use it for one start only.
	ResetBootstrapToken bool
	// StatusInterval is how often the node polls the stream head and
	// publishes its status; default 1s.
	StatusInterval time.Duration
	// SnapshotInterval is how often the node snapshots its index into
	// SnapshotBucket when the index moved (eventlog.Snapshotter); default 0:
	// no periodic snapshots (POST /v1/admin/snapshots still takes one). Set
	// it on the node that should write snapshots, typically the role all
	// node (the replica NATS user can read snapshots, and restores from
	// them, but may not create the bucket or delete old snapshots).
	SnapshotInterval time.Duration
	// SnapshotBucket is the JetStream Object Store bucket of index
	// snapshots; default eventlog.DefaultSnapshotBucket ("GRANTLOG_SNAPSHOTS").
	SnapshotBucket string
}

// String describes the configuration with secrets redacted.
func (c Config) String() string {
	pw := ""
	if c.NATSPassword != "" {
		pw = "<redacted>"
	}
	return fmt.Sprintf("role=%s data-dir=%s http=%s nats-url=%s nats-user=%s nats-password=%s nats-creds=%s nats-tls-ca=%s nats-tls-cert=%s nats-tls-key=%s node=%s",
		c.Role, c.DataDir, c.HTTPAddr, c.NATSURL, c.NATSUser, pw, c.NATSCreds, c.NATSTLSCA, c.NATSTLSCert, c.NATSTLSKey, c.NodeName)
}

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data directory is required (--data-dir or GRANTLOG_DATA_DIR)"))
	}
	if !c.Role.Valid() {
		errs = append(errs, fmt.Errorf("role %q: use all, command or replica", c.Role))
	}
	if c.ResetBootstrapToken && c.Role == RoleReplica {
		errs = append(errs, errors.New("--reset-bootstrap-token needs a node that writes (role all or command), not a replica"))
	}
	if (c.Role == RoleCommand || c.Role == RoleReplica) && c.NATSURL == "" {
		errs = append(errs, fmt.Errorf("role %s needs --nats-url: the NATS server of the node that holds the stream", c.Role))
	}
	if c.NATSCreds != "" && (c.NATSUser != "" || c.NATSPassword != "") {
		errs = append(errs, errors.New("give either --nats-creds or --nats-user/--nats-password, not both"))
	}
	errs = append(errs, c.validateTLS()...)
	if c.NodeName != "" && sanitizeToken(c.NodeName) != c.NodeName {
		errs = append(errs, fmt.Errorf("node name %q: use letters, digits, '-' and '_'", c.NodeName))
	}
	if c.SnapshotInterval < 0 {
		errs = append(errs, fmt.Errorf("snapshot interval %s: use 0 (off) or a positive duration such as 10m", c.SnapshotInterval))
	}
	for name, addr := range map[string]string{"http address": c.HTTPAddr, "nats listen address": c.NATSListen} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: want HOST:PORT, e.g. 127.0.0.1:8080 (%w)", name, addr, err))
		}
	}
	return errors.Join(errs...)
}

// validateTLS reports the problems of the NATS TLS options.
func (c *Config) validateTLS() []error {
	var errs []error
	if c.NATSURL == "" && (c.NATSTLSCA != "" || c.NATSTLSCert != "" || c.NATSTLSKey != "") {
		errs = append(errs, errors.New("--nats-tls-ca, --nats-tls-cert and --nats-tls-key need --nats-url (the embedded NATS server listens without TLS)"))
	}
	switch {
	case c.NATSTLSCert != "" && c.NATSTLSKey == "":
		errs = append(errs, fmt.Errorf("--nats-tls-cert %s needs --nats-tls-key: the client certificate's private key", c.NATSTLSCert))
	case c.NATSTLSKey != "" && c.NATSTLSCert == "":
		errs = append(errs, fmt.Errorf("--nats-tls-key %s needs --nats-tls-cert: the client certificate", c.NATSTLSKey))
	}
	for flag, file := range map[string]string{"--nats-tls-ca": c.NATSTLSCA, "--nats-tls-cert": c.NATSTLSCert, "--nats-tls-key": c.NATSTLSKey} {
		if file == "" {
			continue
		}
		if _, err := os.Stat(file); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", flag, err))
		}
	}
	return errs
}

// NATSTLSOptions are the nats options of NATSTLSCA, NATSTLSCert and
// NATSTLSKey (none when they are empty): nats.RootCAs and
// nats.ClientCert. It validates the combination first.
func (c *Config) NATSTLSOptions() ([]nats.Option, error) {
	if err := errors.Join(c.validateTLS()...); err != nil {
		return nil, err
	}
	var opts []nats.Option
	if c.NATSTLSCA != "" {
		opts = append(opts, nats.RootCAs(c.NATSTLSCA))
	}
	if c.NATSTLSCert != "" {
		opts = append(opts, nats.ClientCert(c.NATSTLSCert, c.NATSTLSKey))
	}
	return opts, nil
}

func (c *Config) setDefaults() {
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:8080"
	}
	if c.NATSListen == "" {
		c.NATSListen = "127.0.0.1:4222"
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Role == "" {
		c.Role = RoleAll
	}
	if c.NodeName == "" {
		c.NodeName = defaultNodeName(c.Role, c.DataDir)
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = time.Second
	}
	if c.SnapshotBucket == "" {
		c.SnapshotBucket = eventlog.DefaultSnapshotBucket
	}
}

// Server is a running single-machine Grantlog.
type Server struct {
	cfg      Config
	log      *slog.Logger
	nats     *eventlog.Embedded  // nil with an external NATS
	nc       *nats.Conn          // the service's connection (embedded or external)
	readerNC *nats.Conn          // the embedded server's connection in the readers' account (nil with an external NATS)
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
	natsServing  atomic.Bool   // the NATS micro service is registered
	snapshots    snapshotState // see snapshot.go
	signKey      *logsig.Key   // the log signing key of a node that writes (signing.go)
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
		if s.nc, err = eventlog.Connect(eventlog.ConnectConfig{URL: cfg.NATSURL, User: cfg.NATSUser, Password: cfg.NATSPassword,
			CredsFile: cfg.NATSCreds, Name: "grantlog-" + cfg.NodeName, Options: tlsOpts}); err != nil {
			return nil, err
		}
		s.ownConn = true
	}
	if cfg.Role == RoleReplica {
		// A replica reads the mirror through what its account imports.
		s.js, err = jetstream.NewWithAPIPrefix(s.nc, eventlog.MirrorAPIPrefix)
	} else {
		s.js, err = jetstream.New(s.nc)
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	s.evjs = s.js
	if cfg.Role.writes() {
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
	if cfg.Role.writes() {
		if err := s.ensureReaderMirror(ctx); err != nil {
			return nil, err
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream info: %w", err)
	}
	s.head.Store(projector.StreamHead(info))
	s.fresh = cfg.Role.writes() && info.State.LastSeq == 0
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
	s.proj = projector.New(projector.Config{
		Stream: s.streamName(), Logger: cfg.Logger,
		Progress: func(applied, head uint64) {
			cfg.Logger.Info("catching up", "applied", applied, "head", head)
		},
	}, s.evjs, s.store)
	// The authorizer asks an unguarded engine (it only uses Allows); the
	// engine the API serves is guarded by the authorizer.
	authorizer := auth.NewAuthorizer(query.New(query.Config{}, s.store, nil))
	s.Query = query.New(query.Config{MaxWait: cfg.MaxWait}, s.store, authorizer)
	s.Commands = command.New(command.Config{ApplyWait: cfg.ApplyWait, Signer: s.signKey}, s.evjs, stream, s.store, authorizer)

	s.auth = &auth.Authenticator{Index: s.store, Legacy: s.boot.legacy}
	// Open audit streams end when the HTTP server starts shutting down.
	auditSvc := audit.New(audit.Config{Stream: s.streamName(), Members: s.roleMembers}, s.evjs, authorizer)
	if s.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("http listen %s: %w (is another grantlog running? pick another --http-addr)", cfg.HTTPAddr, err)
	}
	s.http = &http.Server{
		Handler: httpapi.New(httpapi.Config{
			Commands: s.Commands, Query: s.Query, Logger: cfg.Logger,
			Auth:      s.auth,
			Ready:     func() (bool, uint64, uint64) { return s.Ready(), s.store.Applied(), s.proj.Head() },
			Status:    s.Status,
			Role:      string(cfg.Role),
			Audit:     auditSvc,
			Snapshots: s.snapshots.taker,
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

// Role is the node's role.
func (s *Server) Role() Role { return s.cfg.Role }

// NodeName is the node's name in status messages and discovery.
func (s *Server) NodeName() string { return s.cfg.NodeName }

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
	cfg := eventlog.StreamConfig(eventlog.DefaultStream, events.DefaultSubjectPrefix, 1)
	if s.cfg.Role == RoleReplica {
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
		if s.cfg.Role == RoleAll {
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
	_, err = eventlog.EnsureReaderMirror(ctx, mjs)
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

// Store returns the index.
func (s *Server) Store() *index.Store { return s.store }

// Ready reports whether the index has caught up with the stream (and, on a
// fresh start, the default roles exist).
func (s *Server) Ready() bool {
	return s.caughtUp() && s.natsServing.Load()
}

// caughtUp reports whether the index has caught up and bootstrap is done
// (the NATS check service starts then; readiness waits for it too).
func (s *Server) caughtUp() bool { return s.proj.Ready() && s.bootstrapped.Load() }

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
	g.Go(func() error { return s.watchStatus(gctx, s.stream) })
	g.Go(func() error { return s.serveNATS(gctx) })
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
	if s.http != nil {
		_ = s.http.Close()
		s.http = nil
	} else if s.httpLn != nil {
		_ = s.httpLn.Close()
	}
	s.httpLn = nil
	if s.ownConn && s.nc != nil {
		s.nc.Close()
	}
	s.nc = nil
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

// bootstrap, on a fresh stream, creates the default roles (AccelByte's
// User, View Only, Game Admin, Super Admin) and assigns Super Admin to the
// user the bootstrap credential acts as, so that tokens it issues for itself
// hold what it holds. On a node that writes it then makes sure the stream
// has its bootstrap credential (ensureBootstrapCredential). It waits for the
// projector to catch up first, and calls serve when the API may serve: at
// once, unless the stream is fresh.
func (s *Server) bootstrap(ctx context.Context, serve func()) error {
	defer serve()
	defer s.bootstrapped.Store(true)
	if !s.fresh {
		serve()
	}
	if !s.fresh && !s.cfg.Role.writes() {
		return nil
	}
	for !s.proj.Ready() {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := s.announceSigningKey(ctx); err != nil {
		return err
	}
	if s.fresh {
		if err := s.defaultRoles(ctx); err != nil {
			return err
		}
	}
	return s.ensureBootstrapCredential(ctx)
}

// defaultRoles creates the default roles and the bootstrap admin's Super
// Admin assignment.
func (s *Server) defaultRoles(ctx context.Context) error {
	p, ok, err := catalogs.PresetByName(DefaultsPreset)
	if err != nil {
		return fmt.Errorf("bootstrap: default roles preset %q: %w", DefaultsPreset, err)
	}
	if !ok {
		return fmt.Errorf("bootstrap: no default roles preset %q", DefaultsPreset)
	}
	roles := make([]command.CreateRole, 0, len(p.Roles))
	for _, r := range p.Roles {
		roles = append(roles, command.CreateRole{RoleName: r.RoleName, AdminRole: r.AdminRole,
			IsWildcard: r.IsWildcard, Description: r.Description, Permissions: r.Permissions})
	}
	m := command.Meta{Caller: auth.Bootstrap(), Reason: "bootstrap: default roles"}
	created, err := s.Commands.ApplyPreset(ctx, m, roles)
	if err != nil {
		return fmt.Errorf("bootstrap: default roles: %w", err)
	}
	for _, r := range created {
		if r.RoleName == SuperAdminRole {
			m.Reason = "bootstrap: the bootstrap credential is a Super Admin"
			if _, err := s.Commands.AssignRole(ctx, m, auth.BootstrapNamespace, auth.BootstrapAdminID, r.RoleID, nil); err != nil {
				return fmt.Errorf("bootstrap: assign %s: %w", SuperAdminRole, err)
			}
		}
	}
	s.log.Info("created the default roles", "roles", len(created))
	return nil
}

// Default roles.
const (
	DefaultsPreset = "accelbyte-defaults"
	SuperAdminRole = "SuperAdmin"
)

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
