package index

import (
	"crypto/ed25519"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// TestSigningKeysAndRefusedEvents: announced keys are kept across reopen;
// a refused event moves the applied revision and its namespace's last
// revision (commands append after it) but keeps the namespace's chain.
func TestSigningKeysAndRefusedEvents(t *testing.T) {
	ts := newDiskStore(t)
	k, err := logsig.Generate()
	require.NoError(t, err)
	key := events.Event{Revision: 1, Hash: [32]byte{1}, Envelope: events.Envelope{Namespace: events.PlatformNamespace, Type: events.TypeLogSigningKeyAdded},
		Data: events.LogSigningKeyAdded{KeyID: k.ID(), Algorithm: logsig.Algorithm, PublicKey: k.PublicString()}}
	genuine := events.Event{Revision: 2, Hash: [32]byte{2}, Envelope: events.Envelope{Namespace: "g1", Type: events.TypeNamespaceCreated},
		Data: events.NamespaceCreated{Namespace: "g1"}}
	refused := events.Event{Revision: 3, Hash: genuine.Hash, Envelope: events.Envelope{Namespace: "g1", Type: events.TypeUserRoleAssigned},
		Data: Refused{Reason: "no signature"}}
	nowhere := events.Event{Revision: 4, Data: Refused{Reason: "no namespace"}}
	ts.apply(t, key, genuine, refused, nowhere)
	ts = ts.reopen(t)

	keys, err := ts.SigningKeys()
	require.NoError(t, err)
	assert.Equal(t, map[string]ed25519.PublicKey{k.ID(): k.Public()}, keys)
	assert.EqualValues(t, 4, ts.Applied())
	h, rev, err := ts.ChainHead("g1")
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(genuine.Hash[:]), h, "the refused event is not part of the chain")
	assert.EqualValues(t, 3, rev, "but commands append after it")
	v := ts.Acquire()
	_, ok := v.Namespace("")
	trusted, anyKey, err := v.SigningKey(k.ID())
	v.Release()
	require.NoError(t, err)
	assert.False(t, ok, "a refused event with no namespace creates none")
	assert.True(t, trusted)
	assert.True(t, anyKey)

	// An index written before the chain was recorded says so.
	ts.mu.st.ns["old"] = &NamespaceInfo{Name: "old", LastRevision: 9}
	_, rev, err = ts.ChainHead("old")
	require.ErrorIs(t, err, ErrChainUnknown)
	assert.EqualValues(t, 9, rev)
}
