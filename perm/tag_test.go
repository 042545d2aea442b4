package perm_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/perm"
)

func TestCanonicalTagGolden(t *testing.T) {
	cases := loadTagCases(t)
	require.GreaterOrEqual(t, len(cases), 40)
	for _, c := range cases {
		got, err := perm.CanonicalTag(c.input)
		if c.ok {
			t.Run(c.where, func(t *testing.T) {
				require.NoError(t, err)
				assert.Equal(t, c.want, got)
				// ParseRequired accepts every valid tag.
				_, err := perm.ParseRequired(c.input, perm.Read, perm.RequiredBinding{Namespace: "ns", UserID: "u"})
				require.NoError(t, err)
			})
			continue
		}
		require.Error(t, err, c.where)
		assert.ErrorIs(t, err, perm.ErrInvalidTag, c.where)
		var te *perm.TagError
		if assert.ErrorAs(t, err, &te, c.where) {
			assert.Equal(t, c.input, te.Tag, c.where)
			assert.GreaterOrEqual(t, te.Pos, -1, c.where)
			assert.LessOrEqual(t, te.Pos, len(c.input), c.where)
		}
		assert.Contains(t, err.Error(), c.want, c.where)
		// ParseRequired rejects it the same way.
		_, rerr := perm.ParseRequired(c.input, perm.Read, perm.RequiredBinding{Namespace: "ns", UserID: "u"})
		if assert.Error(t, rerr, c.where) {
			assert.Equal(t, err.Error(), rerr.Error(), c.where)
		}
	}
}

func TestTagErrorMessage(t *testing.T) {
	_, err := perm.CanonicalTag("A::B")
	require.EqualError(t, err, `perm: invalid resource tag "A::B": empty segment at byte 2 (segments are separated by single colons, with none at the start or end)`)

	long := strings.Repeat("a", 100) + "::"
	_, err = perm.CanonicalTag(long)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"`+strings.Repeat("a", 80)+`"...: empty segment at byte 101`)
}

func TestTagLimits(t *testing.T) {
	seg32 := strings.TrimSuffix(strings.Repeat("a:", perm.MaxSegments), ":")
	got, err := perm.CanonicalTag(seg32)
	require.NoError(t, err)
	assert.Equal(t, seg32, got)
	r, err := perm.ParseRequired(seg32, perm.Read, perm.RequiredBinding{})
	require.NoError(t, err)
	assert.Equal(t, seg32, r.String())

	seg33 := seg32 + ":a"
	for _, parse := range []func(string) error{
		func(s string) error { _, err := perm.CanonicalTag(s); return err },
		func(s string) error { _, err := perm.ParseRequired(s, perm.Read, perm.RequiredBinding{}); return err },
	} {
		err = parse(seg33)
		require.ErrorIs(t, err, perm.ErrInvalidTag)
		var te *perm.TagError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, len(seg32)+1, te.Pos)
		assert.Contains(t, err.Error(), "more than 32 segments")

		b512 := strings.Repeat("x", perm.MaxTagBytes)
		require.NoError(t, parse(b512))
		err = parse(b512 + "x")
		require.ErrorIs(t, err, perm.ErrInvalidTag)
		assert.Contains(t, err.Error(), "513 bytes long (the limit is 512)")
		require.ErrorAs(t, err, &te)
		assert.Equal(t, -1, te.Pos)
	}
}

func TestCanonicalTagReturnsInputWhenCanonical(t *testing.T) {
	in := "ADMIN:NAMESPACE:{namespace}:USER:{userId}:ENTITLEMENT"
	allocs := testing.AllocsPerRun(100, func() {
		got, err := perm.CanonicalTag(in)
		if err != nil || got != in {
			t.Fatal("unexpected result")
		}
	})
	assert.Zero(t, allocs)
}

func TestCompileGrant(t *testing.T) {
	g, err := perm.CompileGrant(perm.Permission{Resource: "NAMESPACE:{Namespace}:USER:{USERID}:ORDER", Action: 6})
	require.NoError(t, err)
	assert.Equal(t, perm.Permission{Resource: "NAMESPACE:{namespace}:USER:{userId}:ORDER", Action: 6}, g.Permission())
	assert.Equal(t, perm.Read|perm.Update, g.Action())

	_, err = perm.CompileGrant(perm.Permission{Resource: "NAMESPACE:{ns}", Action: 6})
	require.ErrorIs(t, err, perm.ErrInvalidTag)
	_, err = perm.CompileGrant(perm.Permission{Resource: "NAMESPACE", Action: 0})
	require.ErrorIs(t, err, perm.ErrInvalidAction)
}

func TestParseRequired(t *testing.T) {
	b := perm.RequiredBinding{Namespace: "foo", UserID: "888"}
	r, err := perm.ParseRequired("NAMESPACE:{NAMESPACE}:USER:{userId}:ORDER", perm.Read, b)
	require.NoError(t, err)
	assert.Equal(t, "NAMESPACE:foo:USER:888:ORDER", r.String())
	assert.Equal(t, perm.Read, r.Action())

	r, err = perm.ParseRequired("PROFILE:*", perm.CRUD, perm.RequiredBinding{})
	require.NoError(t, err)
	assert.Equal(t, "PROFILE:*", r.String())

	for _, a := range []perm.Action{0, 16, 200} {
		_, err = perm.ParseRequired("ADMIN:ROLE", a, b)
		require.ErrorIs(t, err, perm.ErrInvalidAction)
	}

	_, err = perm.ParseRequired("NAMESPACE:{namespace}:X", perm.Read, perm.RequiredBinding{UserID: "888"})
	require.ErrorIs(t, err, perm.ErrInvalidTag)
	assert.Contains(t, err.Error(), "placeholder {namespace} at byte 10 cannot be bound (the check has no namespace")
	var te *perm.TagError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 10, te.Pos)

	_, err = perm.ParseRequired("USER:{userId}", perm.Read, perm.RequiredBinding{Namespace: "foo"})
	require.ErrorIs(t, err, perm.ErrInvalidTag)
	assert.Contains(t, err.Error(), "placeholder {userId} at byte 5 cannot be bound (the check has no user id")

	_, err = perm.ParseRequired("USER:{userId}", perm.Read, perm.RequiredBinding{UserID: "a:b"})
	require.ErrorIs(t, err, perm.ErrInvalidTag)
	assert.Contains(t, err.Error(), `cannot be bound to "a:b"`)
	_, err = perm.ParseRequired("NAMESPACE:{namespace}", perm.Read, perm.RequiredBinding{Namespace: "*"})
	require.ErrorIs(t, err, perm.ErrInvalidTag)

	// Bindings are not needed when the tag has no placeholders.
	_, err = perm.ParseRequired("NAMESPACE:foo", perm.Read, perm.RequiredBinding{UserID: "a:b"})
	require.NoError(t, err)
}
