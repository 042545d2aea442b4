package eventlog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
)

// Credentials file names under the data directory: nats-<user>.creds.
// Their passwords are random, made on first start (mode 0600), so that
// they survive restarts.
const (
	CommandCredsFile  = "nats-command.creds"
	ReplicaCredsFile  = "nats-replica.creds"
	FollowerCredsFile = "nats-follower.creds"
	ClientCredsFile   = "nats-client.creds"
)

// CredsFile is the credentials file name of a user.
func CredsFile(user string) string { return "nats-" + user + ".creds" }

// Creds are a NATS user and password.
//
// A Grantlog credentials file holds them as lines "user=NAME" and
// "password=SECRET"; blank lines and lines starting with '#' are ignored.
type Creds struct {
	User     string
	Password string
}

// String redacts the password.
func (c Creds) String() string { return c.User + ":<redacted>" }

// ParseCreds reads a Grantlog credentials file's content.
func ParseCreds(raw []byte) (Creds, error) {
	var c Creds
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case !ok:
			return Creds{}, fmt.Errorf("line %d: want key=value (user=..., password=...)", n)
		case k == "user":
			c.User = v
		case k == "password":
			c.Password = v
		default:
			return Creds{}, fmt.Errorf("line %d: unknown key %q (want user or password)", n, k)
		}
	}
	if err := sc.Err(); err != nil {
		return Creds{}, err
	}
	if c.User == "" || c.Password == "" {
		return Creds{}, errors.New("want both a user= and a password= line")
	}
	return c, nil
}

// Format renders c as a credentials file.
func (c Creds) Format(role string) []byte {
	use := map[string]string{
		CommandUser:  "grantlog serve --role command --nats-url nats://HOST:PORT --nats-creds THIS_FILE",
		ReplicaUser:  "grantlog serve --role replica --nats-url nats://HOST:PORT --nats-creds THIS_FILE",
		FollowerUser: "client.FollowerConfig{URL: \"nats://HOST:PORT\", CredsFile: THIS_FILE} (an embedded follower)",
		ClientUser:   "client.NewNATS over a connection made with THIS_FILE and inbox prefix " + InboxPrefix(ClientUser),
	}[role]
	if use == "" {
		use = "grantlog serve --nats-url nats://HOST:PORT --nats-creds THIS_FILE"
	}
	return fmt.Appendf(nil, "# Grantlog NATS credentials of the %s user. Keep secret.\n# Use: %s\nuser=%s\npassword=%s\n",
		role, use, c.User, c.Password)
}

// loadOrCreateCreds returns the credentials in path, or makes user a random
// password and writes it there (mode 0600).
func loadOrCreateCreds(path, user, role string) (Creds, error) {
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		c, perr := ParseCreds(raw)
		if perr != nil {
			return Creds{}, fmt.Errorf("eventlog: %s: %w (delete it to make new credentials)", path, perr)
		}
		if c.User != user {
			return Creds{}, fmt.Errorf("eventlog: %s is for user %q, want %q (delete it to make new credentials)", path, c.User, user)
		}
		return c, nil
	case !errors.Is(err, fs.ErrNotExist):
		return Creds{}, fmt.Errorf("eventlog: %w", err)
	}
	c := Creds{User: user, Password: randomSecret()}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Creds{}, fmt.Errorf("eventlog: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, c.Format(role), 0o600); err != nil {
		return Creds{}, fmt.Errorf("eventlog: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return Creds{}, fmt.Errorf("eventlog: %w", err)
	}
	return c, nil
}

// ConnectConfig says how to reach an external NATS server.
type ConnectConfig struct {
	// URL is the server URL (comma-separated for several). Required.
	URL string
	// User and Password authenticate with a user and password.
	User, Password string
	// CredsFile is a Grantlog credentials file (user=/password= lines) or a
	// NATS JWT credentials file (nsc's "-----BEGIN NATS USER JWT-----").
	// It excludes User and Password.
	CredsFile string
	// Name is the connection's name, shown by the server's monitoring.
	Name string
	// Options are more nats options (e.g. TLS), applied after the above.
	// With a user (or a Grantlog credentials file) the connection's inbox
	// prefix is InboxPrefix(user): the only inbox that user may read.
	Options []nats.Option
}

// Connect connects to an external NATS server. The connection reconnects
// forever; the caller closes it.
func Connect(cfg ConnectConfig) (*nats.Conn, error) {
	if cfg.URL == "" {
		return nil, errors.New("eventlog: a NATS URL is required")
	}
	opts := []nats.Option{nats.Name(cfg.Name), nats.MaxReconnects(-1)}
	switch {
	case cfg.CredsFile != "" && (cfg.User != "" || cfg.Password != ""):
		return nil, errors.New("eventlog: give either a credentials file or a user and password, not both")
	case cfg.CredsFile != "":
		raw, err := os.ReadFile(cfg.CredsFile)
		if err != nil {
			return nil, fmt.Errorf("eventlog: nats credentials: %w", err)
		}
		if bytes.Contains(raw, []byte("BEGIN NATS USER JWT")) {
			opts = append(opts, nats.UserCredentials(cfg.CredsFile))
			break
		}
		c, err := ParseCreds(raw)
		if err != nil {
			return nil, fmt.Errorf("eventlog: nats credentials %s: %w", cfg.CredsFile, err)
		}
		opts = append(opts, nats.UserInfo(c.User, c.Password), nats.CustomInboxPrefix(InboxPrefix(c.User)))
	case cfg.User != "":
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password), nats.CustomInboxPrefix(InboxPrefix(cfg.User)))
	}
	nc, err := nats.Connect(cfg.URL, append(opts, cfg.Options...)...)
	if err != nil {
		return nil, fmt.Errorf("eventlog: connect to %s: %w", redactURL(cfg.URL), err)
	}
	return nc, nil
}

// redactURL hides passwords in nats://user:pass@host URLs.
func redactURL(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if scheme := strings.Index(p, "://"); scheme >= 0 && scheme < at {
				parts[i] = p[:scheme+3] + "<redacted>@" + p[at+1:]
			}
		}
	}
	return strings.Join(parts, ",")
}
