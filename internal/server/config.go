package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/grantlog/grantlog/internal/storage/eventlog"
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
	// GroupBatchMin is the smallest group of commands' events appended as
	// one JetStream atomic batch (command.Config.GroupBatchMin); default
	// command.DefaultGroupBatchMin. NoGroupCommit appends every command's
	// event on its own.
	GroupBatchMin int
	NoGroupCommit bool
	// MaxWait bounds how long a read with atLeastRevision waits; default 5s.
	MaxWait time.Duration
	// IdempotencyWindow is how long a retry with the same Idempotency-Key
	// is answered with the command's first outcome (index.Options); 0: 24h,
	// negative: only JetStream's 2-minute duplicate window.
	IdempotencyWindow time.Duration
	// ShutdownTimeout bounds graceful shutdown of the HTTP server; default 10s.
	ShutdownTimeout time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger

	// NodeRole is what the node does; default NodeRoleAll. NodeRoleCommand and
	// NodeRoleReplica need NATSURL.
	NodeRole NodeRole
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
	// OpsConfig: the admin listener and the rate limit (ops.go).
	OpsConfig
	// Regions (README "Regions", docs/SECURITY.md): Region names the
	// region the node runs in, reported by /v1/status; default "".
	Region string
	// HomeDomain is the JetStream domain of the home region, for a node
	// that writes in another region: its NATS account there has no
	// JetStream of its own, so it reaches the signing key and the snapshot
	// bucket in the home region through "$JS.<HomeDomain>.API". Default
	// "": its own account's JetStream.
	HomeDomain string
	// StreamReplicas is the number of replicas of the event stream, the
	// home readers' mirror, the signing key and the snapshot bucket, set
	// when a node that writes creates them (3 on a three-node home
	// cluster); default 1. An existing stream with another count is an
	// error (change it with the nats CLI).
	StreamReplicas int
	// MaxStaleness is the readiness policy during a partition: a node
	// that has not heard from its stream's origin for longer is not ready
	// (GET /readyz 503) but keeps answering at its revision; default 0: it
	// stays ready and reports itself stale in /v1/status (availability).
	MaxStaleness time.Duration
	// MetricsAddr, when set, is the HOST:PORT of a listener of its own for
	// GET /metrics (then the API listener does not serve it); default "":
	// /metrics on the API listener (metrics.go). No credential either way.
	MetricsAddr string
}

// String describes the configuration with secrets redacted.
func (c Config) String() string {
	pw := ""
	if c.NATSPassword != "" {
		pw = "<redacted>"
	}
	return fmt.Sprintf("role=%s data-dir=%s http=%s nats-url=%s nats-user=%s nats-password=%s nats-creds=%s nats-tls-ca=%s nats-tls-cert=%s nats-tls-key=%s node=%s",
		c.NodeRole, c.DataDir, c.HTTPAddr, c.NATSURL, c.NATSUser, pw, c.NATSCreds, c.NATSTLSCA, c.NATSTLSCert, c.NATSTLSKey, c.NodeName)
}

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data directory is required (--data-dir or GRANTLOG_DATA_DIR)"))
	}
	if !c.NodeRole.Valid() {
		errs = append(errs, fmt.Errorf("role %q: use all, command or replica", c.NodeRole))
	}
	if c.ResetBootstrapToken && c.NodeRole == NodeRoleReplica {
		errs = append(errs, errors.New("--reset-bootstrap-token needs a node that writes (role all or command), not a replica"))
	}
	if (c.NodeRole == NodeRoleCommand || c.NodeRole == NodeRoleReplica) && c.NATSURL == "" {
		errs = append(errs, fmt.Errorf("role %s needs --nats-url: the NATS server of the node that holds the stream", c.NodeRole))
	}
	if c.NATSCreds != "" && (c.NATSUser != "" || c.NATSPassword != "") {
		errs = append(errs, errors.New("give either --nats-creds or --nats-user/--nats-password, not both"))
	}
	errs = append(errs, c.validateTLS()...)
	errs = append(errs, c.validateOps()...)
	if c.NodeName != "" && sanitizeToken(c.NodeName) != c.NodeName {
		errs = append(errs, fmt.Errorf("node name %q: use letters, digits, '-' and '_'", c.NodeName))
	}
	if c.StreamReplicas < 0 || c.StreamReplicas > 5 {
		errs = append(errs, fmt.Errorf("stream replicas %d: use 1, or 3 on a three-node NATS cluster (at most 5)", c.StreamReplicas))
	}
	if c.MaxStaleness < 0 {
		errs = append(errs, fmt.Errorf("max staleness %s: use 0 (stay ready while cut off) or a positive duration such as 30s", c.MaxStaleness))
	}
	if c.HomeDomain != "" && c.NATSURL == "" {
		errs = append(errs, errors.New("--home-domain needs --nats-url: it is for a node in another region's NATS"))
	}
	if c.Region != "" && sanitizeToken(c.Region) != c.Region {
		errs = append(errs, fmt.Errorf("region %q: use letters, digits, '-' and '_'", c.Region))
	}
	if c.SnapshotInterval < 0 {
		errs = append(errs, fmt.Errorf("snapshot interval %s: use 0 (off) or a positive duration such as 10m", c.SnapshotInterval))
	}
	for name, addr := range map[string]string{"http address": c.HTTPAddr, "nats listen address": c.NATSListen, "metrics address": c.MetricsAddr} {
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
	if c.NodeRole == "" {
		c.NodeRole = NodeRoleAll
	}
	if c.NodeName == "" {
		c.NodeName = defaultNodeName(c.NodeRole, c.DataDir)
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = time.Second
	}
	if c.StreamReplicas == 0 {
		c.StreamReplicas = 1
	}
	if c.SnapshotBucket == "" {
		c.SnapshotBucket = eventlog.DefaultSnapshotBucket
	}
}
