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
}

// Embedded is a running embedded server and the in-process connection the
// service uses.
type Embedded struct {
	Server *server.Server
	// Conn is an in-process connection with full permissions.
	Conn *nats.Conn
}

func randomSecret() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// internalUser is the service's own NATS user. Its password is random per
// start and never leaves the process; external clients get users of their
// own (with publish on event subjects denied) in a later release.
const internalUser = "grantlog-internal"

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
	password := randomSecret()
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
		Users:      []*server.User{{Username: internalUser, Password: password}},
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
	return &Embedded{Server: ns, Conn: nc}, nil
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
