package command

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// Secret prefixes.
const (
	ClientSecretPrefix = "glc_"
	TokenPrefix        = "gltk_"
)

func newSecret(prefix string) (secret, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(secret))
	return secret, hex.EncodeToString(h[:])
}
