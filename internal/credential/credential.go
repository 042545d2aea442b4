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
