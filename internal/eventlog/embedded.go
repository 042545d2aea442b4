package eventlog

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/grantlog/grantlog/events"
)

// EmbeddedConfig configures an embedded NATS server with JetStream.
type EmbeddedConfig struct {
	// DataDir is where JetStream stores streams (under DataDir/jetstream). Required.
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
	// SubjectPrefix of event subjects, denied to the replica user; default
	// events.DefaultSubjectPrefix.
	SubjectPrefix string
	// NoUsers leaves out the replica and command users (and their
	// credentials files): only the in-process internal user exists.
	NoUsers bool
}

// Embedded is a running embedded server and the in-process connection the
// service uses.
type Embedded struct {
	Server *server.Server
	// Conn is an in-process connection with full permissions.
	Conn *nats.Conn
	// ReplicaCreds and CommandCreds are the external users' credentials
	// (also in DataDir/nats-replica.creds and DataDir/nats-command.creds).
	// Zero with NoUsers.
	ReplicaCreds, CommandCreds Creds
}

// adminOnlyAPI are the JetStream API subjects that change or remove stored
// events; only the internal user may publish them.
var adminOnlyAPI = []string{
	"$JS.API.STREAM.UPDATE.>",
	"$JS.API.STREAM.DELETE.>",
	"$JS.API.STREAM.PURGE.>",
	"$JS.API.STREAM.MSG.DELETE.>",
	"$JS.API.STREAM.RESTORE.>",
	"$JS.API.STREAM.PEER.REMOVE.>",
	"$JS.API.ACCOUNT.PURGE.>",
}

// ReplicaDenied returns the subjects the replica user may not publish:
// events (prefix.>), stream creation and adminOnlyAPI.
func ReplicaDenied(prefix string) []string {
	return append([]string{events.AllFilter(prefix), "$JS.API.STREAM.CREATE.>"}, adminOnlyAPI...)
}

// CommandDenied returns the subjects the command user may not publish.
func CommandDenied() []string { return append([]string(nil), adminOnlyAPI...) }

func randomSecret() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// internalUser is the service's own NATS user, with full permissions. Its
// password is random per start and never leaves the process; external
// clients use ReplicaUser or CommandUser.
const internalUser = "grantlog-internal"

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
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = events.DefaultSubjectPrefix
	}
	password := randomSecret()
	users := []*server.User{{Username: internalUser, Password: password}}
	var replica, command Creds
	if !cfg.NoUsers {
		var err error
		if replica, err = loadOrCreateCreds(filepath.Join(cfg.DataDir, ReplicaCredsFile), ReplicaUser, "replica"); err != nil {
			return nil, err
		}
		if command, err = loadOrCreateCreds(filepath.Join(cfg.DataDir, CommandCredsFile), CommandUser, "command"); err != nil {
			return nil, err
		}
		users = append(users,
			&server.User{Username: replica.User, Password: replica.Password, Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Deny: ReplicaDenied(cfg.SubjectPrefix)},
			}},
			&server.User{Username: command.User, Password: command.Password, Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Deny: CommandDenied()},
			}})
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       host,
		Port:       port,
		DontListen: cfg.NoListen,
		JetStream:  true,
		StoreDir:   filepath.Join(cfg.DataDir, "jetstream"),
		SyncAlways: cfg.SyncAlways,
		NoSigs:     true,
		NoLog:      true,
		Users:      users,
		// Bulk assignments (10,000 in one event) exceed the 1 MB default.
		MaxPayload: MaxPayload,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("eventlog: nats server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("eventlog: embedded nats server did not start within 30s")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.UserInfo(internalUser, password),
		nats.Name("grantlog-internal"), nats.MaxReconnects(-1))
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("eventlog: connect in-process: %w", err)
	}
	return &Embedded{Server: ns, Conn: nc, ReplicaCreds: replica, CommandCreds: command}, nil
}

// ClientURL returns the URL external clients connect to, or "" when not listening.
func (e *Embedded) ClientURL() string {
	if e.Server.Addr() == nil {
		return ""
	}
	return e.Server.ClientURL()
}

// Close drains the connection and shuts the server down, waiting for it.
func (e *Embedded) Close() {
	e.Conn.Close()
	e.Server.Shutdown()
	e.Server.WaitForShutdown()
}
