package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current encoder")

const goldenDir = "testdata/golden"

// goldenEnvelope is the fixed envelope every golden file is encoded from.
// Type and Payload are set by Encode.
func goldenEnvelope(ns, aggregate string) events.Envelope {
	return events.Envelope{
		EventID:       "6f1c2b9e-4a7d-4e0b-9c35-2d8f7a1e5b40",
		Namespace:     ns,
		AggregateID:   aggregate,
		OccurredAt:    time.Date(2025, 3, 14, 15, 9, 26, 535000000, time.UTC),
		Actor:         events.Actor{Type: events.ActorUser, ID: "admin-7"},
		CommandID:     "cmd-0b7e2f4a",
		CorrelationID: "req-91c3",
		Reason:        "ticket OPS-42",
	}
}

const roleID = "3d5e8f20-1b6a-4c9d-8e7f-0a1b2c3d4e5f"

// goldenSample is the representative event of one type.
type goldenSample struct {
	env     events.Envelope
	payload events.Payload
}

// samples returns one representative event per type the encoder writes today,
// keyed by type name. A type added to the registry without a sample here
// fails TestGoldenCoversRegistry.
func samples() map[string]goldenSample {
	plat := func(p events.Payload) goldenSample {
		return goldenSample{goldenEnvelope(events.PlatformNamespace, roleID), p}
	}
	perms := []events.Permission{
		{Resource: "NAMESPACE:{namespace}:USER:{userId}:ORDER", Action: 15},
		{Resource: "ADMIN:NAMESPACE:{namespace}:CLIENT", Action: 6},
	}
	list := []goldenSample{
		plat(events.RoleCreated{
			RoleID: roleID, RoleName: "GameAdmin", AdminRole: true, IsWildcard: false,
			Description: "full control of one game", Permissions: perms,
		}),
		plat(events.RoleUpdated{
			RoleID: roleID, RoleName: "GameAdmin2", AdminRole: true, IsWildcard: true,
			Description: "renamed",
		}),
		plat(events.RolePermissionsAdded{RoleID: roleID, Permissions: perms[:1]}),
		plat(events.RolePermissionsRemoved{RoleID: roleID, Permissions: []events.Permission{
			{Resource: "ADMIN:NAMESPACE:{namespace}:CLIENT", Action: 0},
			{Resource: "NAMESPACE:{namespace}:USER:{userId}:ORDER", Action: 8},
		}}),
		plat(events.RolePermissionsReplaced{RoleID: roleID, Permissions: perms}),
		plat(events.RoleDeleted{RoleID: roleID}),
		{goldenEnvelope("studio1-game1", "user-888"), events.UserRoleAssigned{
			UserID: "user-888", RoleID: roleID, AssignedNamespaces: []string{"studio1-game1", "baz"},
		}},
		{goldenEnvelope("studio1-game1", "user-888"), events.UserRoleUnassigned{UserID: "user-888", RoleID: roleID}},
		{goldenEnvelope("studio1-game1", "studio1-game1"), events.NamespaceCreated{
			Namespace: "studio1-game1", Parent: "studio1-", DefaultRoles: []string{roleID},
		}},
		{goldenEnvelope("studio1-game1", "studio1-game1"), events.NamespaceDeleted{Namespace: "studio1-game1"}},
		{goldenEnvelope("game1", "client-1"), events.ClientCreated{
			ClientID: "client-1", ClientName: "matchmaker", SecretHash: strings.Repeat("ab", 32),
			Permissions: perms, Roles: []string{roleID},
		}},
		{goldenEnvelope("game1", "client-1"), events.ClientUpdated{
			ClientID: "client-1", ClientName: "matchmaker-eu", Permissions: perms[:1],
		}},
		{goldenEnvelope("game1", "client-1"), events.ClientDeleted{ClientID: "client-1"}},
		{goldenEnvelope("game1", "token-1"), events.TokenIssued{
			TokenID: "token-1", Name: "ci-deployer", Owner: events.Actor{Type: "user", ID: "user-888"},
			Issuer: events.Actor{Type: "user", ID: "user-888"}, Scopes: []string{"builds:read"},
			Permissions: []events.Permission{
				{Resource: "NAMESPACE:{namespace}:BUILD", Action: 2},
				{Resource: "NAMESPACE:{namespace}:USER:{userId}:INSTANCE:LOGS", Action: 2,
					Constraints: []byte(`{"id":{"gte":100,"lte":200}}`),
					NotAfter:    &goldenNotAfter, SchedAction: 0, SchedCron: "* 9-17 * * MON-FRI"},
			},
			SecretHash: strings.Repeat("cd", 32), ExpiresAt: &goldenNotAfter,
		}},
		{goldenEnvelope("game1", "token-1"), events.TokenRevoked{TokenID: "token-1"}},
		plat(events.ScopeDefined{Name: "builds:read-write", Description: "View, create, and delete builds.",
			Permissions: []events.Permission{{Resource: "NAMESPACE:{namespace}:BUILD", Action: 15}}, Includes: []string{"builds:read"}}),
		plat(events.ScopeDeleted{Name: "builds:read-write"}),
		plat(events.EndpointRegistered{Service: "hathora", Name: "GetBuilds", Method: "GET", Path: "/builds/v3/{appId}/list",
			Resource: "NAMESPACE:{namespace}:BUILD", Action: 2}),
		plat(events.EndpointDeleted{Service: "hathora", Name: "GetBuilds"}),
		{goldenEnvelope(events.PlatformNamespace, "_batch"), events.EndpointsRegisteredBatch{Endpoints: []events.EndpointRegistered{
			{Service: "iam", Name: "AdminGetClientV3", Method: "GET", Path: "/iam/v3/admin/namespaces/{namespace}/clients/{clientId}",
				Resource: "ADMIN:NAMESPACE:{namespace}:CLIENT", Action: 2},
			{Service: "iam", Name: "DeleteClientByNamespace", Method: "DELETE", Path: "/iam/namespaces/{namespace}/clients/{clientId}",
				Resource: "ADMIN:NAMESPACE:{namespace}:CLIENT:{clientId}", Action: 8},
		}}},
		{goldenEnvelope("game1", "_batch"), events.UserRolesAssignedBatch{Assignments: []events.UserRoleAssigned{
			{UserID: "user-1", RoleID: roleID, AssignedNamespaces: []string{"game1"}},
			{UserID: "user-2", RoleID: roleID, AssignedNamespaces: []string{"game1", "game2"}, NotAfter: &goldenNotAfter},
		}}},
		{goldenEnvelope(events.PlatformNamespace, "tx-1"), events.TransactionCommitted{Events: 2, Roles: []string{roleID}}},
		{goldenEnvelope(events.PlatformNamespace, "9f86d081884c7d65"), events.LogSigningKeyAdded{
			KeyID: "9f86d081884c7d65", Algorithm: "ed25519", PublicKey: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}},
	}
	out := make(map[string]goldenSample, len(list))
	for _, s := range list {
		out[s.payload.EventType()] = s
	}
	return out
}

var goldenNotAfter = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

func goldenPath(typ string) string { return filepath.Join(goldenDir, typ+".json") }

func TestGoldenEncode(t *testing.T) {
	for typ, s := range samples() {
		t.Run(typ, func(t *testing.T) {
			got, err := events.Encode(s.env, s.payload)
			require.NoError(t, err)
			if *update {
				require.NoError(t, os.MkdirAll(goldenDir, 0o755))
				require.NoError(t, os.WriteFile(goldenPath(typ), got, 0o644))
			}
			want, err := os.ReadFile(goldenPath(typ))
			require.NoError(t, err, "missing golden file; run go test ./events -run TestGolden -update")
			assert.Equal(t, string(want), string(got), "encoding of %s changed: event types are a public contract", typ)
		})
	}
}

func TestGoldenDecode(t *testing.T) {
	reg := events.NewRegistry()
	for typ, s := range samples() {
		t.Run(typ, func(t *testing.T) {
			raw, err := os.ReadFile(goldenPath(typ))
			require.NoError(t, err)
			ev, err := reg.Decode(raw)
			require.NoError(t, err)

			assert.Equal(t, typ, ev.Type)
			assert.Equal(t, s.env.EventID, ev.EventID)
			assert.Equal(t, s.env.Namespace, ev.Namespace)
			assert.Equal(t, s.env.AggregateID, ev.AggregateID)
			assert.True(t, s.env.OccurredAt.Equal(ev.OccurredAt), "occurredAt %v, want %v", ev.OccurredAt, s.env.OccurredAt)
			assert.Equal(t, time.UTC, ev.OccurredAt.Location())
			assert.Equal(t, s.env.Actor, ev.Actor)
			assert.Equal(t, s.env.CommandID, ev.CommandID)
			assert.Equal(t, s.env.CorrelationID, ev.CorrelationID)
			assert.Equal(t, s.env.Reason, ev.Reason)
			assert.Zero(t, ev.Revision, "Decode leaves the revision to the caller")
			assert.IsType(t, s.payload, ev.Data)
			assert.Equal(t, s.payload, ev.Data)
		})
	}
}

// TestGoldenCoversRegistry fails when a type is added to the registry without
// a sample and a golden file.
func TestGoldenCoversRegistry(t *testing.T) {
	smp := samples()
	types := events.NewRegistry().Types()
	require.NotEmpty(t, types)
	assert.IsIncreasing(t, types)
	for _, typ := range types {
		assert.Contains(t, smp, typ, "no golden sample for registered type %s", typ)
		assert.FileExists(t, goldenPath(typ), "no golden file for registered type %s", typ)
	}
	for typ := range smp {
		assert.Contains(t, types, typ, "sample of a type the registry cannot decode")
	}
}

// TestGoldenFilesStayReadable decodes every golden file ever written: files
// are never deleted, so old versions stay readable forever.
func TestGoldenFilesStayReadable(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), len(events.NewRegistry().Types()))
	reg := events.NewRegistry()
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			ev, err := reg.Decode(raw)
			require.NoError(t, err)
			assert.Equal(t, strings.TrimSuffix(filepath.Base(f), ".json"), ev.Type, "file name must be the type it holds")
			require.NotNil(t, ev.Data)
			// The decoded payload is of the newest version of its type.
			assert.Contains(t, reg.Types(), ev.Data.EventType())
		})
	}
}

func TestEncodeSetsTypeAndUTC(t *testing.T) {
	env := goldenEnvelope("foo", "u1")
	env.Type = "bogus.type.v9"
	env.Payload = []byte(`{"ignored":true}`)
	env.OccurredAt = time.Date(2025, 1, 2, 4, 4, 5, 0, time.FixedZone("X", 3*3600))
	raw, err := events.Encode(env, events.RoleDeleted{RoleID: "r1"})
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"type":"role.deleted.v1"`)
	assert.Contains(t, string(raw), `"occurredAt":"2025-01-02T01:04:05Z"`)
	assert.NotContains(t, string(raw), "ignored")

	ev, err := events.NewRegistry().Decode(raw)
	require.NoError(t, err)
	assert.Equal(t, events.RoleDeleted{RoleID: "r1"}, ev.Data)
	assert.True(t, env.OccurredAt.Equal(ev.OccurredAt))
}

func TestEncodeOmitsEmptyOptionalFields(t *testing.T) {
	env := goldenEnvelope("foo", "u1")
	env.CorrelationID, env.Reason = "", ""
	raw, err := events.Encode(env, events.UserRoleUnassigned{UserID: "u1", RoleID: "r1"})
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "correlationId")
	assert.NotContains(t, string(raw), "reason")
	assert.Contains(t, string(raw), `"commandId":"cmd-0b7e2f4a"`)
}

func TestDecodeErrors(t *testing.T) {
	reg := events.NewRegistry()
	valid, err := os.ReadFile(goldenPath(events.TypeRoleCreated))
	require.NoError(t, err)

	tests := []struct {
		name string
		in   string
		want error
	}{
		{"unknown type", `{"type":"role.created.v999","payload":{}}`, events.ErrUnknownType},
		{"go type name", `{"type":"RoleCreated","payload":{}}`, events.ErrUnknownType},
		{"missing type", `{"payload":{}}`, events.ErrUnknownType},
		{"json null", `null`, events.ErrUnknownType},
		{"empty input", ``, events.ErrMalformed},
		{"not json", `hello`, events.ErrMalformed},
		{"truncated", string(valid[:len(valid)/2]), events.ErrMalformed},
		{"array", `[1,2]`, events.ErrMalformed},
		{"envelope field of wrong type", `{"type":"role.deleted.v1","eventId":7,"payload":{}}`, events.ErrMalformed},
		{"bad occurredAt", `{"type":"role.deleted.v1","occurredAt":"yesterday","payload":{}}`, events.ErrMalformed},
		{"missing payload", `{"type":"role.deleted.v1"}`, events.ErrMalformed},
		{"payload not an object", `{"type":"role.deleted.v1","payload":"r1"}`, events.ErrMalformed},
		{"payload field of wrong type", `{"type":"role.created.v1","payload":{"roleId":1}}`, events.ErrMalformed},
		{"action out of uint8", `{"type":"role.permissions_added.v1","payload":{"roleId":"r","permissions":[{"resource":"A","action":256}]}}`, events.ErrMalformed},
		{"namespaces not a list", `{"type":"user.role_assigned.v1","payload":{"userId":"u","roleId":"r","assignedNamespaces":"foo"}}`, events.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := reg.Decode([]byte(tc.in))
			require.Error(t, err)
			require.ErrorIs(t, err, tc.want)
			other := events.ErrMalformed
			if errors.Is(tc.want, events.ErrMalformed) {
				other = events.ErrUnknownType
			}
			assert.NotErrorIs(t, err, other)
			assert.Nil(t, ev.Data)
		})
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	in := `{"type":"role.deleted.v1","future":1,"payload":{"roleId":"r1","future":[1]}}`
	ev, err := events.NewRegistry().Decode([]byte(in))
	require.NoError(t, err)
	assert.Equal(t, events.RoleDeleted{RoleID: "r1"}, ev.Data)
}

func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	require.NoError(f, err)
	for _, file := range files {
		raw, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(raw)
	}
	f.Add([]byte(`{"type":"role.deleted.v1","payload":null}`))
	f.Add([]byte(`{"type":"role.created.v1","occurredAt":"0000-01-01T00:00:00+01:00","payload":{}}`))
	f.Add([]byte(`{"type":"user.role_assigned.v1","payload":{"assignedNamespaces":[]}}`))
	f.Add([]byte(`{"type":"nope","payload":{}}`))
	f.Add([]byte(`{`))
	reg := events.NewRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := reg.Decode(data)
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) && !errors.Is(err, events.ErrUnknownType) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrUnknownType", err)
			}
			return
		}
		require.NotNil(t, ev.Data)
		require.Equal(t, ev.Type, ev.Data.EventType())
		raw, err := events.Encode(ev.Envelope, ev.Data)
		if err != nil {
			// The only envelope a decoder accepts and the encoder refuses is a
			// time that leaves years 0..9999 once converted to UTC.
			require.ErrorContains(t, err, "year outside of range")
			return
		}
		again, err := reg.Decode(raw)
		require.NoError(t, err, "re-encoded %s", raw)
		require.Equal(t, ev.Type, again.Type)
		// The same payload, up to an empty list written as [] and decoded
		// back from an omitted field as nil (both mean none).
		p1, err := json.Marshal(ev.Data)
		require.NoError(t, err)
		p2, err := json.Marshal(again.Data)
		require.NoError(t, err)
		require.JSONEq(t, string(p1), string(p2))
		require.Equal(t, ev.EventID, again.EventID)
		require.True(t, ev.OccurredAt.Equal(again.OccurredAt))
		// From then on the round trip is exact, to the byte.
		raw2, err := events.Encode(again.Envelope, again.Data)
		require.NoError(t, err)
		require.True(t, bytes.Equal(raw, raw2), "%s != %s", raw, raw2)
		third, err := reg.Decode(raw2)
		require.NoError(t, err)
		require.Equal(t, again.Data, third.Data)
	})
}

// TestBootstrapTokenFields: the bootstrap credential is a token.issued.v1
// with two optional fields; an ordinary token's encoding has neither, so
// every token.issued.v1 written before them reads as an ordinary token.
func TestBootstrapTokenFields(t *testing.T) {
	reg := events.NewRegistry()
	p := events.TokenIssued{TokenID: "b2", Name: "bootstrap", Owner: events.Actor{Type: "user", ID: "grantlog-bootstrap-admin"},
		Issuer: events.Actor{Type: "token", ID: "b1"}, Permissions: []events.Permission{{Resource: "*", Action: 15}},
		SecretHash: strings.Repeat("ef", 32), Bootstrap: true, Replaces: []string{"b1"}}
	raw, err := events.Encode(goldenEnvelope(events.PlatformNamespace, "b2"), p)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"bootstrap":true,"replaces":["b1"]`)
	ev, err := reg.Decode(raw)
	require.NoError(t, err)
	assert.Equal(t, p, ev.Data)

	old, err := os.ReadFile(goldenPath(events.TypeTokenIssued))
	require.NoError(t, err)
	assert.NotContains(t, string(old), "bootstrap")
	ev, err = reg.Decode(old)
	require.NoError(t, err)
	assert.False(t, ev.Data.(events.TokenIssued).Bootstrap)
	assert.Empty(t, ev.Data.(events.TokenIssued).Replaces)
}
