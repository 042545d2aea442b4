package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the CLI (cli.go) on args and returns the exit status: serve and
// audit are handed their arguments untouched.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{ctx: ctx, stdout: stdout, stderr: stderr, tty: isTerminal(stdout)}
	return c.execute(args)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// serveFlags defines serve's flags (their defaults from the environment)
// on a new flag set; finish turns their values into cfg and validates it.
// config.go reads a config file into the same flags.
func serveFlags(stderr io.Writer) (fs *flag.FlagSet, cfg *server.Config, finish func() error) {
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg = &server.Config{}
	fs.StringVar(&cfg.DataDir, "data-dir", envOr("GRANTLOG_DATA_DIR", "grantlog-data"),
		"directory for the event store, the index and the bootstrap token (env GRANTLOG_DATA_DIR)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", envOr("GRANTLOG_HTTP_ADDR", "127.0.0.1:8080"),
		"HOST:PORT of the HTTP API; port 0 picks a free port (env GRANTLOG_HTTP_ADDR)")
	fs.StringVar(&cfg.NATSListen, "nats-listen", envOr("GRANTLOG_NATS_LISTEN", "127.0.0.1:4222"),
		"HOST:PORT of the embedded NATS server; port 0 picks a free port (env GRANTLOG_NATS_LISTEN)")
	nodeRole := fs.String("role", envOr("GRANTLOG_ROLE", "all"),
		"what this node does: all (commands and checks), command (commands; no checks) or replica (checks and reads; no commands) (env GRANTLOG_ROLE)")
	fs.StringVar(&cfg.NATSURL, "nats-url", os.Getenv("GRANTLOG_NATS_URL"),
		"external NATS holding the event stream, e.g. another node's nats://HOST:4222; no embedded server is started. Required for --role command and replica (env GRANTLOG_NATS_URL)")
	fs.StringVar(&cfg.NATSUser, "nats-user", os.Getenv("GRANTLOG_NATS_USER"), "NATS user for --nats-url (env GRANTLOG_NATS_USER)")
	fs.StringVar(&cfg.NATSPassword, "nats-password", os.Getenv("GRANTLOG_NATS_PASSWORD"),
		"NATS password for --nats-url; prefer the env var, flags show in ps (env GRANTLOG_NATS_PASSWORD)")
	fs.StringVar(&cfg.NATSCreds, "nats-creds", os.Getenv("GRANTLOG_NATS_CREDS"),
		"NATS credentials file for --nats-url: <data-dir>/nats-replica.creds (replica) or nats-command.creds (command) of the node with the embedded server, or a NATS JWT .creds file (env GRANTLOG_NATS_CREDS)")
	fs.StringVar(&cfg.NATSTLSCA, "nats-tls-ca", os.Getenv("GRANTLOG_NATS_TLS_CA"),
		"PEM file of the CAs that sign the --nats-url server's certificate (default: the system's roots) (env GRANTLOG_NATS_TLS_CA)")
	fs.StringVar(&cfg.NATSTLSCert, "nats-tls-cert", os.Getenv("GRANTLOG_NATS_TLS_CERT"),
		"PEM client certificate for --nats-url servers that verify clients; needs --nats-tls-key (env GRANTLOG_NATS_TLS_CERT)")
	fs.StringVar(&cfg.NATSTLSKey, "nats-tls-key", os.Getenv("GRANTLOG_NATS_TLS_KEY"),
		"PEM private key of --nats-tls-cert (env GRANTLOG_NATS_TLS_KEY)")
	fs.StringVar(&cfg.BootstrapTokenHashFile, "bootstrap-token-hash-file", os.Getenv("GRANTLOG_BOOTSTRAP_TOKEN_HASH_FILE"),
		"deprecated, no longer needed: every node reads the bootstrap credential from the event log. A bootstrap-token.sha256 written by an older version, registered in the log if the stream has no bootstrap credential yet; a missing file is ignored (env GRANTLOG_BOOTSTRAP_TOKEN_HASH_FILE)")
	fs.BoolVar(&cfg.ResetBootstrapToken, "reset-bootstrap-token", false,
		"for --role all or command, when the bootstrap token is lost: issue a new bootstrap credential at start (revoking the current one and the tokens it issued) and write it to <data-dir>/bootstrap-token. Use for one start only")
	fs.StringVar(&cfg.NodeName, "node-name", os.Getenv("GRANTLOG_NODE_NAME"),
		"name of this node in grantlog.status.<node> and service discovery (default <host>-<role>-<hash of data dir>) (env GRANTLOG_NODE_NAME)")
	snapshotEvery := fs.String("snapshot-interval", os.Getenv("GRANTLOG_SNAPSHOT_INTERVAL"),
		"snapshot the index into the GRANTLOG_SNAPSHOTS object store this often when it moved, e.g. 10m; default off (POST /v1/admin/snapshots takes one on demand). New replicas start from the newest snapshot (env GRANTLOG_SNAPSHOT_INTERVAL)")
	idemWindow := fs.String("idempotency-window", envOr("GRANTLOG_IDEMPOTENCY_WINDOW", "24h"),
		"how long a retry with the same Idempotency-Key is answered with the command's first outcome (same ids, revision and secret), in event time; costs ~150 bytes and one index record per keyed command in the window; 0 keeps only JetStream's 2-minute duplicate window (env GRANTLOG_IDEMPOTENCY_WINDOW)")
	logLevel := fs.String("log-level", envOr("GRANTLOG_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env GRANTLOG_LOG_LEVEL)")
	checkOps := addOpsFlags(fs, cfg)
	logFormat := fs.String("log-format", envOr("GRANTLOG_LOG_FORMAT", logFormatText),
		"log format: text (key=value lines) or json (one JSON object per line); an access log line per HTTP and NATS request at info, checks' at debug (env GRANTLOG_LOG_FORMAT)")
	fs.StringVar(&cfg.Region, "region", os.Getenv("GRANTLOG_REGION"),
		"name of the region this node runs in, reported by /v1/status (README \"Regions\") (env GRANTLOG_REGION)")
	fs.StringVar(&cfg.HomeDomain, "home-domain", os.Getenv("GRANTLOG_HOME_DOMAIN"),
		"for --role command in a region other than the home region: the home region's JetStream domain (deploy/nats/home.conf: home), where the signing key and snapshots live (env GRANTLOG_HOME_DOMAIN)")
	fs.IntVar(&cfg.StreamReplicas, "stream-replicas", envInt("GRANTLOG_STREAM_REPLICAS"),
		"default 0 = 1: replicas of the event stream (and of the home mirror, the signing key and the snapshot bucket) when a node that writes creates them: 3 on a three-node NATS cluster (env GRANTLOG_STREAM_REPLICAS)")
	maxStaleness := fs.String("max-staleness", os.Getenv("GRANTLOG_MAX_STALENESS"),
		"readiness during a partition: not ready (GET /readyz 503) once the node has not heard from its stream's origin for longer than this, e.g. 30s; default 0: stay ready and answer at the last revision, reporting stale in /v1/status (env GRANTLOG_MAX_STALENESS)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", os.Getenv("GRANTLOG_METRICS_ADDR"),
		"HOST:PORT of a listener of its own for the Prometheus metrics (GET /metrics, no credential); default: /metrics on --http-addr (env GRANTLOG_METRICS_ADDR)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: grantlog serve [flags]

Runs Grantlog on this machine: an embedded NATS server with JetStream holds
the event log (fsync on every write), a Pebble index under the data directory
answers checks, and the HTTP API listens on --http-addr.

On first start a bootstrap Super Admin token is written to
<data-dir>/bootstrap-token (mode 0600). Send it as "Authorization: Bearer
<token>" on every /v1 call. A restart keeps every role, assignment and token.
Like every credential it lives (hashed) in the event log, so every node
accepts it; rotate it with POST /v1/admin/bootstrap-token:rotate.

Replicas and command nodes: the embedded NATS server has four users in
three accounts (docs/SECURITY.md), with credentials in <data-dir>:
nats-command.creds (command nodes: the only ones that can write events),
nats-replica.creds (replica nodes: read the stream's mirror, answer checks),
nats-follower.creds (embedded followers: read only) and nats-client.creds
(API clients over NATS: requests only). Run more nodes against it, each
with its own data dir:

  grantlog serve --role replica --nats-url nats://HOST:4222 \
      --nats-creds <first>/nats-replica.creds \
      --data-dir replica1 --http-addr 127.0.0.1:8081

Replicas answer checks over HTTP and NATS (grantlog.v1.check) and refuse
commands; command nodes write (over HTTP and NATS, grantlog.v1.cmd.<name>)
and refuse checks. For a NATS server with TLS add --nats-tls-ca (and
--nats-tls-cert/--nats-tls-key when it verifies clients).

Settings can also come from a YAML file, --config FILE, whose keys are the
flag names (deploy/grantlog.yaml has them all): a flag overrides its
environment variable, which overrides the file. "grantlog config check
FILE" validates a file and prints the effective settings.

Flags:
`)
		fs.PrintDefaults()
	}
	finish = func() error {
		var level slog.Level
		if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
			return settingErr("log-level", "--log-level %q: use debug, info, warn or error", *logLevel)
		}
		if *snapshotEvery != "" {
			d, err := time.ParseDuration(*snapshotEvery)
			if err != nil {
				return settingErr("snapshot-interval", "--snapshot-interval %q: use a duration such as 10m, or 0 for off", *snapshotEvery)
			}
			cfg.SnapshotInterval = d
		}
		if *maxStaleness != "" {
			d, err := time.ParseDuration(*maxStaleness)
			if err != nil || d < 0 {
				return settingErr("max-staleness", "--max-staleness %q: use a duration such as 30s, or 0 to stay ready while cut off", *maxStaleness)
			}
			cfg.MaxStaleness = d
		}
		switch d, err := time.ParseDuration(*idemWindow); {
		case err != nil || d < 0:
			return settingErr("idempotency-window", "--idempotency-window %q: use a duration such as 24h, or 0 for JetStream's 2-minute window only", *idemWindow)
		case d == 0:
			cfg.IdempotencyWindow = -1
		default:
			cfg.IdempotencyWindow = d
		}
		cfg.NodeRole = server.NodeRole(*nodeRole)
		logger, err := newLogger(stderr, *logFormat, level)
		if err != nil {
			return settingErr("log-format", "%v", err)
		}
		cfg.Logger = logger
		if err := checkOps(); err != nil {
			return err
		}
		return cfg.Validate()
	}
	return fs, cfg, finish
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, cfg, finish := serveFlags(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "grantlog serve: unexpected argument %q (flags only; see --help)\n", fs.Arg(0))
		return 2
	}
	settings, err := applyConfigFile(fs)
	if err == nil {
		err = settings.explain(finish())
	}
	if err != nil {
		fmt.Fprintf(stderr, "grantlog serve: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, *cfg)
	if err != nil {
		fmt.Fprintf(stderr, "grantlog serve: %v\n", err)
		return 1
	}
	tokenPath, _ := filepath.Abs(filepath.Join(cfg.DataDir, auth.BootstrapTokenFile))
	natsAt := srv.NATSURL()
	_, tokenErr := os.Stat(tokenPath)
	switch {
	case srv.Bootstrap.Created:
		fmt.Fprintf(stdout, "Bootstrap Super Admin token written to %s (mode 0600).\n", tokenPath)
		fmt.Fprintf(stdout, "Use it:  export GRANTLOG_TOKEN=$(cat %s)\n", tokenPath)
	case cfg.ResetBootstrapToken:
		fmt.Fprintf(stdout, "A new bootstrap Super Admin token replaces the current one once this node has caught up: it is written to %s (mode 0600).\n", tokenPath)
	case tokenErr == nil:
		fmt.Fprintf(stdout, "Using the bootstrap credential of the event log (token file: %s).\n", tokenPath)
	default:
		fmt.Fprintln(stdout, "Using the bootstrap credential of the event log (its token is in the bootstrap-token file of the node that created the stream).")
	}
	if natsAt == "" || srv.NodeRole() != server.NodeRoleAll {
		natsAt = "external " + redactURL(cfg.NATSURL)
	} else if cfg.NATSURL == "" {
		fmt.Fprintf(stdout, "NATS %s: replicas connect with --nats-creds %s, command nodes with %s, embedded followers with %s, API clients with %s (docs/SECURITY.md).\n",
			natsAt, filepath.Join(cfg.DataDir, eventlog.ReplicaCredsFile), eventlog.CommandCredsFile, eventlog.FollowerCredsFile, eventlog.ClientCredsFile)
	}
	fmt.Fprintf(stdout, "Grantlog %s (%s node %s) serving HTTP on http://%s (NATS %s, data in %s)\n",
		version, srv.NodeRole(), srv.NodeName(), srv.HTTPAddr(), natsAt, cfg.DataDir)
	printOps(stdout, srv, cfg)
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "grantlog serve: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "Grantlog stopped.")
	return 0
}
