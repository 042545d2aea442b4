package logsig_test

import (
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/storage/logsig"
)

var (
	subject = "grantlog.ev.game1.user.alice"
	data    = []byte(`{"eventId":"e1","type":"user.role_assigned.v1","namespace":"game1","payload":{"userId":"alice"}}`)
)

func TestEventSignature(t *testing.T) {
	k, err := logsig.Generate()
	require.NoError(t, err)
	keys := logsig.Keys{k.ID(): k.Public()}
	sig := k.SignEvent(subject, data)
	assert.True(t, strings.HasPrefix(sig, k.ID()+"."))
	require.NoError(t, keys.VerifyEvent(subject, sha256.Sum256(data), sig))

	assert.ErrorIs(t, keys.VerifyEvent(subject, sha256.Sum256(data), ""), logsig.ErrUnsigned)
	assert.ErrorIs(t, keys.VerifyEvent(subject, sha256.Sum256(data), "nodot"), logsig.ErrMalformed)
	assert.ErrorIs(t, keys.VerifyEvent(subject+"x", sha256.Sum256(data), sig), logsig.ErrBadSignature)
	assert.ErrorIs(t, keys.VerifyEvent(subject, sha256.Sum256(append(data, ' ')), sig), logsig.ErrBadSignature)
	other, err := logsig.Generate()
	require.NoError(t, err)
	assert.ErrorIs(t, keys.VerifyEvent(subject, sha256.Sum256(data), other.SignEvent(subject, data)), logsig.ErrUnknownKey)
	// A snapshot signature is not an event signature, nor the reverse.
	assert.ErrorIs(t, keys.VerifySnapshot(data, sig), logsig.ErrBadSignature)
	assert.ErrorIs(t, keys.VerifyEvent(subject, sha256.Sum256(data), k.SignSnapshot(data)), logsig.ErrBadSignature)
	require.NoError(t, keys.VerifySnapshot(data, k.SignSnapshot(data)))
	for _, err := range []error{logsig.ErrUnsigned, logsig.ErrMalformed, logsig.ErrUnknownKey, logsig.ErrBadSignature} {
		assert.ErrorIs(t, err, logsig.ErrUnauthenticated)
	}
}

func TestParsePublic(t *testing.T) {
	k, err := logsig.Generate()
	require.NoError(t, err)
	pub, err := logsig.ParsePublic(k.ID(), logsig.Algorithm, k.PublicString())
	require.NoError(t, err)
	assert.Equal(t, k.Public(), pub)
	_, err = logsig.ParsePublic("0011223344556677", logsig.Algorithm, k.PublicString())
	require.Error(t, err, "an id that is not the key's")
	_, err = logsig.ParsePublic(k.ID(), "rsa", k.PublicString())
	require.Error(t, err)
	_, err = logsig.ParsePublic(k.ID(), logsig.Algorithm, "short")
	require.Error(t, err)
	again, err := logsig.FromSeed(k.Seed())
	require.NoError(t, err)
	assert.Equal(t, k.ID(), again.ID())
}

// BenchmarkSignEvent is the command side's cost per appended event.
func BenchmarkSignEvent(b *testing.B) {
	k, err := logsig.Generate()
	require.NoError(b, err)
	for b.Loop() {
		_ = k.SignEvent(subject, data)
	}
}

// BenchmarkVerifyEvent is a projector's cost per event it must verify
// (the SHA-256 of the event is computed by the projector anyway).
func BenchmarkVerifyEvent(b *testing.B) {
	k, err := logsig.Generate()
	require.NoError(b, err)
	keys := logsig.Keys{k.ID(): k.Public()}
	sig := k.SignEvent(subject, data)
	h := sha256.Sum256(data)
	for b.Loop() {
		if err := keys.VerifyEvent(subject, h, sig); err != nil {
			b.Fatal(err)
		}
	}
}
