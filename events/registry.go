package events

import (
	"encoding/json"
	"fmt"
	"sort"

	gojson "github.com/goccy/go-json"
)

// Registry knows every event type ever written and decodes each to the
// newest payload version. Build one with NewRegistry; it is safe for
// concurrent use once built.
type Registry struct {
	decoders map[string]func(json.RawMessage) (Payload, error)
}

func decoderOf[T Payload]() func(json.RawMessage) (Payload, error) {
	return func(raw json.RawMessage) (Payload, error) {
		var p T
		if err := gojson.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return p, nil
	}
}

// NewRegistry returns a registry of all Grantlog event types.
func NewRegistry() *Registry {
	return &Registry{decoders: map[string]func(json.RawMessage) (Payload, error){
		TypeRoleCreated:              decoderOf[RoleCreated](),
		TypeRoleUpdated:              decoderOf[RoleUpdated](),
		TypeRolePermissionsAdded:     decoderOf[RolePermissionsAdded](),
		TypeRolePermissionsRemoved:   decoderOf[RolePermissionsRemoved](),
		TypeRolePermissionsReplaced:  decoderOf[RolePermissionsReplaced](),
		TypeRoleDeleted:              decoderOf[RoleDeleted](),
		TypeUserRoleAssigned:         decoderOf[UserRoleAssigned](),
		TypeUserRoleUnassigned:       decoderOf[UserRoleUnassigned](),
		TypeNamespaceCreated:         decoderOf[NamespaceCreated](),
		TypeNamespaceDeleted:         decoderOf[NamespaceDeleted](),
		TypeClientCreated:            decoderOf[ClientCreated](),
		TypeClientUpdated:            decoderOf[ClientUpdated](),
		TypeClientDeleted:            decoderOf[ClientDeleted](),
		TypeTokenIssued:              decoderOf[TokenIssued](),
		TypeTokenRevoked:             decoderOf[TokenRevoked](),
		TypeScopeDefined:             decoderOf[ScopeDefined](),
		TypeScopeDeleted:             decoderOf[ScopeDeleted](),
		TypeEndpointRegistered:       decoderOf[EndpointRegistered](),
		TypeEndpointDeleted:          decoderOf[EndpointDeleted](),
		TypeUserRolesAssignedBatch:   decoderOf[UserRolesAssignedBatch](),
		TypeEndpointsRegisteredBatch: decoderOf[EndpointsRegisteredBatch](),
		TypeTransactionCommitted:     decoderOf[TransactionCommitted](),
		TypeLogSigningKeyAdded:       decoderOf[LogSigningKeyAdded](),
	}}
}

// Types lists the event type names the registry decodes, sorted.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.decoders))
	for t := range r.decoders {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Decode parses an encoded event. The returned Event has Revision zero; the
// caller sets it from the stream sequence. Errors wrap ErrMalformed or
// ErrUnknownType; with ErrUnknownType the returned Event holds the
// envelope (its Data is nil).
func (r *Registry) Decode(data []byte) (Event, error) {
	var env Envelope
	if err := gojson.Unmarshal(data, &env); err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	dec, ok := r.decoders[env.Type]
	if !ok {
		return Event{Envelope: env}, fmt.Errorf("%w %q", ErrUnknownType, env.Type)
	}
	p, err := dec(env.Payload)
	if err != nil {
		return Event{}, fmt.Errorf("%w: %s payload: %w", ErrMalformed, env.Type, err)
	}
	return Event{Envelope: env, Data: p}, nil
}
