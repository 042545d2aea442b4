package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
)

// File names under the data directory.
const (
	// BootstrapTokenFile holds the clear bootstrap token, for the operator (0600).
	BootstrapTokenFile = "bootstrap-token"
	// BootstrapHashFile is where versions before the bootstrap credential lived in
	// the event log kept its hash. It is read once, to register that hash
	// in the log (so the old token keeps working), and never written.
	BootstrapHashFile = "bootstrap-token.sha256"
)

// BootstrapTokenPrefix starts every bootstrap token (API tokens start with "gltk_").
const BootstrapTokenPrefix = "glt_"

// NewBootstrapSecret returns a new random bootstrap token and its SHA-256.
func NewBootstrapSecret() (secret string, hash [sha256.Size]byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", hash, fmt.Errorf("auth: random: %w", err)
	}
	secret = BootstrapTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, sha256.Sum256([]byte(secret)), nil
}

// WriteTokenFile writes the clear bootstrap token to dataDir/BootstrapTokenFile, mode
// 0600, synced, replacing the file atomically.
func WriteTokenFile(dataDir, secret string) error {
	path := filepath.Join(dataDir, BootstrapTokenFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		_ = f.Close()
		return fmt.Errorf("auth: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("auth: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return nil
}

// ReadTokenFile returns the bootstrap token in dataDir/BootstrapTokenFile; ok is
// false when there is no such file.
func ReadTokenFile(dataDir string) (secret string, ok bool, err error) {
	raw, err := os.ReadFile(filepath.Join(dataDir, BootstrapTokenFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("auth: %w", err)
	}
	secret = strings.TrimSpace(string(raw))
	if !strings.HasPrefix(secret, BootstrapTokenPrefix) {
		return "", false, fmt.Errorf("auth: %s does not hold a bootstrap token (%s...)", filepath.Join(dataDir, BootstrapTokenFile), BootstrapTokenPrefix)
	}
	return secret, true, nil
}

// ReadHashFile reads a BootstrapHashFile: the 64 hex digits of a bootstrap token's
// SHA-256. ok is false when there is no such file.
func ReadHashFile(path string) (hash [sha256.Size]byte, ok bool, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return hash, false, nil
	}
	if err != nil {
		return hash, false, fmt.Errorf("auth: %w", err)
	}
	h, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(h) != sha256.Size {
		return hash, false, fmt.Errorf("auth: %s: want the 64 hex digits of a %s file", path, BootstrapHashFile)
	}
	copy(hash[:], h)
	return hash, true, nil
}

// Errors of Authenticator.Authenticate.
var (
	ErrNoCredential  = errors.New("no credential")
	ErrBadCredential = errors.New("bad credential")
)

// Index is where API tokens and clients are looked up. *index.Store satisfies it.
type Index interface {
	Acquire() index.View
}

// Authenticator maps an Authorization header to a caller: a bootstrap
// token ("Bearer glt_...", the root of the service, looked up in the
// index), an API token ("Bearer gltk_...", acting as its owner within its
// own permissions) or an IAM client ("Basic" with client id and secret).
// Secrets are compared by hash.
type Authenticator struct {
	Index Index
	// Legacy, when set, is the hash of a bootstrap token made before the
	// bootstrap credential lived in the event log (a BootstrapHashFile). It is
	// accepted only while the index has never seen a bootstrap credential:
	// during an upgrade, until a command node has registered it in the log.
	Legacy *[sha256.Size]byte
	// Now is the clock for token validity; default time.Now.
	Now func() time.Time
}

// Authenticate returns the caller of an Authorization header value. Errors
// wrap ErrNoCredential or ErrBadCredential and say how to fix the request.
func (a *Authenticator) Authenticate(header string) (events.Caller, error) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(header), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case header == "":
		return events.Caller{}, fmt.Errorf("%w: send Authorization: Bearer <token> (the bootstrap token is in the %s file of the data directory of the node that created the stream)", ErrNoCredential, BootstrapTokenFile)
	case strings.EqualFold(scheme, "Bearer") && strings.HasPrefix(cred, BootstrapTokenPrefix):
		return a.bootstrap(cred)
	case strings.EqualFold(scheme, "Bearer") && strings.HasPrefix(cred, "gltk_"):
		return a.token(cred)
	case strings.EqualFold(scheme, "Basic"):
		return a.client(cred)
	}
	return events.Caller{}, fmt.Errorf("%w: use Authorization: Bearer <token> or Basic <client id:secret>", ErrBadCredential)
}

func (a *Authenticator) bootstrap(secret string) (events.Caller, error) {
	h := sha256.Sum256([]byte(secret))
	v := a.Index.Acquire()
	defer v.Release()
	if t := v.TokenByHash(h); t != nil && t.Bootstrap && t.Valid(a.now()) {
		return BootstrapCredential(t.ID), nil
	}
	if a.Legacy != nil && !v.HadBootstrap() && subtle.ConstantTimeCompare(h[:], a.Legacy[:]) == 1 {
		return Bootstrap(), nil
	}
	return events.Caller{}, fmt.Errorf("%w: the bearer token is not valid (a bootstrap token that was rotated or revoked stops working everywhere)", ErrBadCredential)
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Authenticator) token(secret string) (events.Caller, error) {
	v := a.Index.Acquire()
	defer v.Release()
	t := v.TokenByHash(sha256.Sum256([]byte(secret)))
	if t == nil || t.Bootstrap {
		return events.Caller{}, fmt.Errorf("%w: the token is unknown or revoked", ErrBadCredential)
	}
	if !t.Valid(a.now()) {
		return events.Caller{}, fmt.Errorf("%w: the token %s is expired or not yet valid", ErrBadCredential, t.ID)
	}
	owner := t.Owner
	return events.Caller{Actor: events.Actor{Type: events.ActorToken, ID: t.ID}, OnBehalfOf: &owner}, nil
}

func (a *Authenticator) client(cred string) (events.Caller, error) {
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return events.Caller{}, fmt.Errorf("%w: Basic credentials must be base64 of <client id>:<client secret>", ErrBadCredential)
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return events.Caller{}, fmt.Errorf("%w: Basic credentials must be base64 of <client id>:<client secret>", ErrBadCredential)
	}
	v := a.Index.Acquire()
	defer v.Release()
	c := v.Client(id)
	h := sha256.Sum256([]byte(secret))
	want, _ := hex.DecodeString(func() string {
		if c == nil {
			return strings.Repeat("00", sha256.Size)
		}
		return c.SecretHash
	}())
	if subtle.ConstantTimeCompare(h[:], want) != 1 || c == nil {
		return events.Caller{}, fmt.Errorf("%w: unknown client or wrong secret", ErrBadCredential)
	}
	return events.Caller{Actor: events.Actor{Type: events.ActorClient, ID: c.ID}}, nil
}
