package index

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encodeKey rebuilds the key of a parsed key.
func encodeKey(pk parsedKey) []byte {
	switch pk.kind {
	case kindInfo:
		return nsInfoKey(pk.ns)
	case kindRole:
		return roleKey(pk.ns, pk.a)
	case kindAssignment:
		return assignmentKey(pk.ns, pk.a, pk.b)
	case kindMember:
		return memberKey(pk.ns, pk.a, pk.b)
	}
	return nil
}

func TestKeyRoundTrip(t *testing.T) {
	tests := []struct {
		key  []byte
		want parsedKey
		text string
	}{
		{nsInfoKey("foo"), parsedKey{ns: "foo", kind: kindInfo}, "n/foo/i"},
		{roleKey("_platform", "r-1"), parsedKey{ns: "_platform", kind: kindRole, a: "r-1"}, "n/_platform/r/r-1"},
		{assignmentKey("studio1-game1", "u1", "r1"), parsedKey{ns: "studio1-game1", kind: kindAssignment, a: "u1", b: "r1"}, "n/studio1-game1/a/u1/r1"},
		{memberKey("foo", "r1", "u_1"), parsedKey{ns: "foo", kind: kindMember, a: "r1", b: "u_1"}, "n/foo/m/r1/u_1"},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			assert.Equal(t, tc.text, string(tc.key), "key layout is documented in doc.go")
			pk, err := parseKey(tc.key)
			require.NoError(t, err)
			assert.Equal(t, tc.want, pk)
			assert.Equal(t, tc.key, encodeKey(pk))
		})
	}
}

func TestKeyPrefixes(t *testing.T) {
	assert.True(t, bytes.HasPrefix(assignmentKey("foo", "u1", "r1"), assignmentPrefix("foo", "u1")))
	assert.False(t, bytes.HasPrefix(assignmentKey("foo", "u10", "r1"), assignmentPrefix("foo", "u1")))
	assert.True(t, bytes.HasPrefix(memberKey("foo", "r1", "u1"), memberPrefix("foo", "r1")))
	assert.False(t, bytes.HasPrefix(memberKey("foo", "r10", "u1"), memberPrefix("foo", "r1")))
	assert.True(t, bytes.HasPrefix(memberKey("foo", "r1", "u1"), kindPrefix("foo", kindMember)))
	assert.True(t, bytes.HasPrefix(nsInfoKey("foo"), nsPrefix("foo")))
	assert.False(t, bytes.HasPrefix(nsInfoKey("foo-bar"), nsPrefix("foo")))
	// Builders never alias each other's buffers.
	p := memberPrefix("foo", "r1")
	k1, k2 := memberKey("foo", "r1", "aa"), memberKey("foo", "r1", "bb")
	assert.Equal(t, "n/foo/m/r1/aa", string(k1))
	assert.Equal(t, "n/foo/m/r1/bb", string(k2))
	assert.Equal(t, "n/foo/m/r1/", string(p))
	// Metadata keys sort outside the namespace space.
	for _, k := range [][]byte{keyApplied, keyLayout, keyPebbleFormat} {
		_, err := parseKey(k)
		require.ErrorIs(t, err, errBadKey)
		assert.Negative(t, bytes.Compare(k, []byte("n/")))
	}
}

func TestParseKeyRejects(t *testing.T) {
	for _, k := range []string{
		"", "n", "n/", "n//i", "x/foo/i", "n/foo", "n/foo/", "n/foo/i/", "n/foo/ix",
		"n/foo/r", "n/foo/r/", "n/foo/rx", "n/foo/r/a/b", "n/foo/x/a",
		"n/foo/a", "n/foo/a/", "n/foo/a/u", "n/foo/a/u/", "n/foo/a//r", "n/foo/a/u/r/x",
		"n/foo/m/r", "n/foo/m/r/", "n/foo/m/r/u/x",
	} {
		_, err := parseKey([]byte(k))
		assert.ErrorIs(t, err, errBadKey, "parseKey(%q)", k)
	}
}

func TestPrefixEnd(t *testing.T) {
	assert.Equal(t, []byte("n0"), prefixEnd([]byte("n/")))
	assert.Equal(t, []byte("ac"), prefixEnd([]byte("ab")))
	assert.Equal(t, []byte("b"), prefixEnd([]byte("a\xff\xff")))
	assert.Nil(t, prefixEnd([]byte("\xff\xff")))
	assert.Nil(t, prefixEnd(nil))
	p := []byte("ab")
	_ = prefixEnd(p)
	assert.Equal(t, []byte("ab"), p, "prefixEnd does not modify its argument")

	// Property: k has prefix p exactly when p <= k < prefixEnd(p).
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, 1, 'a', 'b', 0xfe, 0xff}
	randBytes := func(maxLen int) []byte {
		b := make([]byte, rng.IntN(maxLen+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return b
	}
	for range 20000 {
		p, k := randBytes(3), randBytes(5)
		if rng.IntN(2) == 0 {
			k = append(bytes.Clone(p), k...)
		}
		end := prefixEnd(p)
		in := bytes.Compare(p, k) <= 0 && (end == nil || bytes.Compare(k, end) < 0)
		require.Equal(t, bytes.HasPrefix(k, p), in, "p=%q k=%q end=%q", p, k, end)
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add([]byte("n/foo/i"))
	f.Add([]byte("n/_platform/r/r1"))
	f.Add([]byte("n/foo/a/u1/r1"))
	f.Add([]byte("n/foo/m/r1/u1"))
	f.Add([]byte("n/foo/a//r1"))
	f.Add([]byte("n//i"))
	f.Add([]byte("\x00meta/applied"))
	f.Fuzz(func(t *testing.T, k []byte) {
		pk, err := parseKey(k)
		if err != nil {
			require.ErrorIs(t, err, errBadKey)
			return
		}
		require.Contains(t, []byte{kindInfo, kindRole, kindAssignment, kindMember}, pk.kind)
		require.NotEmpty(t, pk.ns)
		require.Equal(t, k, encodeKey(pk), "%+v", pk)
	})
}
