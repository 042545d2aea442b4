package projector_test

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"

	"github.com/grantlog/grantlog/projector"
)

// TestStreamHead: a mirror that knows itself behind its origin reports the
// origin's head, so a replica reading it is not ready at the mirror's own
// last sequence.
func TestStreamHead(t *testing.T) {
	own := &jetstream.StreamInfo{State: jetstream.StreamState{LastSeq: 40}}
	assert.Equal(t, uint64(40), projector.StreamHead(own))
	mirror := &jetstream.StreamInfo{State: jetstream.StreamState{LastSeq: 40},
		Mirror: &jetstream.StreamSourceInfo{Name: "GRANTLOG", Lag: 2}}
	assert.Equal(t, uint64(42), projector.StreamHead(mirror))
}
