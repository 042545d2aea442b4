package metrics_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/metrics"
)

func TestOutcomeOf(t *testing.T) {
	for _, c := range []struct {
		status  int
		retries int32
		want    metrics.Outcome
	}{
		{http.StatusCreated, 0, metrics.OK}, {http.StatusOK, 2, metrics.Retried}, {http.StatusNoContent, 0, metrics.OK},
		{http.StatusConflict, 1, metrics.Conflict}, {http.StatusForbidden, 0, metrics.Refused},
		{http.StatusUnauthorized, 0, metrics.Refused}, {http.StatusUnprocessableEntity, 0, metrics.Refused},
		{http.StatusInternalServerError, 0, metrics.Failed}, {http.StatusServiceUnavailable, 3, metrics.Failed},
	} {
		assert.Equal(t, c.want, metrics.OutcomeOf(c.status, c.retries), "%d after %d retries", c.status, c.retries)
	}
}

func TestRetriesInContext(t *testing.T) {
	metrics.NoteRetry(context.Background()) // none carried: nothing happens
	var r metrics.Retries
	ctx := metrics.WithRetries(context.Background(), &r)
	metrics.NoteRetry(ctx)
	metrics.NoteRetry(ctx)
	assert.Equal(t, int32(2), r.Load())
	assert.Equal(t, int32(0), (*metrics.Retries)(nil).Load())
}

// TestObserveAllocatesNothing: the observation points of the check path
// allocate nothing, and nil metrics record nothing.
func TestObserveAllocatesNothing(t *testing.T) {
	m := metrics.New()
	start := time.Now()
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		m.Checks.Check(metrics.HTTP, metrics.Allowed, start)
		m.Checks.Batch(metrics.NATS, 10, 5, 1, false, start)
	}))
	var none *metrics.Checks
	none.Check(metrics.HTTP, metrics.Allowed, start)
	none.Batch(metrics.HTTP, 1, 0, 0, false, start)
	var noOp *metrics.CommandOp
	noOp.Observe(metrics.OK, start)
	assert.Nil(t, (*metrics.Commands)(nil).Op("role.create"))

	// A transport the checks were not made for records nothing.
	follower := metrics.NewChecks(metrics.Follower)
	follower.Check(metrics.HTTP, metrics.Allowed, start)
	follower.Check(metrics.Follower, metrics.Denied, start)
	n, err := testutil.GatherAndCount(registryOf(t, follower), "grantlog_check_duration_seconds")
	require.NoError(t, err)
	assert.Equal(t, 3, n, "three follower series, no http one")
}

func TestCommandOp(t *testing.T) {
	m := metrics.New()
	op := m.Commands.Op("role.create")
	op.Observe(metrics.OK, time.Now())
	op.Observe(metrics.Conflict, time.Now())
	op.Observe(metrics.Conflict, time.Now())
	assert.InDelta(t, 2.0, testutil.ToFloat64(counterOf(t, m, "role.create", "conflict")), 0)
	assert.InDelta(t, 1.0, testutil.ToFloat64(counterOf(t, m, "role.create", "ok")), 0)
}
