package eventlog

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/grantlog/grantlog/events"
)

// EmbeddedConfig configures an embedded NATS server with JetStream.
type EmbeddedConfig struct {
	// DataDir is where JetStream stores streams (under DataDir/jetstream)
	// and where the users' credentials files are kept. Required.
	DataDir string
	// Listen is the client address, HOST:PORT; port 0 picks a free port.
	// Default "127.0.0.1:0".
	Listen string
	// NoListen disables the client listener entirely (in-process only).
	NoListen bool
	// SyncAlways fsyncs every write before acknowledging it. Leave it on:
	// without it an acknowledged write can be lost on power failure.
	SyncAlways bool
	// ServerName names the server; default "grantlog".
	ServerName string
	// SnapshotBucket is the snapshot Object Store bucket readers may read;
	// default "GRANTLOG_SNAPSHOTS".
	SnapshotBucket string
	// NoUsers keeps the external users' passwords in memory only: no
	// credentials files are written or read (tests).
	NoUsers bool
}

// Embedded is a running embedded server and the in-process connections
// the service uses.
type Embedded struct {
	Server *server.Server
	// Conn is an in-process connection with full permissions in
	// CommandAccount: it publishes events into StoreAccount and reads the
	// stream through that account's exports, as a command node does.
	Conn *nats.Conn
	// ReaderConn is an in-process connection with full permissions in
	// ReadersAccount: it serves the NATS check API there.
	ReaderConn *nats.Conn
	// MirrorConn is an in-process connection with full permissions in
	// MirrorAccount: it creates the readers' mirror.
	MirrorConn *nats.Conn
	// StoreConn is an in-process connection with full permissions in
	// StoreAccount: it creates the event stream and keeps its
	// configuration (and an operator changes its limits through it).
	StoreConn *nats.Conn
	// CommandCreds, ReplicaCreds, FollowerCreds and ClientCreds are the
	// external users' credentials (also in DataDir/nats-<role>.creds unless
	// NoUsers).
	CommandCreds, ReplicaCreds, FollowerCreds, ClientCreds Creds
}

func randomSecret() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// MaxPayload is the largest message the embedded server accepts (8 MiB).
const MaxPayload = 8 << 20

// StartEmbedded starts the server and connects to it in-process.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("eventlog: EmbeddedConfig.DataDir is required")
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "grantlog"
	}
	if cfg.SnapshotBucket == "" {
		cfg.SnapshotBucket = DefaultSnapshotBucket
	}
	host, port := "127.0.0.1", -1
	if cfg.Listen != "" {
		h, p, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("eventlog: nats listen address %q: %w", cfg.Listen, err)
		}
		pn, err := strconv.Atoi(p)
		if err != nil || pn < 0 || pn > 65535 {
			return nil, fmt.Errorf("eventlog: nats listen port %q is not a port number", p)
		}
		host = h
		if pn != 0 {
			port = pn
		}
	}
	e := &Embedded{}
	for _, u := range []struct {
		creds *Creds
		user  string
	}{{&e.CommandCreds, CommandUser}, {&e.ReplicaCreds, ReplicaUser}, {&e.FollowerCreds, FollowerUser}, {&e.ClientCreds, ClientUser}} {
		if cfg.NoUsers {
			*u.creds = Creds{User: u.user, Password: randomSecret()}
			continue
		}
		c, err := loadOrCreateCreds(filepath.Join(cfg.DataDir, CredsFile(u.user)), u.user, u.user)
		if err != nil {
			return nil, err
		}
		*u.creds = c
	}
	internal, internalReader, internalMirror, internalStore := randomSecret(), randomSecret(), randomSecret(), randomSecret()
	conf, err := AccountsConfig(AccountsParams{
		Command: Quote(e.CommandCreds.Password), Replica: Quote(e.ReplicaCreds.Password),
		Follower: Quote(e.FollowerCreds.Password), Client: Quote(e.ClientCreds.Password),
		Internal: Quote(internal), InternalReader: Quote(internalReader), InternalMirror: Quote(internalMirror), InternalStore: Quote(internalStore),
		Stream: DefaultStream, Prefix: events.DefaultSubjectPrefix, Bucket: cfg.SnapshotBucket,
	})
	if err != nil {
		return nil, err
	}
	opts := &server.Options{}
	if err := opts.ProcessConfigString(conf); err != nil {
		return nil, fmt.Errorf("eventlog: nats accounts configuration: %w", err)
	}
	storeDir := filepath.Join(cfg.DataDir, "jetstream")
	if err := migrateGlobalAccount(storeDir); err != nil {
		return nil, err
	}
	opts.ServerName = cfg.ServerName
	opts.Host, opts.Port = host, port
	opts.DontListen = cfg.NoListen
	opts.JetStream = true
	opts.StoreDir = storeDir
	opts.SyncAlways = cfg.SyncAlways
	opts.NoSigs = true
	opts.NoLog = true
	// Bulk assignments (10,000 in one event) exceed the 1 MB default.
	opts.MaxPayload = MaxPayload
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("eventlog: nats server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("eventlog: embedded nats server did not start within 30s")
	}
	e.Server = ns
	for _, c := range []struct {
		conn           **nats.Conn
		user, password string
	}{
		{&e.Conn, internalUser, internal}, {&e.ReaderConn, internalReaderUser, internalReader},
		{&e.MirrorConn, internalMirrorUser, internalMirror}, {&e.StoreConn, internalStoreUser, internalStore},
	} {
		if *c.conn, err = nats.Connect("", nats.InProcessServer(ns), nats.UserInfo(c.user, c.password),
			nats.Name(c.user), nats.MaxReconnects(-1)); err != nil {
			e.closeConns()
			ns.Shutdown()
			return nil, fmt.Errorf("eventlog: connect in-process as %s: %w", c.user, err)
		}
	}
	if _, err := serveBackups(e.Conn, e.StoreConn, cfg.SnapshotBucket); err != nil {
		e.closeConns()
		ns.Shutdown()
		return nil, fmt.Errorf("eventlog: serve backups: %w", err)
	}
	return e, nil
}

// closeConns closes the in-process connections that are open.
func (e *Embedded) closeConns() {
	for _, nc := range []*nats.Conn{e.StoreConn, e.MirrorConn, e.ReaderConn, e.Conn} {
		if nc != nil {
			nc.Close()
		}
	}
}

// migrateGlobalAccount moves the JetStream store of a data directory
// written before accounts (every stream in the global account $G), once:
// the event stream to StoreAccount, every other stream (the snapshot
// bucket, the signing key) to CommandAccount.
func migrateGlobalAccount(storeDir string) error {
	old := filepath.Join(storeDir, "jetstream", "$G")
	if _, err := os.Stat(old); err != nil {
		return nil //nolint:nilerr // nothing to migrate
	}
	streams, err := os.ReadDir(filepath.Join(old, "streams"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("eventlog: migrate the global account: %w", err)
	}
	for _, st := range streams {
		acc := CommandAccount
		if st.Name() == DefaultStream {
			acc = StoreAccount
		}
		dst := filepath.Join(storeDir, "jetstream", acc, "streams", st.Name())
		if _, err := os.Stat(dst); err == nil {
			return fmt.Errorf("eventlog: %s and %s both exist: the data directory holds streams of two layouts; move one away", filepath.Join(old, "streams", st.Name()), dst)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return fmt.Errorf("eventlog: migrate the global account: %w", err)
		}
		if err := os.Rename(filepath.Join(old, "streams", st.Name()), dst); err != nil {
			return fmt.Errorf("eventlog: move stream %s to account %s: %w", st.Name(), acc, err)
		}
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("eventlog: migrate the global account: %w", err)
	}
	return nil
}

// ClientURL returns the URL external clients connect to, or "" when not listening.
func (e *Embedded) ClientURL() string {
	if e.Server.Addr() == nil {
		return ""
	}
	return e.Server.ClientURL()
}

// Close closes the connections and shuts the server down, waiting for it.
func (e *Embedded) Close() {
	e.closeConns()
	e.Server.Shutdown()
	e.Server.WaitForShutdown()
}
