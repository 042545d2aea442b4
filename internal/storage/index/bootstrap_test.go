package index

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
)

func hashOf(secret string) (string, [32]byte) {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:]), h
}

func bootstrapIssued(id, secret string, replaces ...string) events.TokenIssued {
	hash, _ := hashOf(secret)
	return events.TokenIssued{TokenID: id, Name: "bootstrap", Owner: legacyBootstrapIssuer, Issuer: legacyBootstrapIssuer,
		Permissions: []events.Permission{ep("*", 15)}, SecretHash: hash, Bootstrap: true, Replaces: replaces}
}

func tokenBy(id, secret string, issuer events.Actor) events.TokenIssued {
	hash, _ := hashOf(secret)
	return events.TokenIssued{TokenID: id, Name: id, Owner: legacyBootstrapIssuer, Issuer: issuer,
		Permissions: []events.Permission{ep("NAMESPACE:foo:*", 2)}, SecretHash: hash}
}

func tok(id string) events.Actor { return events.Actor{Type: events.ActorToken, ID: id} }

// TestBootstrapCredentialLifecycle: a bootstrap credential is found by its
// hash; rotating it (one event) revokes the old one together with every
// token issued by it, through tokens it issued, and by the credential
// before it lived in the log; a token issued later by one of them is
// ignored; the revoked credential is remembered across a reopen.
func TestBootstrapCredentialLifecycle(t *testing.T) {
	ts := newDiskStore(t)
	var l log
	ts.apply(t,
		l.next(plat, bootstrapIssued("b1", "glt_one")),
		l.next("foo", tokenBy("legacy", "gltk_legacy", legacyBootstrapIssuer)),
		l.next("foo", tokenBy("t1", "gltk_t1", tok("b1"))),
		l.next("bar", tokenBy("t2", "gltk_t2", tok("t1"))),
		l.next("foo", tokenBy("other", "gltk_other", events.Actor{Type: events.ActorUser, ID: "alice"})),
	)
	v := ts.Acquire()
	_, h1 := hashOf("glt_one")
	require.NotNil(t, v.TokenByHash(h1))
	assert.True(t, v.TokenByHash(h1).Bootstrap)
	assert.True(t, v.HadBootstrap())
	assert.Equal(t, []string{"legacy", "t1", "t2"}, v.BootstrapDependents("b1"))
	v.Release()

	ts.apply(t, l.next(plat, bootstrapIssued("b2", "glt_two", "b1")))
	rotated := l.rev
	ts.apply(t, l.next("foo", tokenBy("late", "gltk_late", tok("t1"))))
	for i := range 2 {
		st := ts
		if i == 1 {
			st = ts.reopen(t)
		}
		v := st.Acquire()
		assert.Nil(t, v.TokenByHash(h1), "the old bootstrap credential is revoked")
		for _, id := range []string{"b1", "legacy", "t1", "t2", "late"} {
			assert.Nil(t, v.Token(id), "%s ended with the old bootstrap credential", id)
		}
		assert.NotNil(t, v.Token("other"), "a token issued by someone else stays")
		_, h2 := hashOf("glt_two")
		require.NotNil(t, v.TokenByHash(h2))
		creds := v.BootstrapCredentials()
		require.Len(t, creds, 2)
		assert.Equal(t, "b1", creds[0].ID)
		assert.Equal(t, rotated, creds[0].RevokedRevision)
		assert.Equal(t, []string{"legacy", "t1", "t2"}, creds[0].Cascaded)
		live := v.LiveBootstrap()
		require.Len(t, live, 1)
		assert.Equal(t, "b2", live[0].ID)
		v.Release()
		st.apply(t, l.next("foo", tokenBy("later", "gltk_later"+string(rune('0'+i)), tok("t2"))))
		v = st.Acquire()
		assert.Nil(t, v.Token("later"), "issued by a token that ended with the old credential")
		v.Release()
	}
}

// TestBootstrapRevokedWithoutReplacement: token.revoked.v1 of the bootstrap
// credential ends it and its tokens; the stream still "had" one.
func TestBootstrapRevokedWithoutReplacement(t *testing.T) {
	ts := newMemStore(t)
	var l log
	ts.apply(t,
		l.next(plat, bootstrapIssued("b1", "glt_one")),
		l.next("foo", tokenBy("t1", "gltk_t1", tok("b1"))),
		l.next(plat, events.TokenRevoked{TokenID: "b1"}),
	)
	v := ts.Acquire()
	defer v.Release()
	_, h1 := hashOf("glt_one")
	assert.Nil(t, v.TokenByHash(h1))
	assert.Nil(t, v.Token("t1"))
	assert.True(t, v.HadBootstrap())
	assert.Empty(t, v.LiveBootstrap())
}

// TestBootstrapOnlyInPlatform: a bootstrap credential outside the platform
// namespace, or a rotation naming an ordinary token, changes nothing.
func TestBootstrapOnlyInPlatform(t *testing.T) {
	ts := newMemStore(t)
	var l log
	ts.apply(t,
		l.next("foo", bootstrapIssued("b1", "glt_one")),
		l.next("foo", tokenBy("t1", "gltk_t1", events.Actor{Type: events.ActorUser, ID: "alice"})),
		l.next(plat, bootstrapIssued("b2", "glt_two", "t1")),
	)
	v := ts.Acquire()
	defer v.Release()
	assert.Nil(t, v.Token("b1"))
	assert.NotNil(t, v.Token("t1"), "replaces names bootstrap credentials only")
	require.Len(t, v.LiveBootstrap(), 1)
}
