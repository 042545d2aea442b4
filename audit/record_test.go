package audit_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/events"
)

func encode(t *testing.T, ns, prev string, p events.Payload) []byte {
	t.Helper()
	raw, err := events.Encode(events.Envelope{
		EventID: "e", Namespace: ns, AggregateID: "a", OccurredAt: time.Unix(0, 0), CommandID: "c",
		Actor: events.Actor{Type: "user", ID: "alice"}, CorrelationID: "req-1", PrevHash: prev,
		Source: &events.Source{Via: events.ViaNATS, RequestID: "req-1"},
	}, p)
	require.NoError(t, err)
	return raw
}

func TestDecodeRemovesSecretsAndComputesAfter(t *testing.T) {
	reg := events.NewRegistry()
	raw := encode(t, "foo", "", events.TokenIssued{TokenID: "t1", Name: "ci", SecretHash: strings.Repeat("cd", 32),
		Permissions: []events.Permission{{Resource: "NAMESPACE:foo:X", Action: 2}}})
	rec := audit.Decode(reg, events.DefaultSubjectPrefix, 7, "grantlog.ev.foo.token.t1", raw)
	sum := sha256.Sum256(raw)
	assert.Equal(t, hex.EncodeToString(sum[:]), rec.Hash)
	assert.Equal(t, uint64(7), rec.Revision)
	assert.Equal(t, "req-1", rec.RequestID)
	assert.Equal(t, events.ViaNATS, rec.Source.Via)
	assert.NotContains(t, string(rec.Payload), "secretHash")
	assert.NotContains(t, string(rec.After), "secretHash")
	assert.JSONEq(t, `null`, string(rec.Before))

	before := &events.RoleState{RoleID: "r", RoleName: "R", Permissions: []events.Permission{
		{Resource: "A", Action: 15}, {Resource: "B", Action: 2},
	}}
	raw = encode(t, events.PlatformNamespace, "x", events.RolePermissionsRemoved{RoleID: "r", Before: before,
		Permissions: []events.Permission{{Resource: "A", Action: 8}, {Resource: "B"}}})
	rec = audit.Decode(reg, events.DefaultSubjectPrefix, 8, "grantlog.ev._platform.role.r", raw)
	assert.JSONEq(t, `{"roleId":"r","roleName":"R","adminRole":false,"isWildcard":false,"permissions":[{"resource":"A","action":7}]}`, string(rec.After))
	assert.NotContains(t, string(rec.Payload), "before", "before is shown once, as before")

	rec = audit.Decode(reg, events.DefaultSubjectPrefix, 9, "grantlog.ev.bar.user.u", []byte(`{"type":"user.nothing.v9","namespace":"bar"}`))
	assert.NotEmpty(t, rec.Error)
	assert.Equal(t, "bar", rec.Namespace)
}

func TestVerifier(t *testing.T) {
	reg := events.NewRegistry()
	v := audit.NewVerifier()
	prev := map[string]string{}
	var recs []audit.Record
	for i, ns := range []string{"foo", "bar", "foo", "foo", "bar"} {
		raw := encode(t, ns, prev[ns], events.UserRoleUnassigned{UserID: "u", RoleID: "r"})
		rec := audit.Decode(reg, events.DefaultSubjectPrefix, uint64(i+1), "grantlog.ev."+ns+".user.u", raw)
		prev[ns] = rec.Hash
		recs = append(recs, rec)
	}
	for _, r := range recs {
		require.Nil(t, v.Add(r))
	}
	assert.Equal(t, 2, v.Namespaces())

	// Alter revision 3 (foo): revision 4 no longer links to it.
	v = audit.NewVerifier()
	altered := strings.Repeat("0", 64)
	recs[2].Hash = altered
	var got *audit.Break
	for _, r := range recs {
		if b := v.Add(r); b != nil && got == nil {
			got = b
		}
	}
	require.NotNil(t, got)
	assert.Equal(t, uint64(4), got.Revision)
	assert.Equal(t, "foo", got.Namespace)
	linkTarget := got.Expected
	assert.Equal(t, altered, linkTarget)
}
