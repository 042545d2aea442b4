package logsig

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Header is the message header that carries an event's signature.
const Header = "Grantlog-Sig"

// Algorithm is the only signature algorithm: ed25519.
const Algorithm = "ed25519"

// Domain separators: what a signature is of.
const (
	domainEvent    = "grantlog-event-v1\x00"
	domainSnapshot = "grantlog-snapshot-v1\x00"
)

// Errors of verification. Each wraps ErrUnauthenticated.
var (
	// ErrUnauthenticated is what every verification failure wraps.
	ErrUnauthenticated = errors.New("not authenticated")
	// ErrUnsigned: there is no signature.
	ErrUnsigned = fmt.Errorf("%w: no signature", ErrUnauthenticated)
	// ErrMalformed: the signature is not "<keyId>.<base64url signature>".
	ErrMalformed = fmt.Errorf("%w: malformed signature", ErrUnauthenticated)
	// ErrUnknownKey: the signature names a key the log never announced.
	ErrUnknownKey = fmt.Errorf("%w: signed by a key the event log does not trust", ErrUnauthenticated)
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = fmt.Errorf("%w: signature does not verify", ErrUnauthenticated)
)

// Key is a log signing key (private).
type Key struct {
	id   string
	priv ed25519.PrivateKey
}

// Generate returns a new random key.
func Generate() (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("logsig: generate key: %w", err)
	}
	return FromSeed(priv.Seed())
}

// FromSeed returns the key of an ed25519 seed (32 bytes).
func FromSeed(seed []byte) (*Key, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("logsig: seed of %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub, _ := priv.Public().(ed25519.PublicKey)
	return &Key{id: KeyID(pub), priv: priv}, nil
}

// ID is the key's id: KeyID of its public half.
func (k *Key) ID() string { return k.id }

// Public is the key's public half.
func (k *Key) Public() ed25519.PublicKey {
	pub, _ := k.priv.Public().(ed25519.PublicKey)
	return pub
}

// PublicString is the public half as events.LogSigningKeyAdded carries it
// (unpadded base64url).
func (k *Key) PublicString() string { return EncodePublic(k.Public()) }

// Seed is the private key's seed (for storing it).
func (k *Key) Seed() []byte { return k.priv.Seed() }

// SignEvent returns the Header value of an event with subject and the exact
// bytes data.
func (k *Key) SignEvent(subject string, data []byte) string {
	return k.SignEventHash(subject, sha256.Sum256(data))
}

// SignEventHash is SignEvent given the SHA-256 of the event's bytes.
func (k *Key) SignEventHash(subject string, hash [32]byte) string {
	sig := ed25519.Sign(k.priv, eventMessage(subject, hash))
	return k.id + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// SignSnapshot returns the signature of a snapshot manifest (its exact
// bytes), in the same "<keyId>.<base64url>" form.
func (k *Key) SignSnapshot(manifest []byte) string {
	sig := ed25519.Sign(k.priv, snapshotMessage(manifest))
	return k.id + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func eventMessage(subject string, hash [32]byte) []byte {
	m := make([]byte, 0, len(domainEvent)+len(subject)+1+len(hash))
	m = append(m, domainEvent...)
	m = append(m, subject...)
	m = append(m, 0)
	return append(m, hash[:]...)
}

func snapshotMessage(manifest []byte) []byte {
	m := make([]byte, 0, len(domainSnapshot)+len(manifest))
	m = append(m, domainSnapshot...)
	return append(m, manifest...)
}

// KeyID is the id of a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// EncodePublic encodes a public key as unpadded base64url.
func EncodePublic(pub ed25519.PublicKey) string { return base64.RawURLEncoding.EncodeToString(pub) }

// ParsePublic parses a public key of events.LogSigningKeyAdded and checks
// that id is its KeyID.
func ParsePublic(id, algorithm, s string) (ed25519.PublicKey, error) {
	if algorithm != Algorithm {
		return nil, fmt.Errorf("logsig: key %s: algorithm %q, want %q", id, algorithm, Algorithm)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("logsig: key %s: public key is not %d bytes of unpadded base64url", id, ed25519.PublicKeySize)
	}
	pub := ed25519.PublicKey(raw)
	if KeyID(pub) != id {
		return nil, fmt.Errorf("logsig: key id %s is not the id of its public key (%s)", id, KeyID(pub))
	}
	return pub, nil
}

// Keys are trusted public keys by id. The zero value trusts nothing.
type Keys map[string]ed25519.PublicKey

// SignerOf returns the key id a signature names ("" when it is malformed).
func SignerOf(sig string) string {
	id, _, ok := strings.Cut(sig, ".")
	if !ok {
		return ""
	}
	return id
}

// VerifyEvent checks sig (a Header value) of an event with subject whose
// bytes hash to hash. It returns nil or an error wrapping one of this
// package's errors.
func (ks Keys) VerifyEvent(subject string, hash [32]byte, sig string) error {
	return ks.verify(sig, eventMessage(subject, hash))
}

// VerifySnapshot checks sig of a snapshot manifest.
func (ks Keys) VerifySnapshot(manifest []byte, sig string) error {
	return ks.verify(sig, snapshotMessage(manifest))
}

func (ks Keys) verify(sig string, msg []byte) error {
	if sig == "" {
		return ErrUnsigned
	}
	id, b64, ok := strings.Cut(sig, ".")
	if !ok || id == "" {
		return ErrMalformed
	}
	pub, ok := ks[id]
	if !ok {
		return fmt.Errorf("%w (key %s)", ErrUnknownKey, id)
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return ErrMalformed
	}
	if !ed25519.Verify(pub, msg, raw) {
		return fmt.Errorf("%w (key %s)", ErrBadSignature, id)
	}
	return nil
}

// Clone returns a copy of ks.
func (ks Keys) Clone() Keys {
	out := make(Keys, len(ks))
	for id, k := range ks {
		out[id] = k
	}
	return out
}
