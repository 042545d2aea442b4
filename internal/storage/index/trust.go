package index

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	gojson "github.com/goccy/go-json"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// What the index keeps for authenticating the log (see package projector):
// the log signing keys announced by events.LogSigningKeyAdded events it
// applied, under keySigningKeyPrefix, and, per namespace, the hash of the
// last event it accepted (NamespaceInfo.LastHash, with Chained set).

// keySigningKeyPrefix + key id holds a signingKeyRecord.
var keySigningKeyPrefix = []byte("\x00meta/signing-key/")

type signingKeyRecord struct {
	KeyID     string `json:"keyId"`
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"publicKey"`
	Revision  uint64 `json:"revision"`
}

// Refused is the payload of an event the projector refused (unsigned, badly
// signed, replayed, or of an unknown type on a stream without a signing
// key): Apply records its revision as applied and as its namespace's last
// revision (commands append after it), changes nothing else, and keeps the
// namespace's hash chain at the hash the event carries in Hash (the hash
// of the last event accepted in the namespace, not the refused event's).
type Refused struct {
	Reason string
}

// EventType implements events.Payload; a Refused event is never encoded.
func (Refused) EventType() string { return "grantlog.refused" }

// signingKeyAdded stores an announced signing key. The projector decided
// whether to trust it; the index records what it was given.
func (s *Store) signingKeyAdded(b *writer, ev *events.Event, p events.LogSigningKeyAdded) error {
	if _, err := logsig.ParsePublic(p.KeyID, p.Algorithm, p.PublicKey); err != nil {
		s.skip(ev, err.Error())
		return nil
	}
	raw, err := gojson.Marshal(signingKeyRecord{KeyID: p.KeyID, Algorithm: p.Algorithm, PublicKey: p.PublicKey, Revision: ev.Revision})
	if err != nil {
		return fmt.Errorf("index: encode signing key: %w", err)
	}
	if err := b.Set(append(append([]byte(nil), keySigningKeyPrefix...), p.KeyID...), raw, nil); err != nil {
		return fmt.Errorf("index: batch set: %w", err)
	}
	return nil
}

// SigningKeys returns the log signing keys of the events the index applied
// (none on a stream written before events were signed). It reads the
// database: call it between applies, not on a hot path. The map is a
// logsig.Keys, unnamed so that interfaces of public packages
// (projector.Index) can name it.
func (s *Store) SigningKeys() (map[string]ed25519.PublicKey, error) {
	keys := logsig.Keys{}
	err := s.scan(keySigningKeyPrefix, prefixEnd(keySigningKeyPrefix), func(iter *pebble.Iterator) error {
		var rec signingKeyRecord
		if err := gojson.Unmarshal(iter.Value(), &rec); err != nil {
			return fmt.Errorf("index: signing key %q: %w", iter.Key(), err)
		}
		pub, err := logsig.ParsePublic(rec.KeyID, rec.Algorithm, rec.PublicKey)
		if err != nil {
			return fmt.Errorf("index: %w", err)
		}
		keys[rec.KeyID] = pub
		return nil
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// SigningKey reports whether the view's index trusts the signing key id,
// and whether it trusts any key at all.
func (v View) SigningKey(id string) (trusted, anyKey bool, err error) {
	keys, err := v.s.SigningKeys()
	if err != nil {
		return false, false, err
	}
	_, trusted = keys[id]
	return trusted, len(keys) > 0, nil
}

// ErrChainUnknown is returned by ChainHead for a namespace whose index was
// written before the hash chain was recorded: the caller finds the hash of
// the event at revision rev in the stream.
var ErrChainUnknown = errors.New("index: the namespace's last hash was not recorded")

// ChainHead returns the hex SHA-256 of the last event the index accepted in
// namespace ns ("" when none), i.e. the prevHash of the namespace's next
// event. For an index written before hashes were recorded it returns
// ErrChainUnknown with the namespace's last revision.
func (s *Store) ChainHead(ns string) (hash string, rev uint64, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	info := s.mu.st.ns[ns]
	switch {
	case info == nil:
		return "", 0, nil
	case info.Chained || info.LastHash != "" || info.LastRevision == 0:
		return info.LastHash, info.LastRevision, nil
	default:
		return "", info.LastRevision, ErrChainUnknown
	}
}
