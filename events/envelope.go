package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors of the codec.
var (
	// ErrUnknownType is returned when decoding an event whose type no registry entry knows.
	ErrUnknownType = errors.New("events: unknown event type")
	// ErrMalformed is returned when an encoded event cannot be parsed.
	ErrMalformed = errors.New("events: malformed event")
)

// Actor says who caused an event.
type Actor struct {
	// Type is "user", "client", "token" or "system".
	Type string `json:"type"`
	// ID identifies the actor within its type.
	ID string `json:"id"`
}

// Actor types.
const (
	ActorUser   = "user"
	ActorClient = "client"
	ActorToken  = "token"
	ActorSystem = "system"
)

// Envelope is the versioned wrapper every event is written in. Its JSON field
// names are part of the public contract.
type Envelope struct {
	// EventID is a UUID unique to this event.
	EventID string `json:"eventId"`
	// Type is the stable, versioned event type name, e.g. "role.created.v1".
	Type string `json:"type"`
	// Namespace is the namespace the event belongs to; PlatformNamespace for
	// platform-level objects such as roles.
	Namespace string `json:"namespace"`
	// AggregateID identifies the object changed (role id, user id, namespace).
	AggregateID string `json:"aggregateId"`
	// OccurredAt is when the command was accepted (UTC).
	OccurredAt time.Time `json:"occurredAt"`
	// Actor is who issued the command.
	Actor Actor `json:"actor"`
	// OnBehalfOf, when set, is whom the actor acted for (a token's owner).
	OnBehalfOf *Actor `json:"onBehalfOf,omitempty"`
	// CommandID identifies the command; it is also the JetStream Nats-Msg-Id,
	// so a retried command is stored once.
	CommandID string `json:"commandId"`
	// CorrelationID ties the event to a request (X-Request-Id) or workflow.
	CorrelationID string `json:"correlationId,omitempty"`
	// Reason is the caller's free-text justification, if given.
	Reason string `json:"reason,omitempty"`
	// Source, when set, says through what the command arrived (HTTP, NATS,
	// CLI), with its request id and remote address.
	Source *Source `json:"source,omitempty"`
	// PrevHash is the hex SHA-256 of the raw bytes of the previous event of
	// the same namespace as stored in the stream; empty (omitted) for a
	// namespace's first event. It chains each namespace's events so that an
	// altered or inserted event is detectable (grantlog audit verify).
	PrevHash string `json:"prevHash,omitempty"`
	// Tx, when set, says the event is one of the events of a transaction,
	// appended together as one JetStream atomic batch: readers apply a
	// transaction's events together (never some of them), at the revision
	// of its last.
	Tx *Tx `json:"tx,omitempty"`
	// Payload is the type-specific body.
	Payload json.RawMessage `json:"payload"`
}

// Tx places an event in its transaction. Mirrors copy a batch's messages
// one by one without the batch headers, so the events say it themselves.
type Tx struct {
	// ID is the transaction's command id (its Idempotency-Key's).
	ID string `json:"id"`
	// Index is the event's place in the transaction, from 0; Count is the
	// number of its events.
	Index int `json:"index"`
	Count int `json:"count"`
}

// Event is a decoded event: its envelope, its payload decoded to the newest
// version of its type, and the revision (stream sequence) it was stored at.
type Event struct {
	Envelope
	// Revision is the JetStream stream sequence of the event; zero until stored.
	Revision uint64 `json:"revision"`
	// Data is the decoded payload, one of this package's payload types.
	Data Payload `json:"-"`
	// Hash is the SHA-256 of the event's raw bytes as stored in the stream
	// (set by readers of the stream; the next event of the namespace
	// carries it, hex-encoded, as PrevHash).
	Hash [32]byte `json:"-"`
}

// TxOpen reports whether events of ev's transaction follow ev: false for an
// event outside any transaction and for a transaction's last.
func (ev *Event) TxOpen() bool { return ev.Tx != nil && ev.Tx.Index+1 < ev.Tx.Count }

// Source says through what a command arrived. Its JSON field names are part
// of the public contract.
type Source struct {
	// Via is ViaHTTP, ViaNATS or ViaCLI.
	Via string `json:"via"`
	// RequestID is the request's id (X-Request-Id over HTTP).
	RequestID string `json:"requestId,omitempty"`
	// RemoteAddr is the network address the request came from.
	RemoteAddr string `json:"remoteAddr,omitempty"`
}

// Source.Via values.
const (
	ViaHTTP = "http"
	ViaNATS = "nats"
	ViaCLI  = "cli"
)

// Payload is implemented by every event payload type. EventType returns the
// explicit versioned type name the payload is written under.
type Payload interface {
	EventType() string
}

// Encode wraps p in env (setting env.Type and env.Payload) and returns the
// encoded event.
func Encode(env Envelope, p Payload) ([]byte, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("events: encode %s payload: %w", p.EventType(), err)
	}
	env.Type = p.EventType()
	env.Payload = raw
	env.OccurredAt = env.OccurredAt.UTC()
	return json.Marshal(env)
}
