package logsig_test

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// TestSignedVouchesOnlyForWhatItSigned: a Signed vouches for exactly the
// events it signed, under a trust that holds its very key; anything else
// goes to verification, which a vouch never contradicts.
func TestSignedVouchesOnlyForWhatItSigned(t *testing.T) {
	key, err := logsig.Generate()
	require.NoError(t, err)
	other, err := logsig.Generate()
	require.NoError(t, err)
	s := logsig.NewSigned(key)
	require.Equal(t, key.ID(), s.ID())
	require.Equal(t, key.PublicString(), s.PublicString())
	trusted := logsig.Keys{key.ID(): key.Public()}

	data := []byte(`{"event":1}`)
	sig := s.SignEvent("grantlog.ev.game1.user._", data)
	require.Equal(t, key.SignEvent("grantlog.ev.game1.user._", data), sig, "the same signature as the key's own")
	hash := sha256.Sum256(data)
	require.NoError(t, trusted.VerifyEvent("grantlog.ev.game1.user._", hash, sig))
	assert.True(t, s.Vouches(trusted, "grantlog.ev.game1.user._", hash, sig))

	// Another subject, other bytes, another trust, another signature.
	assert.False(t, s.Vouches(trusted, "grantlog.ev.game2.user._", hash, sig), "moved to another namespace")
	assert.False(t, s.Vouches(trusted, "grantlog.ev.game1.user._", sha256.Sum256([]byte(`{"event":2}`)), sig), "other bytes")
	assert.False(t, s.Vouches(logsig.Keys{}, "grantlog.ev.game1.user._", hash, sig), "the stream does not trust the key")
	assert.False(t, s.Vouches(logsig.Keys{key.ID(): other.Public()}, "grantlog.ev.game1.user._", hash, sig),
		"a trusted key with the same id but another public key")
	foreign := other.SignEvent("grantlog.ev.game1.user._", data)
	assert.False(t, s.Vouches(logsig.Keys{other.ID(): other.Public(), key.ID(): key.Public()}, "grantlog.ev.game1.user._", hash, foreign),
		"signed by another key")
	var none *logsig.Signed
	assert.False(t, none.Vouches(trusted, "grantlog.ev.game1.user._", hash, sig), "a nil Signed")

	// It remembers the last SignedRemembered events only.
	for i := range logsig.SignedRemembered {
		s.SignEvent("grantlog.ev.game1.user._", fmt.Appendf(nil, `{"n":%d}`, i))
	}
	assert.False(t, s.Vouches(trusted, "grantlog.ev.game1.user._", hash, sig), "forgotten")
	require.NoError(t, trusted.VerifyEvent("grantlog.ev.game1.user._", hash, sig), "and still verifies")
	last := fmt.Appendf(nil, `{"n":%d}`, logsig.SignedRemembered-1)
	assert.True(t, s.Vouches(trusted, "grantlog.ev.game1.user._", sha256.Sum256(last),
		key.SignEvent("grantlog.ev.game1.user._", last)))
}
