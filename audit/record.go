package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
)

// Record is one event read as an audit record. Its JSON field names are a
// public contract.
//
// Before and After hold the state of the changed object (a role, an
// assignment, a client, a token, a scope, an endpoint, a namespace) before
// and after the event. Before is carried in the event itself (commands
// record the state they decided on); After is computed here from Before
// and the payload. For a creation Before is JSON null; for a deletion After
// is null; both are absent when unknown (events written before Grantlog
// recorded them). No secret and no secret hash ever appears in a record:
// they are removed from Payload, and the state types have none.
type Record struct {
	// Revision is the event's stream sequence.
	Revision uint64 `json:"revision"`
	// Type is the versioned event type, e.g. "role.updated.v1".
	Type string `json:"type"`
	// Namespace is the event's namespace; "_platform" for platform-level objects.
	Namespace string `json:"namespace"`
	// AggregateID names the object changed (role id, user id, client id, ...).
	AggregateID string `json:"aggregateId,omitempty"`
	// Actor is who issued the command.
	Actor events.Actor `json:"actor"`
	// OnBehalfOf is whom the actor acted for (a token's owner), if anyone.
	OnBehalfOf *events.Actor `json:"onBehalfOf,omitempty"`
	// OccurredAt is when the command was accepted (UTC).
	OccurredAt time.Time `json:"occurredAt"`
	// Reason is the command's justification, if given.
	Reason string `json:"reason,omitempty"`
	// RequestID is the request the change came with (X-Request-Id).
	RequestID string `json:"requestId,omitempty"`
	// Source says through what the change arrived.
	Source *events.Source `json:"source,omitempty"`
	// CommandID and EventID identify the command and the event.
	CommandID string `json:"commandId,omitempty"`
	EventID   string `json:"eventId,omitempty"`
	// Before and After: see the type's documentation.
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
	// Payload is the event's payload, without secret hashes and without its
	// "before" (shown as Before).
	Payload json.RawMessage `json:"payload,omitempty"`
	// PrevHash is the hash of the namespace's previous event ("" for its
	// first, or for events written before the chain existed).
	PrevHash string `json:"prevHash"`
	// Hash is the hex SHA-256 of the event's raw bytes in the stream.
	Hash string `json:"hash"`
	// Subject is the event's subject in the stream.
	Subject string `json:"subject,omitempty"`
	// Signature is the event's Grantlog-Sig header: the command side's
	// signature of Subject and Hash ("<keyId>.<base64url>"), absent for
	// events written before the log was signed (see Verifier).
	Signature string `json:"signature,omitempty"`
	// Error, when set, says why the event could not be read (an unknown
	// type written by a newer Grantlog, or malformed bytes).
	Error string `json:"error,omitempty"`

	// data is the decoded payload (for the permission-change feed).
	data events.Payload
}

var jsonNull = json.RawMessage("null")

// Decode turns the raw bytes of a stream message (at revision seq, on
// subject, under subject prefix) into a Record (set its Signature from the
// message's logsig.Header header). It never fails: an event it
// cannot read gives a record with Error set, its namespace taken from the
// subject, and its hash (so the chain can still be checked).
func Decode(reg *events.Registry, prefix string, seq uint64, subject string, data []byte) Record {
	sum := sha256.Sum256(data)
	rec := Record{Revision: seq, Hash: hex.EncodeToString(sum[:]), Namespace: namespaceOf(prefix, subject), Subject: subject}
	ev, err := reg.Decode(data)
	if err != nil {
		rec.Error = err.Error()
		var env events.Envelope
		if json.Unmarshal(data, &env) == nil {
			fillEnvelope(&rec, &env)
		}
		return rec
	}
	fillEnvelope(&rec, &ev.Envelope)
	rec.data = ev.Data
	rec.Payload = cleanPayload(ev.Payload)
	rec.Before, rec.After = beforeAfter(ev.Data)
	return rec
}

func fillEnvelope(rec *Record, env *events.Envelope) {
	rec.Type = env.Type
	if env.Namespace != "" {
		rec.Namespace = env.Namespace
	}
	rec.AggregateID = env.AggregateID
	rec.Actor = env.Actor
	rec.OnBehalfOf = env.OnBehalfOf
	rec.OccurredAt = env.OccurredAt
	rec.Reason = env.Reason
	rec.RequestID = env.CorrelationID
	if env.Source != nil {
		src := *env.Source
		rec.Source = &src
		if src.RequestID != "" {
			rec.RequestID = src.RequestID
		}
	}
	rec.CommandID = env.CommandID
	rec.EventID = env.EventID
	rec.PrevHash = env.PrevHash
}

// cleanPayload removes secret hashes and the before state from a payload.
func cleanPayload(raw json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil
	}
	_, hasSecret := m["secretHash"]
	_, hasBefore := m["before"]
	if !hasSecret && !hasBefore {
		return raw
	}
	delete(m, "secretHash")
	delete(m, "before")
	out, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return out
}

func namespaceOf(prefix, subject string) string {
	rest, ok := strings.CutPrefix(subject, prefix+".")
	if !ok {
		return ""
	}
	ns, _, _ := strings.Cut(rest, ".")
	return ns
}

func marshal(v any) json.RawMessage {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return raw
}

// beforeAfter computes the before and after states of an event.
func beforeAfter(p events.Payload) (before, after json.RawMessage) {
	switch p := p.(type) {
	case events.RoleCreated:
		return jsonNull, marshal(events.RoleState{
			RoleID: p.RoleID, RoleName: p.RoleName, AdminRole: p.AdminRole, IsWildcard: p.IsWildcard,
			Description: p.Description, Permissions: normalized(p.Permissions),
		})
	case events.RoleUpdated:
		if p.Before == nil {
			return nil, nil
		}
		a := *p.Before
		a.RoleName, a.AdminRole, a.IsWildcard, a.Description = p.RoleName, p.AdminRole, p.IsWildcard, p.Description
		return marshal(p.Before), marshal(a)
	case events.RolePermissionsAdded:
		return roleWith(p.Before, func(have []events.Permission) []events.Permission {
			return index.ToEvent(index.AddPermissions(index.FromEvent(have), index.FromEvent(p.Permissions)))
		})
	case events.RolePermissionsRemoved:
		return roleWith(p.Before, func(have []events.Permission) []events.Permission {
			return index.ToEvent(index.RemovePermissions(index.FromEvent(have), index.FromEvent(p.Permissions)))
		})
	case events.RolePermissionsReplaced:
		return roleWith(p.Before, func([]events.Permission) []events.Permission { return normalized(p.Permissions) })
	case events.RoleDeleted:
		return orNil(p.Before), jsonNull
	case events.UserRoleAssigned:
		b := jsonNull
		if p.Before != nil {
			b = marshal(p.Before)
		}
		return b, marshal(events.AssignmentState{
			UserID: p.UserID, RoleID: p.RoleID, AssignedNamespaces: p.AssignedNamespaces,
			NotBefore: p.NotBefore, NotAfter: p.NotAfter,
		})
	case events.UserRoleUnassigned:
		return orNil(p.Before), jsonNull
	case events.NamespaceCreated:
		return nil, marshal(p)
	case events.NamespaceDeleted:
		return nil, jsonNull
	case events.ClientCreated:
		return jsonNull, marshal(events.ClientState{ClientID: p.ClientID, ClientName: p.ClientName, Permissions: p.Permissions, Roles: p.Roles})
	case events.ClientUpdated:
		return orNil(p.Before), marshal(events.ClientState{ClientID: p.ClientID, ClientName: p.ClientName, Permissions: p.Permissions, Roles: p.Roles})
	case events.ClientDeleted:
		return orNil(p.Before), jsonNull
	case events.TokenIssued:
		return jsonNull, marshal(events.TokenState{
			TokenID: p.TokenID, Name: p.Name, Owner: p.Owner, Issuer: p.Issuer, Scopes: p.Scopes,
			Permissions: p.Permissions, NotBefore: p.NotBefore, ExpiresAt: p.ExpiresAt,
			Bootstrap: p.Bootstrap, Replaces: p.Replaces,
		})
	case events.TokenRevoked:
		return orNil(p.Before), jsonNull
	case events.ScopeDefined:
		return nil, marshal(p)
	case events.ScopeDeleted:
		return nil, jsonNull
	case events.EndpointRegistered, events.EndpointsRegisteredBatch:
		return nil, marshal(p)
	case events.EndpointDeleted:
		return nil, jsonNull
	case events.LogSigningKeyAdded:
		return jsonNull, marshal(p)
	case events.TransactionCommitted:
		return nil, marshal(p)
	}
	return nil, nil
}

// orNil marshals a known before state; an unknown one (nil) stays absent.
func orNil[T any](v *T) json.RawMessage {
	if v == nil {
		return nil
	}
	return marshal(v)
}

func roleWith(before *events.RoleState, perms func([]events.Permission) []events.Permission) (json.RawMessage, json.RawMessage) {
	if before == nil {
		return nil, nil
	}
	a := *before
	a.Permissions = perms(before.Permissions)
	return marshal(before), marshal(a)
}

// normalized is ps as the index holds them (merged by resource, sorted).
func normalized(ps []events.Permission) []events.Permission {
	return index.ToEvent(index.AddPermissions(nil, index.FromEvent(ps)))
}
