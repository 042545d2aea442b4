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

// secretDomain separates the signatures keyedSecret makes from every
// other use of the log signing key.
const secretDomain = "grantlog.keyed-secret.v1"

// credentialSecret returns the secret of credential id (a fresh random
// id, or a stored one on a retry) that a command creates (prefix says
// which kind), and its hash. A command made with an Idempotency-Key gets a
// secret derived from its command id, the credential's id and the log
// signing key (an ed25519 signature is deterministic), so that a retry of
// the same request answers the same, working secret while no secret is
// ever stored; the same key used again once the window has passed makes a
// new credential id, so never an old secret. Any other command, or a
// service without a signing key, gets a random secret.
func (s *Service) credentialSecret(prefix string, m *Meta, id string) (secret, hash string) {
	if m.CommandID == "" || s.cfg.Signer == nil {
		return newSecret(prefix)
	}
	sig := s.cfg.Signer.SignEvent(secretDomain, []byte(prefix+DeriveCommandID(m.Caller, m.CommandID)+"/"+id))
	sum := sha256.Sum256([]byte(sig))
	secret = prefix + base64.RawURLEncoding.EncodeToString(sum[:])
	h := sha256.Sum256([]byte(secret))
	return secret, hex.EncodeToString(h[:])
}

// replayedSecret is the secret a retried credential-creating command
// answers: secret when it is the one stored (hash storedHash), else an
// error saying the credential exists and its secret was shown once.
func replayedSecret(kind, id, secret, hash, storedHash string) (string, error) {
	if hash == storedHash {
		return secret, nil
	}
	return "", errorf(ErrConflict, "secretShownOnce",
		"this Idempotency-Key already created %s %s, whose secret was shown once and cannot be shown again; "+
			"if it was lost, delete or revoke %s and create a new one", kind, id, id)
}
