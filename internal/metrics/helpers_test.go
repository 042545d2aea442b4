package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/metrics"
)

func registryOf(t *testing.T, c prometheus.Collector) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(c))
	return reg
}

// counterOf is grantlog_commands_total{operation, outcome} of m.
func counterOf(t *testing.T, m *metrics.Metrics, op, outcome string) prometheus.Collector {
	t.Helper()
	fams, err := m.Registry.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != "grantlog_commands_total" {
			continue
		}
		for _, mm := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range mm.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["operation"] == op && l["outcome"] == outcome {
				c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
				c.Add(mm.GetCounter().GetValue())
				return c
			}
		}
	}
	require.FailNow(t, "no series", "%s %s", op, outcome)
	return nil
}
