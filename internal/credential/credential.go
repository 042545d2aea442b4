// Package credential manages the bootstrap Super Admin token and
// authenticates bearer tokens. Tokens are random and stored only as SHA-256
// hashes; the clear token is written once, mode 0600, for the operator.
package credential

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
	"github.com/grantlog/grantlog/internal/index"
	"github.com/grantlog/grantlog/internal/principal"
)

// File names under the data directory.
const (
	TokenFile = "bootstrap-token"        // the clear token, for the operator (0600)
	HashFile  = "bootstrap-token.sha256" // what the server checks against (0600)
)

// TokenPrefix starts every Grantlog bearer token.
const TokenPrefix = "glt_"

// Bootstrap is the bootstrap Super Admin credential of a data directory.
type Bootstrap struct {
	hash [sha256.Size]byte
	// TokenPath is where the clear token was written.
	TokenPath string
	// Created is true when this call made the credential.
	Created bool
}

// LoadOrCreate returns the data directory's bootstrap credential, creating
// it on first start. The operator may delete the clear token file once it is
// stored somewhere safe; the hash is enough to authenticate.
func LoadOrCreate(dataDir string) (*Bootstrap, error) {
	b := &Bootstrap{TokenPath: filepath.Join(dataDir, TokenFile)}
	hashPath := filepath.Join(dataDir, HashFile)
	raw, err := os.ReadFile(hashPath)
	switch {
	case err == nil:
		h, derr := hex.DecodeString(strings.TrimSpace(string(raw)))
		if derr != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("credential: %s is corrupt; delete it and %s to make a new bootstrap token", hashPath, TokenFile)
		}
		copy(b.hash[:], h)
		return b, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("credential: %w", err)
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, fmt.Errorf("credential: random: %w", err)
	}
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	b.hash = sha256.Sum256([]byte(token))
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("credential: %w", err)
	}
	if err := writeFile(b.TokenPath, token+"\n"); err != nil {
		return nil, err
	}
	if err := writeFile(hashPath, hex.EncodeToString(b.hash[:])+"\n"); err != nil {
		return nil, err
	}
	b.Created = true
	return b, nil
}

func writeFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("credential: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		_ = f.Close()
		return fmt.Errorf("credential: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("credential: sync %s: %w", path, err)
	}
	return f.Close()
}

// Authenticate returns the caller a bearer token stands for.
func (b *Bootstrap) Authenticate(token string) (principal.Caller, bool) {
	h := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(h[:], b.hash[:]) == 1 {
		return principal.Bootstrap(), true
	}
	return principal.Caller{}, false
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

// Authenticator maps an Authorization header to a caller: the bootstrap
// token ("Bearer glt_..."), an API token ("Bearer gltk_...", acting as its
// owner within its own permissions) or an IAM client ("Basic" with client
// id and secret). Secrets are compared by hash, in constant time.
type Authenticator struct {
	Bootstrap *Bootstrap
	Index     Index
	// Now is the clock for token validity; default time.Now.
	Now func() time.Time
}

// Authenticate returns the caller of an Authorization header value. Errors
// wrap ErrNoCredential or ErrBadCredential and say how to fix the request.
func (a *Authenticator) Authenticate(header string) (principal.Caller, error) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(header), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case header == "":
		return principal.Caller{}, fmt.Errorf("%w: send Authorization: Bearer <token> (the bootstrap token is in the data directory's %s file)", ErrNoCredential, TokenFile)
	case strings.EqualFold(scheme, "Bearer") && strings.HasPrefix(cred, TokenPrefix):
		if c, ok := a.Bootstrap.Authenticate(cred); ok {
			return c, nil
		}
		return principal.Caller{}, fmt.Errorf("%w: the bearer token is not valid", ErrBadCredential)
	case strings.EqualFold(scheme, "Bearer") && strings.HasPrefix(cred, "gltk_"):
		return a.token(cred)
	case strings.EqualFold(scheme, "Basic"):
		return a.client(cred)
	}
	return principal.Caller{}, fmt.Errorf("%w: use Authorization: Bearer <token> or Basic <client id:secret>", ErrBadCredential)
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Authenticator) token(secret string) (principal.Caller, error) {
	v := a.Index.Acquire()
	defer v.Release()
	t := v.TokenByHash(sha256.Sum256([]byte(secret)))
	if t == nil {
		return principal.Caller{}, fmt.Errorf("%w: the token is unknown or revoked", ErrBadCredential)
	}
	if !t.Valid(a.now()) {
		return principal.Caller{}, fmt.Errorf("%w: the token %s is expired or not yet valid", ErrBadCredential, t.ID)
	}
	owner := t.Owner
	return principal.Caller{Actor: events.Actor{Type: events.ActorToken, ID: t.ID}, OnBehalfOf: &owner}, nil
}

func (a *Authenticator) client(cred string) (principal.Caller, error) {
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return principal.Caller{}, fmt.Errorf("%w: Basic credentials must be base64 of <client id>:<client secret>", ErrBadCredential)
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return principal.Caller{}, fmt.Errorf("%w: Basic credentials must be base64 of <client id>:<client secret>", ErrBadCredential)
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
		return principal.Caller{}, fmt.Errorf("%w: unknown client or wrong secret", ErrBadCredential)
	}
	return principal.Caller{Actor: events.Actor{Type: events.ActorClient, ID: c.ID}}, nil
}
