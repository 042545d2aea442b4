package logsig

import (
	"crypto/ed25519"
	"crypto/sha256"
	"sync"
)

// Signed remembers the last events a key signed in this process, so that
// the node that signed an event need not check the signature again when
// its projector reads the event back from the stream (an ed25519
// verification costs ~50 µs, on every command's path to being applied).
//
// It vouches for a signature only when the event read back is exactly the
// one signed (the same subject and SHA-256 of its bytes: the signature is
// then valid by construction) and the stream trusts this very key (the
// same public key, not only the same key id); anything else is verified
// as before. It holds the signatures, subjects and hashes of at most
// SignedRemembered events, never a private key.
//
// Safe for concurrent use. The zero value is unusable: use NewSigned.
type Signed struct {
	key *Key
	mu  sync.Mutex
	m   map[string]signedEvent // signature → what it signed
	// ring holds the signatures in m, oldest first from next.
	ring []string
	next int
}

type signedEvent struct {
	subject string
	hash    [32]byte
}

// SignedRemembered bounds the events a Signed remembers: far more than
// are ever between an append and its being applied.
const SignedRemembered = 4096

// NewSigned returns a Signed of key.
func NewSigned(key *Key) *Signed {
	return &Signed{key: key, m: make(map[string]signedEvent, SignedRemembered), ring: make([]string, SignedRemembered)}
}

// ID is the key's id.
func (s *Signed) ID() string { return s.key.ID() }

// PublicString is the key's public half, base64url.
func (s *Signed) PublicString() string { return s.key.PublicString() }

// SignEvent signs an event as Key.SignEvent does, and remembers it.
func (s *Signed) SignEvent(subject string, data []byte) string {
	hash := sha256.Sum256(data)
	sig := s.key.SignEventHash(subject, hash)
	s.mu.Lock()
	if old := s.ring[s.next]; old != "" {
		delete(s.m, old)
	}
	s.ring[s.next] = sig
	s.next = (s.next + 1) % len(s.ring)
	s.m[sig] = signedEvent{subject: subject, hash: hash}
	s.mu.Unlock()
	return sig
}

// Vouches reports whether sig is this key's signature of exactly an
// event with subject and hash, made in this process, and trusted trusts
// this key: then trusted.VerifyEvent(subject, hash, sig) would return nil.
// A nil Signed vouches for nothing.
func (s *Signed) Vouches(trusted map[string]ed25519.PublicKey, subject string, hash [32]byte, sig string) bool {
	if s == nil {
		return false
	}
	pub, ok := trusted[SignerOf(sig)]
	if !ok || !pub.Equal(s.key.Public()) {
		return false
	}
	s.mu.Lock()
	ev, ok := s.m[sig]
	s.mu.Unlock()
	return ok && ev.subject == subject && ev.hash == hash
}
