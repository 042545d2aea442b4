package logsig

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultBucket is the JetStream KV bucket of the private signing key. It
// lives in the command side's NATS account (the event stream is in a store
// account of its own): only command nodes can read or write it.
const DefaultBucket = "GRANTLOG_KEYS"

// kvKey is the bucket key of the current signing key.
const kvKey = "log-signing-key"

// stored is the bucket value of a key.
type stored struct {
	KeyID     string `json:"keyId"`
	Algorithm string `json:"algorithm"`
	// Seed is the ed25519 private key's 32-byte seed, unpadded base64url.
	Seed string `json:"seed"`
}

// EnsureKey returns the log signing key kept in bucket (DefaultBucket when
// ""), creating the bucket (file storage, history 1) and generating the key
// when there is none; created says it did. Concurrent callers on several
// nodes agree on one key (the bucket's create is atomic). js must be the
// command side's JetStream context.
func EnsureKey(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (key *Key, created bool, err error) {
	if bucket == "" {
		bucket = DefaultBucket
	}
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: "Grantlog log signing key (private; command nodes only)",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    max(replicas, 1),
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, bucket)
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("logsig: key bucket %s: %w", bucket, err)
	}
	for range 3 {
		e, err := kv.Get(ctx, kvKey)
		if err == nil {
			k, err := decodeStored(e.Value())
			if err != nil {
				return nil, false, fmt.Errorf("logsig: key bucket %s: %w", bucket, err)
			}
			return k, false, nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, false, fmt.Errorf("logsig: key bucket %s: %w", bucket, err)
		}
		k, err := Generate()
		if err != nil {
			return nil, false, err
		}
		raw, err := json.Marshal(stored{KeyID: k.ID(), Algorithm: Algorithm, Seed: base64.RawURLEncoding.EncodeToString(k.Seed())})
		if err != nil {
			return nil, false, err
		}
		if _, err := kv.Create(ctx, kvKey, raw); err == nil {
			return k, true, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, false, fmt.Errorf("logsig: store the key in %s: %w", bucket, err)
		}
		// Another node stored one first: use it.
	}
	return nil, false, fmt.Errorf("logsig: key bucket %s: could not read or create the key", bucket)
}

func decodeStored(raw []byte) (*Key, error) {
	var s stored
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("malformed key record: %w", err)
	}
	if s.Algorithm != Algorithm {
		return nil, fmt.Errorf("key %s has algorithm %q, want %q", s.KeyID, s.Algorithm, Algorithm)
	}
	seed, err := base64.RawURLEncoding.DecodeString(s.Seed)
	if err != nil {
		return nil, fmt.Errorf("key %s: malformed seed", s.KeyID)
	}
	k, err := FromSeed(seed)
	if err != nil {
		return nil, err
	}
	if k.ID() != s.KeyID {
		return nil, fmt.Errorf("key record says id %s, its seed gives %s", s.KeyID, k.ID())
	}
	return k, nil
}

// LoadKey returns the log signing key kept in bucket (DefaultBucket when
// ""), or nil when there is no bucket or no key: it creates nothing (tools
// and tests that append as a command node would).
func LoadKey(ctx context.Context, js jetstream.JetStream, bucket string) (*Key, error) {
	if bucket == "" {
		bucket = DefaultBucket
	}
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("logsig: key bucket %s: %w", bucket, err)
	}
	e, err := kv.Get(ctx, kvKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("logsig: key bucket %s: %w", bucket, err)
	}
	k, err := decodeStored(e.Value())
	if err != nil {
		return nil, fmt.Errorf("logsig: key bucket %s: %w", bucket, err)
	}
	return k, nil
}
