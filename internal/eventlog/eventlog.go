// Package eventlog sets up the JetStream stream that holds every Grantlog
// event, and the embedded NATS server of a single-machine deployment.
package eventlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/events"
)

// DefaultStream is the name of the event stream.
const DefaultStream = "GRANTLOG"

// StreamConfig returns the configuration of the event stream: file storage,
// every event kept forever, no deletes or purges (only an explicit admin
// operation may remove events), a two-minute duplicate window for command
// ids, and atomic batch publishing for bulk commands.
func StreamConfig(name, prefix string, replicas int) jetstream.StreamConfig {
	if replicas < 1 {
		replicas = 1
	}
	return jetstream.StreamConfig{
		Name:               name,
		Description:        "Grantlog permission events (source of truth and audit log)",
		Subjects:           []string{events.AllFilter(prefix)},
		Storage:            jetstream.FileStorage,
		Retention:          jetstream.LimitsPolicy,
		Discard:            jetstream.DiscardNew,
		Duplicates:         2 * time.Minute,
		Replicas:           replicas,
		DenyDelete:         true,
		DenyPurge:          true,
		AllowDirect:        true,
		AllowAtomicPublish: true,
	}
}

// EnsureStream creates the event stream, or updates it to cfg when it
// exists.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		s, err = js.UpdateStream(ctx, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("eventlog: ensure stream %s: %w", cfg.Name, err)
	}
	return s, nil
}
