package events

// TypeLogSigningKeyAdded announces a log signing key: the public half of
// the ed25519 key command nodes sign every event (and every index snapshot)
// with. Namespace: PlatformNamespace; kind KindLog; aggregate: KeyID.
//
// Trust: the first such event of a stream is trusted on first use, and
// must be signed by the key it announces; every later one must be signed by
// a key already announced. From the first one on, a node applies only
// events signed by an announced key whose prevHash is the hash of the last
// event it applied in that namespace (see package projector).
const TypeLogSigningKeyAdded = "log.signing_key_added.v1"

// KindLog is the subject kind of the log's own events (signing keys).
const KindLog = "log"

// LogSigningKeyAdded is the payload of TypeLogSigningKeyAdded.
type LogSigningKeyAdded struct {
	// KeyID is the key's id: the first 8 bytes of the SHA-256 of the
	// public key, in hex. Signatures name their key by it.
	KeyID string `json:"keyId"`
	// Algorithm is "ed25519".
	Algorithm string `json:"algorithm"`
	// PublicKey is the 32-byte public key, unpadded base64url.
	PublicKey string `json:"publicKey"`
}

// EventType implements Payload.
func (LogSigningKeyAdded) EventType() string { return TypeLogSigningKeyAdded }
