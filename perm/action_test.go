package perm_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/perm"
)

func TestActionValid(t *testing.T) {
	for a := 0; a < 256; a++ {
		assert.Equal(t, a >= 1 && a <= 15, perm.Action(a).Valid(), "action %d", a)
	}
}

func TestActionAllows(t *testing.T) {
	for g := perm.Action(0); g <= perm.CRUD; g++ {
		for r := perm.Action(0); r <= perm.CRUD; r++ {
			assert.Equal(t, g&r == r, g.Allows(r), "granted %d required %d", g, r)
		}
	}
	assert.True(t, (perm.Read | perm.Update).Allows(perm.Read))
	assert.True(t, perm.Action(6).Allows(perm.Update))
	assert.False(t, perm.Action(6).Allows(perm.Create))
	assert.False(t, perm.Action(6).Allows(perm.Read|perm.Delete))
	assert.True(t, perm.CRUD.Allows(perm.CRUD))
}

func TestActionString(t *testing.T) {
	for a, want := range map[perm.Action]string{
		0:                         "None",
		perm.Create:               "Create",
		perm.Read:                 "Read",
		perm.Update:               "Update",
		perm.Delete:               "Delete",
		perm.Create | perm.Read:   "Create|Read",
		6:                         "Read|Update",
		perm.Create | perm.Delete: "Create|Delete",
		14:                        "Read|Update|Delete",
		perm.CRUD:                 "CRUD",
		16:                        "Action(16)",
		255:                       "Action(255)",
	} {
		assert.Equal(t, want, a.String(), "action %d", uint8(a))
	}
	assert.Equal(t, perm.CRUD, perm.Action(15))
}

func TestPermissionJSON(t *testing.T) {
	p := perm.Permission{Resource: "NAMESPACE:{namespace}:CLIENT", Action: perm.Read | perm.Update}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.JSONEq(t, `{"resource":"NAMESPACE:{namespace}:CLIENT","action":6}`, string(b))
	var back perm.Permission
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, p, back)
}

func TestValidatePermission(t *testing.T) {
	got, err := perm.ValidatePermission(perm.Permission{Resource: "NAMESPACE:{NAMESPACE}:USER:{userid}", Action: 6})
	require.NoError(t, err)
	assert.Equal(t, perm.Permission{Resource: "NAMESPACE:{namespace}:USER:{userId}", Action: 6}, got)

	for _, a := range []perm.Action{0, 16, 255} {
		_, err = perm.ValidatePermission(perm.Permission{Resource: "ADMIN:ROLE", Action: a})
		require.ErrorIs(t, err, perm.ErrInvalidAction, "action %d", a)
		require.NotErrorIs(t, err, perm.ErrInvalidTag)
		assert.Contains(t, err.Error(), "1..15")
	}

	_, err = perm.ValidatePermission(perm.Permission{Resource: "A::B", Action: perm.Read})
	require.ErrorIs(t, err, perm.ErrInvalidTag)
	require.NotErrorIs(t, err, perm.ErrInvalidAction)
	var te *perm.TagError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 2, te.Pos)

	// Both wrong: both reported.
	_, err = perm.ValidatePermission(perm.Permission{Resource: "A::B", Action: 0})
	require.ErrorIs(t, err, perm.ErrInvalidTag)
	require.ErrorIs(t, err, perm.ErrInvalidAction)
	assert.ErrorAs(t, err, &te)
}
