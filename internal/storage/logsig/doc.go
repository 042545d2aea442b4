// Package logsig authenticates what the command side writes: every event it
// appends, and every index snapshot, is signed with the log signing key, an
// ed25519 key held only by command nodes (in a JetStream KV bucket of the
// command side's NATS account, see EnsureKey). Its public half is announced
// in the event log itself (events.LogSigningKeyAdded), so every reader of
// the log learns the keys it must trust from the log it reads.
//
// An event's signature covers its subject and the SHA-256 of its exact
// bytes, under a domain separator; it travels in the Header message header
// as "<keyId>.<base64url signature>". A snapshot's signature covers its
// manifest under another domain separator, so neither can stand for the
// other.
//
// Tier 1 (storage). logsig may import tier 0 (events, perm) and the other
// storage packages, never a domain package, an edge, internal/server,
// client, cmd, examples or a test-support package. internal/arch enforces
// this.
package logsig
